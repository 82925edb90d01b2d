# The one-page report: evaluation table and plot, data funnel, judge health, training loss,
# wall time per stage. `snakemake --report results/report/report.html` wraps the same files.


def report_inputs():
    runs = ["base"] + [f"iter{t}" for t in range(config["iters"] + 1)]
    files = [f"results/{r}/eval/summary.json" for r in runs]
    files += [f"results/iter{t}/stats/annotate.json" for t in range(1, config["iters"] + 1)]
    files += [get_model(t) for t in range(config["iters"] + 1)]
    return files


rule report:
    input:
        report_inputs(),
    output:
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
    params:
        script=script("report"),
        py=MAIN_PY,
        iters=config["iters"],
    log:
        "logs/report.log",
    shell:
        "{params.py:q} {params.script:q} --iters {params.iters:q} --out results/report 2>&1 | tee {log:q}"
