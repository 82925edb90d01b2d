# The one-page report: evaluation table and plot, data funnel, judge health, training loss,
# wall time per stage. `snakemake --report results/report/report.html` wraps the same files.

REVIEW_STAGES = ("review_seed", "generate", "clean", "review_new", "annotate")


def report_layout():
    """Every file the report reads, by what it is; the rule's inputs are the same files."""
    runs = ["base"] + [f"iter{t}" for t in range(config["iters"] + 1)]
    iters = range(1, config["iters"] + 1)
    train = {f"0/SFT": "results/iter0/sft_model"} if config["train"]["m0"] else {}
    for t in iters:
        train.update({f"{t}/SFT": f"results/iter{t}/sft_model", f"{t}/DPO": f"results/iter{t}/model"})
    return {
        "summaries": {r: f"results/{r}/eval/summary.json" for r in runs},
        "stats": {
            str(t): {st: f"results/iter{t}/stats/{st}.json" for st in REVIEW_STAGES}
            for t in iters
        },
        "train": train,
        "benchmarks": "results/benchmarks",
    }


def report_inputs(wildcards):
    lay = report_layout()
    return {
        "summaries": list(lay["summaries"].values()),
        "stats": [p for by in lay["stats"].values() for p in by.values()],
        "models": list(lay["train"].values()),
    }


rule report:
    input:
        unpack(report_inputs),
    output:
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
    params:
        code=code("report"),
        settings=as_json({"layout": report_layout()}),
        job=job_spec(),
    log:
        "logs/report.log",
    shell:
        stage_cmd("main", "report")
