# SPEC step 1: M_{t-1} reviews every pair of Seed_{t-1} (3 sampled reviews, mean score).
# Iterations after the first reuse the stored scores unless review.rereview_seed is set.


rule review_seed:
    input:
        engine_ready("vllm"),
        seed=get_seed,
        model=get_generator_input,
    output:
        reviewed="results/iter{t}/reviewed_seed.json",
        stats="results/iter{t}/stats/review_seed.json",
    params:
        script=script("review"),
        py=engine_python("vllm"),
        model=get_generator,
        p=lambda wc: as_json(
            {
                **engine_params(config["review"]["max_tokens"]),
                "samples": config["review"]["samples"],
                "response_prefix": config["review"]["response_prefix"],
                "rereview": int(wc.t) == 1 or config["review"]["rereview_seed"],
            }
        ),
    threads: res("vllm", "threads", 8)
    resources:
        mem_mb=res("vllm", "mem_mb", 16000),
        runtime=res("vllm", "runtime", 120),
        gpu=res("vllm", "gpu", 0),
    log:
        "logs/iter{t}/review_seed.log",
    benchmark:
        "results/benchmarks/iter{t}/review_seed.tsv"
    conda:
        engine_conda("vllm")
    shell:
        "{params.py:q} {params.script:q} --stage review_seed --params {params.p:q}"
        " --input {input.seed:q} --model {params.model:q} --out {output.reviewed:q}"
        " --stats {output.stats:q} 2>&1 | tee {log:q}"
