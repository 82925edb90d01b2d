# Algorithm step 5: M_{t-1} re-reviews every kept new pair with the same rubric (LANCE), or
# scores its own new pairs with I-SHEEP's self-assessment prompt.


localrules:
    review_new_gather,


rule review_new:
    input:
        engine_ready("vllm"),
        records="results/{method}/iter{t}/cleaned.json",
        model=needs(get_generator),
        system=prompt_file("system"),
        review=lambda wc: prompt_file(review_prompt(wc.method)),
    output:
        shard="results/{method}/iter{t}/shards/review_new/{shard}-of-{n}.json",
    log:
        "logs/{method}/iter{t}/review_new/{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/review_new.{shard}-of-{n}.tsv"
    wildcard_constraints:
        method=method_constraint("review_new"),
    conda:
        engine_conda("vllm")
    threads: res("vllm", "threads", 8)
    resources:
        **engine_resources("vllm", runtime=120),
    params:
        code=code("review"),
        settings=per_method(
            lambda m: {
                "stage": "review_new",
                "review": review_settings("review_new", m),
                **engine_settings(),
            }
        ),
        job=engine_job(get_generator),
    shell:
        stage_cmd("vllm", "review")


rule review_new_gather:
    input:
        records="results/{method}/iter{t}/cleaned.json",
        shards=shard_files("review_new"),
    output:
        merged="results/{method}/iter{t}/reviewed_new.json",
        stats="results/{method}/iter{t}/stats/review_new.json",
    log:
        "logs/{method}/iter{t}/review_new_gather.log",
    wildcard_constraints:
        method=method_constraint("review_new"),
    conda:
        engine_conda("main")
    params:
        code=code("gather"),
        settings=as_json({"stage": "review_new"}),
        job=gather_job("review_new"),
    shell:
        stage_cmd("main", "gather")
