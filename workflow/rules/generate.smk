# Algorithm step 3: new instructions (+ responses) for low-score seeds, negatives for high-score ones.


rule generate:
    input:
        engine_ready("vllm"),
        reviewed="results/iter{t}/reviewed_seed.json",
        model=needs(get_generator),
        system=prompt_file("system"),
        new_instruction=prompt_file("new_instruction"),
        negative=prompt_file("negative"),
    output:
        raw="results/iter{t}/raw.json",
        stats="results/iter{t}/stats/generate.json",
    log:
        "logs/iter{t}/generate.log",
    benchmark:
        "results/benchmarks/iter{t}/generate.tsv"
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
        job=job_spec(model=get_generator),
    shell:
        stage_cmd("vllm", "generate")
