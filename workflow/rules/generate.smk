# Algorithm step 3, per method (GENERATE_MODE): LANCE writes new instructions (+ responses) for
# low-score seeds and negatives for high-score ones (its ablations one branch only);
# Self-Instruct and I-SHEEP write new tasks from K example tasks and answer them; SPIN has
# M_{t-1} answer every seed prompt.


localrules:
    generate_gather,


rule generate:
    input:
        engine_ready("vllm"),
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
        engine_conda("vllm")
    threads: res("vllm", "threads", 8)
    resources:
        **engine_resources("vllm", runtime=120),
    params:
        code=code("generate"),
        settings=per_method(generate_settings),
        job=engine_job(get_generator),
    shell:
        stage_cmd("vllm", "generate")


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
        engine_conda("main")
    params:
        code=code("gather"),
        settings=per_method(
            lambda m: {
                "stage": "generate",
                "mode": GENERATE_MODE[m],
                "split_threshold": config["split_threshold"],
            }
        ),
        job=gather_job("generate"),
    shell:
        stage_cmd("main", "gather")
