# Algorithm step 8 (OpenCompass): the base model, M_0 and every method's M_t on the benchmark
# suite. results/{run}/eval/summary.json (run: base, iter0, <method>/iter<t>) (one score per benchmark and their mean) is parsed from
# OpenCompass's summary CSV; OpenCompass's own output folder lies beside it.


rule make_benchmarks:
    input:
        seed="results/iter0/seed.json",
        mc=repo_path(config["eval"]["mc_path"]),
    output:
        arith="results/benchmarks/arith.jsonl",
        check="results/benchmarks/contamination.json",
    log:
        "logs/make_benchmarks.log",
    conda:
        MAIN.conda
    params:
        code=code("make_benchmarks"),
        settings=as_json(config["eval"]["arith"]),
        job=job_spec(),
    shell:
        MAIN.shell("make_benchmarks")


localrules:
    stage_benchmarks,


rule stage_benchmarks:
    """The benchmark files of eval.data, checked (fields, counts) and laid out for OpenCompass:
    results/benchmark_data/data/..., with lance_staging.json saying what was staged and which
    files are slices of the upstream sets."""
    input:
        lambda wc: staging_inputs(),
    output:
        report=layout.BENCHMARK_DATA,
    log:
        "logs/stage_benchmarks.log",
    conda:
        MAIN.conda
    params:
        code=code("stage_benchmarks"),
        settings=as_json(
            {"benchmarks": config["eval"]["benchmarks"], "source": config["eval"]["data"]}
        ),
        job=job_spec(source=lambda wc: repo_path(config["eval"]["data"])),
    shell:
        MAIN.shell("stage_benchmarks")


rule evaluate:
    input:
        OPENCOMPASS.ready,
        unpack(lambda wc: embedded_benchmarks()),
        unpack(lambda wc: {"benchmark_data": BENCHMARK_DATA} if BENCHMARK_DATA else {}),
        model=needs(get_eval_model),
        check="results/benchmarks/contamination.json",
    output:
        summary="results/{run}/eval/summary.json",
    log:
        "logs/{run}/evaluate.log",
    benchmark:
        "results/benchmarks/{run}/evaluate.tsv"
    wildcard_constraints:
        run=pattern(METHODS),
    conda:
        OPENCOMPASS.conda
    threads: OPENCOMPASS.threads
    resources:
        **OPENCOMPASS.resources,
    params:
        code=code("evaluate"),
        settings=as_json(
            {
                "benchmarks": config["eval"]["benchmarks"],
                "eval": config["eval"]["settings"],
                "backend": config["eval"]["backend"],
                "likelihood": config["eval"]["likelihood"],
                "vllm": config["eval"]["vllm"],
                **model_settings(),
            }
        ),
        job=job_spec(model=get_eval_model, work_dir=lambda wc: f"results/{wc.run}/eval/opencompass"),
    shell:
        OPENCOMPASS.shell("evaluate")
