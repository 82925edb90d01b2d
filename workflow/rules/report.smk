# The one-page report: the methods side by side (paper layout, intervals, paired tests vs M_0),
# every iteration's table and plot, data funnel, judge health, training loss,
# wall time per stage. `snakemake --report results/report/report.html` wraps the same files.


rule report:
    input:
        unpack(report_inputs),
    output:
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        avg_plot=report("results/report/avg_by_iteration.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
    log:
        "logs/report.log",
    conda:
        engine_conda("main")
    params:
        code=code("report"),
        settings=as_json({"layout": report_layout()}),
        job=job_spec(),
    shell:
        stage_cmd("main", "report")
