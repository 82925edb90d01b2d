# SPEC step 8 (OpenCompass): the base model, M_0 and every M_t on the benchmark suite.
# results/{run}/eval/summary.json (one score per benchmark and their mean) is parsed from
# OpenCompass's summary CSV; OpenCompass's own output folder lies beside it.


rule make_benchmarks:
    input:
        seed="results/iter0/seed.json",
        mc=repo_path(config["eval"]["mc_path"]),
    output:
        arith="results/benchmarks/arith.jsonl",
        check="results/benchmarks/contamination.json",
    params:
        script=script("make_benchmarks"),
        py=MAIN_PY,
        p=as_json(config["eval"]["arith"]),
    log:
        "logs/make_benchmarks.log",
    shell:
        "{params.py:q} {params.script:q} --params {params.p:q} --seed-file {input.seed:q}"
        " --mc {input.mc:q} --arith-out {output.arith:q} --check-out {output.check:q} 2>&1 | tee {log:q}"


def get_eval_model(wildcards):
    return get_base_model() if wildcards.run == "base" else get_model(int(wildcards.run[4:]))


def get_eval_model_input(wildcards):
    return get_base_model_input() if wildcards.run == "base" else get_model_input(int(wildcards.run[4:]))


def eval_benchmarks():
    """The configured benchmarks; the embedded ones point at their files."""
    paths = {"arith": str(Path("results/benchmarks/arith.jsonl").resolve()),
             "lance_mc": repo_path(config["eval"]["mc_path"])}
    return as_json([{"name": b, "path": paths[b]} if b in paths else b for b in config["eval"]["benchmarks"]])


rule evaluate:
    input:
        engine_ready("opencompass"),
        model=get_eval_model_input,
        arith="results/benchmarks/arith.jsonl",
        check="results/benchmarks/contamination.json",
    output:
        summary="results/{run}/eval/summary.json",
    wildcard_constraints:
        run=r"base|iter\d+",
    params:
        script=script("evaluate"),
        py=engine_python("opencompass"),
        model=get_eval_model,
        work="results/{run}/eval/opencompass",
        benchmarks=eval_benchmarks(),
        settings=as_json(config["eval"]["settings"]),
    threads: res("opencompass", "threads", 8)
    resources:
        mem_mb=res("opencompass", "mem_mb", 16000),
        runtime=res("opencompass", "runtime", 120),
        gpu=res("opencompass", "gpu", 0),
    log:
        "logs/{run}/evaluate.log",
    benchmark:
        "results/benchmarks/{run}/evaluate.tsv"
    conda:
        engine_conda("opencompass")
    shell:
        "{params.py:q} {params.script:q} --model {params.model:q} --abbr {wildcards.run}"
        " --benchmarks {params.benchmarks:q} --settings {params.settings:q}"
        " --work-dir {params.work:q} --out {output.summary:q} 2>&1 | tee {log:q}"
