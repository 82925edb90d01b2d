# Algorithm step 3, as the method does it (lancekit.methods): LANCE writes new instructions
# (+ responses) for low-score seeds and negatives for high-score ones (its ablations one branch
# only); Self-Instruct and I-SHEEP write new tasks from K example tasks and answer them; SPIN
# has M_{t-1} answer every seed prompt.


localrules:
    generate_gather,


rule generate:
    input:
        VLLM.ready,
        unpack(generate_inputs),
        model=needs(get_generator),
        system=prompt_file("system"),
    output:
        shard="results/{method}/iter{t}/shards/generate/{shard}-of-{n}.json",
    log:
        "logs/{method}/iter{t}/generate/{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/{method}/iter{t}/generate.{shard}-of-{n}.tsv"
    wildcard_constraints:
        method=method_constraint("generate"),
    conda:
        VLLM.conda
    threads: VLLM.threads
    resources:
        **VLLM.resources,
    params:
        code=code("generate"),
        settings=per_method(generate_job),
        job=vllm_job(get_generator),
    shell:
        VLLM.shell("generate")


rule generate_gather:
    input:
        records=generate_records,
        shards=shard_files("generate"),
    output:
        merged="results/{method}/iter{t}/raw.json",
        stats="results/{method}/iter{t}/stats/generate.json",
    log:
        "logs/{method}/iter{t}/generate_gather.log",
    wildcard_constraints:
        method=method_constraint("generate"),
    conda:
        MAIN.conda
    params:
        code=code("gather"),
        settings=per_method(lambda m: {"stage": "generate", **m.gather_settings(config)}),
        job=gather_job("generate"),
    shell:
        MAIN.shell("gather")
