# Algorithm step 5: M_{t-1} re-reviews every kept new pair with the same rubric.


rule review_new:
    input:
        engine_ready("vllm"),
        records="results/iter{t}/cleaned.json",
        model=needs(get_generator),
        system=prompt_file("system"),
        review=prompt_file("review"),
    output:
        reviewed="results/iter{t}/reviewed_new.json",
        stats="results/iter{t}/stats/review_new.json",
    log:
        "logs/iter{t}/review_new.log",
    benchmark:
        "results/benchmarks/iter{t}/review_new.tsv"
    conda:
        engine_conda("vllm")
    threads: res("vllm", "threads", 8)
    resources:
        **engine_resources("vllm", runtime=120),
    params:
        code=code("review"),
        settings=as_json(
            {"stage": "review_new", "review": review_settings("review_new"), **engine_settings()}
        ),
        job=job_spec(model=get_generator),
    shell:
        stage_cmd("vllm", "review")
