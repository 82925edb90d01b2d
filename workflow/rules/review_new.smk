# Algorithm step 5: M_{t-1} re-reviews every kept new pair with the same rubric (LANCE), or
# scores its own new pairs with I-SHEEP's self-assessment prompt.


localrules:
    review_new_gather,


rule review_new:
    input:
        VLLM.ready,
        records="results/{method}/iter{t}/cleaned.json",
        model=needs(get_generator),
        system=prompt_file("system"),
        review=lambda wc: prompt_file(METHODS[wc.method].review_prompt),
    output:
        shard="results/{method}/iter{t}/shards/review_new/{shard}-of-{n}.json",
    log:
        "logs/{method}/iter{t}/review_new/{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/review_new.{shard}-of-{n}.tsv"
    wildcard_constraints:
        method=method_constraint("review_new"),
    conda:
        VLLM.conda
    threads: VLLM.threads
    resources:
        **VLLM.resources,
    params:
        code=code("review"),
        settings=per_method(lambda m: review_job(m, "review_new")),
        job=vllm_job(get_generator),
    shell:
        VLLM.shell("review")


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
        MAIN.conda
    params:
        code=code("gather"),
        settings=as_json({"stage": "review_new"}),
        job=gather_job("review_new"),
    shell:
        MAIN.shell("gather")
