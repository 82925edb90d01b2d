# The one-page report: the methods side by side (paper layout, intervals, paired tests vs M_0),
# every iteration's table and plot, data funnel, judge health, training loss, wall time per
# stage with the cost model's prediction beside it. `snakemake --report results/report/report.html`
# wraps the same files.

from lancekit.pipeline import plan as cost_plan
from lancekit.report import tracking

# report.judge_gold: a user's gold scores for the judge (lancekit.report.judge_bias), or none
JUDGE_GOLD = [repo_path(g) for g in [config["report"].get("judge_gold")] if g]

# tracking (lancekit.report.tracking): each iteration's statistics and sample generations logged
# to results/tracking/report/; with tracking: none the rule has no input, output or setting of it
TRACKING = config.get("tracking", "none")
TRACKING_ON = TRACKING != "none"


# the reviewed new items the tracker's samples tables are drawn from ({} without tracking)
TRACKING_SAMPLES = (
    tracking.sample_files(layout.report_layout(config, repo_path)) if TRACKING_ON else {}
)
TRACKING_SETTINGS = {"tracking": TRACKING, "samples": TRACKING_SAMPLES} if TRACKING_ON else {}

# the cost model's job times for this config (./lance plan), put beside the measured ones
COST_DEVICE = cost_plan.report_device(config)
COST = {
    "device": COST_DEVICE,
    "predicted": cost_plan.job_seconds(cost_plan.plan(config, COST_DEVICE)),
}


rule report:
    input:
        unpack(lambda wc: layout.report_inputs(layout.report_layout(config, repo_path))),
        judge_gold=JUDGE_GOLD,
        samples=[p for by in TRACKING_SAMPLES.values() for p in by.values()],
    output:
        **({"tracking": directory("results/tracking/report")} if TRACKING_ON else {}),
        md=report("results/report/report.md", category="Report"),
        eval_plot=report("results/report/eval.png", category="Evaluation"),
        avg_plot=report("results/report/avg_by_iteration.png", category="Evaluation"),
        funnel=report("results/report/funnel.png", category="Data funnel"),
        loss=report("results/report/loss.png", category="Training"),
        judge=report("results/report/judge.png", category="Judge health"),
        judge_bias=report("results/report/judge_bias.png", category="Judge health"),
        eval_csv=report("results/report/eval_table.csv", category="Evaluation"),
        funnel_csv=report("results/report/funnel.csv", category="Data funnel"),
        # every plot as an image of the HTML report's landing page (workflow/report/workflow.rst)
        plots_rst="results/report/plots.rst",
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
                "cost": COST,
                **TRACKING_SETTINGS,
            }
        ),
        job=job_spec(),
    shell:
        MAIN.shell("report")
