# The one-page report: the methods side by side (paper layout, intervals, paired tests vs M_0),
# every iteration's table and plot, data funnel, judge health, training loss,
# wall time per stage. `snakemake --report results/report/report.html` wraps the same files.

# report.judge_gold: a user's gold scores for the judge (lancekit.report.judge_bias), or none
JUDGE_GOLD = [repo_path(g) for g in [config["report"].get("judge_gold")] if g]


rule report:
    input:
        unpack(lambda wc: layout.report_inputs(layout.report_layout(config, repo_path))),
        judge_gold=JUDGE_GOLD,
    output:
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        avg_plot=report("results/report/avg_by_iteration.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
        judge_bias=report("results/report/judge_bias.png", category="Judge health"),
        eval_csv=report("results/report/eval_table.csv", category="Evaluation"),
        funnel_csv=report("results/report/funnel.csv", category="Data funnel"),
    log:
        "logs/report.log",
    conda:
        MAIN.conda
    params:
        code=code("report"),
        settings=as_json(
            {
                "layout": layout.report_layout(config, repo_path),
                "judge_gold": (JUDGE_GOLD or [None])[0],
            }
        ),
        job=job_spec(),
    shell:
        MAIN.shell("report")
