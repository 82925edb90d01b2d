# Algorithm step 1: M_{t-1} reviews every pair of Seed_{t-1} (3 sampled reviews, mean score).
# Iterations after the first reuse the stored scores unless review.rereview_seed is set.


rule review_seed:
    input:
        engine_ready("vllm"),
        records=get_seed,
        model=needs(get_generator),
        system=prompt_file("system"),
        review=prompt_file("review"),
    output:
        reviewed="results/iter{t}/reviewed_seed.json",
        stats="results/iter{t}/stats/review_seed.json",
    log:
        "logs/iter{t}/review_seed.log",
    benchmark:
        "results/benchmarks/iter{t}/review_seed.tsv"
    conda:
        engine_conda("vllm")
    threads: res("vllm", "threads", 8)
    resources:
        **engine_resources("vllm", runtime=120),
    params:
        code=code("review"),
        settings=as_json(
            {"stage": "review_seed", "review": review_settings("review_seed"), **engine_settings()}
        ),
        job=job_spec(model=get_generator),
    shell:
        stage_cmd("vllm", "review")
