# SPEC step 5: M_{t-1} re-reviews every kept new pair with the same rubric.


rule review_new:
    input:
        engine_ready("vllm"),
        cleaned="results/iter{t}/cleaned.json",
        model=get_generator_input,
    output:
        reviewed="results/iter{t}/reviewed_new.json",
        stats="results/iter{t}/stats/review_new.json",
    params:
        script=script("review"),
        py=engine_python("vllm"),
        model=get_generator,
        p=as_json({**engine_params(config["review"]["max_tokens"]), "samples": config["review"]["samples"],
             "response_prefix": config["review"]["response_prefix"]}),
    threads: res("vllm", "threads", 8)
    resources:
        mem_mb=res("vllm", "mem_mb", 16000),
        runtime=res("vllm", "runtime", 120),
        gpu=res("vllm", "gpu", 0),
    log:
        "logs/iter{t}/review_new.log",
    benchmark:
        "results/benchmarks/iter{t}/review_new.tsv"
    conda:
        engine_conda("vllm")
    shell:
        "{params.py:q} {params.script:q} --stage review_new --params {params.p:q}"
        " --input {input.cleaned:q} --model {params.model:q} --out {output.reviewed:q}"
        " --stats {output.stats:q} 2>&1 | tee {log:q}"
