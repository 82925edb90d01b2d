# Algorithm step 3: new instructions (+ responses) for low-score seeds, negatives for high-score ones.


localrules:
    generate_gather,


rule generate:
    input:
        engine_ready("vllm"),
        reviewed="results/iter{t}/reviewed_seed.json",
        model=needs(get_generator),
        system=prompt_file("system"),
        new_instruction=prompt_file("new_instruction"),
        negative=prompt_file("negative"),
    output:
        shard="results/iter{t}/shards/generate/{shard}-of-{n}.json",
    log:
        "logs/iter{t}/generate/{shard}-of-{n}.log",
    benchmark:
        "results/benchmarks/iter{t}/generate.{shard}-of-{n}.tsv"
    conda:
        engine_conda("vllm")
    threads: res("vllm", "threads", 8)
    resources:
        **engine_resources("vllm", runtime=120),
    params:
        code=code("generate"),
        settings=as_json(
            {
                "split_threshold": config["split_threshold"],
                "max_tokens": config["sampling"]["max_tokens"],
                "generate": config["generate"],
                **engine_settings(),
            }
        ),
        job=engine_job(get_generator),
    shell:
        stage_cmd("vllm", "generate")


rule generate_gather:
    input:
        records="results/iter{t}/reviewed_seed.json",
        shards=shard_files("generate"),
    output:
        merged="results/iter{t}/raw.json",
        stats="results/iter{t}/stats/generate.json",
    log:
        "logs/iter{t}/generate_gather.log",
    conda:
        engine_conda("main")
    params:
        code=code("gather"),
        settings=as_json({"stage": "generate", "split_threshold": config["split_threshold"]}),
        job=gather_job("generate"),
    shell:
        stage_cmd("main", "gather")
