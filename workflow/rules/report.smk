# The one-page report: the methods side by side (paper layout, intervals, paired tests vs M_0),
# every iteration's table and plot, data funnel, judge health, training loss,
# wall time per stage. `snakemake --report results/report/report.html` wraps the same files.


rule report:
    input:
        unpack(lambda wc: layout.report_inputs(layout.report_layout(config, repo_path))),
    output:
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        avg_plot=report("results/report/avg_by_iteration.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
        eval_csv=report("results/report/eval_table.csv", category="Evaluation"),
        funnel_csv=report("results/report/funnel.csv", category="Data funnel"),
    log:
        "logs/report.log",
    conda:
        MAIN.conda
    params:
        code=code("report"),
        settings=as_json({"layout": layout.report_layout(config, repo_path)}),
        job=job_spec(),
    shell:
        MAIN.shell("report")
