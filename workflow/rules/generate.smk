# SPEC step 3: new instructions (+ responses) for low-score seeds, negatives for high-score ones.


rule generate:
    input:
        engine_ready("vllm"),
        reviewed="results/iter{t}/reviewed_seed.json",
        model=get_generator_input,
    output:
        raw="results/iter{t}/raw.json",
        stats="results/iter{t}/stats/generate.json",
    params:
        script=script("generate"),
        py=engine_python("vllm"),
        model=get_generator,
        p=as_json({**engine_params(config["sampling"]["max_tokens"]), "generate": config["generate"]}),
    threads: res("vllm", "threads", 8)
    resources:
        mem_mb=res("vllm", "mem_mb", 16000),
        runtime=res("vllm", "runtime", 120),
        gpu=res("vllm", "gpu", 0),
    log:
        "logs/iter{t}/generate.log",
    benchmark:
        "results/benchmarks/iter{t}/generate.tsv"
    conda:
        engine_conda("vllm")
    shell:
        "{params.py:q} {params.script:q} --params {params.p:q} --input {input.reviewed:q}"
        " --model {params.model:q} --iteration {wildcards.t} --out {output.raw:q}"
        " --stats {output.stats:q} 2>&1 | tee {log:q}"
