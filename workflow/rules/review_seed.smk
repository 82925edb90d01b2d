# Algorithm step 1 (LANCE and its ablations): M_{t-1} reviews every pair of Seed_{t-1} (3 sampled
# reviews, mean score). Iterations after the first reuse the stored scores unless
# review.rereview_seed is set.


localrules:
    review_seed_gather,


rule review_seed:
    input:
        VLLM.ready,
        records=get_seed,
        model=needs(get_generator),
        system=prompt_file("system"),
        review=prompt_file("review"),
    output:
        shard="results/{method}/iter{t}/shards/review_seed/{shard}-of-{n}.json",
    log:
        "logs/{method}/iter{t}/review_seed/{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/review_seed.{shard}-of-{n}.tsv"
    wildcard_constraints:
        method=method_constraint("review_seed"),
    conda:
        VLLM.conda
    threads: VLLM.threads
    resources:
        **VLLM.resources,
    params:
        code=code("review"),
        settings=per_method(lambda m: review_job(m, "review_seed")),
        job=vllm_job(get_generator),
    shell:
        VLLM.shell("review")


rule review_seed_gather:
    input:
        records=get_seed,
        shards=shard_files("review_seed"),
    output:
        merged="results/{method}/iter{t}/reviewed_seed.json",
        stats="results/{method}/iter{t}/stats/review_seed.json",
    log:
        "logs/{method}/iter{t}/review_seed_gather.log",
    wildcard_constraints:
        method=method_constraint("review_seed"),
    conda:
        MAIN.conda
    params:
        code=code("gather"),
        settings=as_json({"stage": "review_seed"}),
        job=gather_job("review_seed"),
    shell:
        MAIN.shell("gather")
