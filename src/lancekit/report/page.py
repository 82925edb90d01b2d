"""The report page: one function per section, each returning its Markdown, and `write_report`,
which reads the files the rule's layout names, writes every output the rule declares and returns
the page.

The layout (workflow/rules/common.smk, report_layout) names every file the report reads:
``methods``, ``iters`` (per method), ``summaries`` ({run: summary.json}), ``stats`` ({method:
{t: {stage: stats.json}}}), ``train`` ({method or "": {"t/SFT" | "t/DPO": model dir}}),
``replicates`` ({run: {seed: summary.json}}: train.seeds), ``times`` ({run: {stage: [benchmark
.tsv, ...]}}), ``paper``, ``paper_backbone`` and
``headline_iteration`` (report.headline_iteration: the iteration the headline tables show).
Beside the layout, ``judge_gold`` (report.judge_gold): a user's gold scores for the judge.
"""

from __future__ import annotations

import base64
from pathlib import Path

import polars as pl

from ..core.io import write_text_atomic
from ..methods.runs import parse_run
from . import compare, judge_bias, plots, provenance, scores, spread, stages
from . import paper as pp
from .load import load_judge_gold, load_stats, load_summary, load_training, read_times
from .markdown import to_markdown
from .names import bench_name, group, method_name, model_label

JUDGE_NOTE = ("Parse failures: votes with no valid score (0 under the constrained judge). The shipped seed "
              "labels each record good or mediocre; the AUC is the chance that a good record scores above "
              "a mediocre one (0.5: the judge cannot tell them apart), with its 95 % bootstrap interval. "
              "Iterations after the first reuse the stored seed scores.\n")
BIAS_NOTE = ("Measured as judge evaluations report them (lancekit.report.judge_bias). n: records with a score; "
             "length ρ: Spearman's ρ of score with response length in characters (> 0: longer answers score "
             "higher); vote SD mean and vote range max: the spread of a record's valid votes (records with 2 or "
             "more); across threshold: the share of those whose votes fall on both sides of split_threshold; AUC "
             "(seed): the good/mediocre AUC above; gold ρ and mean abs. diff. (report.judge_gold): against the user's "
             "scores for the same ids. –: undefined (under 3 records, constant input, no votes).\n")
# what the report writes: the rule's output names (workflow/rules/report.smk)
OUTPUTS = ("md", "eval_plot", "avg_plot", "funnel", "loss", "judge", "judge_bias", "eval_csv", "funnel_csv",
           "plots_rst")
# the plots of the HTML report's landing page (workflow/report/workflow.rst includes plots_rst)
LANDING_PLOTS = ("avg_plot", "eval_plot", "funnel", "loss", "judge", "judge_bias")


def landing_rst(out: dict[str, str]) -> str:
    """Each plot as an image directive whose URI is the PNG itself (a data URI): the page of
    `snakemake --report` is one self-contained file, and Snakemake's own `embeddedimage`
    directive writes the file's path, not its bytes (snakemake 9)."""
    parts = []
    for key in LANDING_PLOTS:
        data = "data:image/png;base64," + base64.b64encode(Path(out[key]).read_bytes()).decode()
        # in lines of 76: docutils refuses longer ones, and joins a URI's lines back without spaces
        uri = "\n".join("   " + data[i:i + 76] for i in range(0, len(data), 76))
        parts.append(f".. image::\n{uri}\n   :alt: {Path(out[key]).name}\n   :width: 48%\n")
    return "\n".join(parts)


def _md(df: pl.DataFrame, digits: int = 2, empty: str | None = None) -> str:
    return f"_{empty}_\n" if empty and df.is_empty() else to_markdown(df, digits)


def _drop_empty_columns(df: pl.DataFrame, keep=("iter",)) -> pl.DataFrame:
    return df.select([c for c in df.columns if c in keep or df[c].null_count() < df.height]) if df.height else df


class Report:
    """Everything read once: the evaluation frame, the stage statistics, training records, times."""

    def __init__(self, lay: dict, judge_gold: str | None = None):
        self.methods, self.iters = list(lay["methods"]), dict(lay["iters"])
        self.summaries = summaries = {r: s for r, path in lay["summaries"].items() if (s := load_summary(path))}
        # training-seed replicates (train.seeds): {run: {seed: summary}}
        self.replicates = {r: {int(k): s for k, path in by.items() if (s := load_summary(path))}
                           for r, by in (lay.get("replicates") or {}).items()}
        self.ran = scores.benchmarks_ran(summaries)
        self.main_b, self.maths_b = scores.main_benchmarks(self.ran), scores.maths_benchmarks(self.ran)
        self.averages = {"avg": self.main_b, **({"maths_avg": self.maths_b} if self.maths_b else {})}
        self.ev = (scores.evaluation(summaries, averages=self.averages) if summaries
                   else pl.DataFrame(schema=scores.EVAL_SCHEMA))
        self.at = int(lay["headline_iteration"])
        self.rows = scores.headline_rows(self.ev, self.methods, self.iters, at=self.at)
        # LANCE against each other method at the headline iteration: the benchmarks, then each average
        self.vs_columns = [*self.main_b, "avg", *[b for b in self.maths_b if b not in self.main_b],
                           *(["maths_avg"] if self.maths_b else [])]
        self.vs = compare.versus(self.ev, summaries, self.methods, self.iters, at=self.at,
                                 columns=self.vs_columns, averages=self.averages)
        self.not_comparable = provenance.not_comparable(summaries, self.averages)
        self.stats = {m: {int(t): {stage: load_stats(p) or {} for stage, p in by.items()} for t, by in per.items()}
                      for m, per in lay["stats"].items()}
        self.train = {m: {(int(k.split("/")[0]), k.split("/")[1]): Path(d) for k, d in per.items()}
                      for m, per in lay["train"].items()}
        self.infos = {m: {k: i for k, d in per.items() if (i := load_training(d / "lance_train.json"))}
                      for m, per in self.train.items()}
        self.times = read_times(lay["times"])
        self.paper, self.backbone = lay.get("paper"), lay.get("paper_backbone") or "Qwen2-7B"
        self.gold = load_judge_gold(judge_gold)


def title(r: Report) -> str:
    what = ", ".join(f"{method_name(m)} ({r.iters.get(m, 0)} iteration{'s' if r.iters.get(m, 0) != 1 else ''})"
                     for m in r.methods) or "0 iteration(s)"
    return f"# lance report: {what}\n"


def evaluation_section(r: Report) -> list[str]:
    fewer = any(1 <= r.iters.get(m, 0) < r.at for m in r.methods)
    md = [f"## Evaluation: each method at iteration {r.at}{' (or its last)' if fewer else ''}\n"]
    if r.ev.is_empty():
        return md + ["_no evaluation yet_\n"]
    avg_words = (f"Avg = unweighted mean of the {len(r.main_b)} benchmarks "
                 f"({', '.join(bench_name(b) for b in r.main_b)}). ")
    md += [to_markdown(scores.score_table(r.ev, r.rows, r.main_b)),
           avg_words + scores.headline_note(r.methods, r.iters, r.at) + scores.SIG_LEGEND + "\n",
           "95 % intervals (bootstrap over items; the change vs M_0 paired on the same items):\n",
           to_markdown(scores.interval_table(r.ev, r.rows, r.main_b)),
           scores.intervals_paragraph(r.ev, r.ran),
           *seed_section(r), *versus_section(r), *best_of_section(r),
           "### In words\n",
           "\n".join(f"- {s}" for s in scores.sentences(r.ev, r.methods, r.iters, n_benches=len(r.main_b)))
           or "_no iteration evaluated yet_", "",
           "### Every iteration\n"]
    md += [to_markdown(scores.iteration_table(r.ev, m, r.iters.get(m, 0), r.main_b)) for m in r.methods]
    return md + ["![Avg by iteration](avg_by_iteration.png)\n", "![benchmarks](eval.png)\n"]


def seed_section(r: Report) -> list[str]:
    """The training-seed spread of the headline models (train.seeds), when replicates were scored."""
    table = spread.spread_table(r.summaries, r.replicates, r.rows, [*r.main_b, "avg"], r.averages)
    if table.is_empty():
        return []
    return ["### Training-seed spread\n",
            "Each model trained again from the same start model on the same data with another training seed "
            "(`train.seeds`; main: the model above). Mean, SD (n − 1) and range over all of them, main included. "
            "The intervals above hold the model fixed and resample the items: they do not cover this spread.\n",
            to_markdown(table)]


def versus_section(r: Report) -> list[str]:
    if r.vs.is_empty():
        return []
    ref = model_label(compare.REFERENCE, scores.headline_iteration(r.iters.get(compare.REFERENCE, 0), r.at))
    return [f"### {ref} against each method\n",
            "The paper's claim is LANCE above each baseline; here it is tested on the same items. "
            + compare.versus_legend(r.vs, ref),
            to_markdown(compare.versus_table(r.vs, r.iters, r.at))]


def best_of_section(r: Report) -> list[str]:
    best = compare.best_of(r.ev, r.methods, r.iters)
    if best.is_empty() or (best["searched"] <= 1).all():
        return []
    return ["### Best of iterations (picked on the test items)\n",
            "Each method at the iteration with the highest Avg. The pick uses the same test items that score it, "
            "so its Δ is biased upward; its p is Holm-adjusted over the iterations searched (†: adjusted "
            "p < 0.05). The headline table above does not pick.\n",
            to_markdown(compare.best_of_table(best))]


def maths_section(r: Report) -> list[str]:
    if r.ev.is_empty() or not r.maths_b:
        return []
    return ["## Maths\n",
            f"Maths Avg = mean of {', '.join(bench_name(b) for b in r.maths_b)} (the paper: GSM8K, MATH, "
            "MGSM, OlympiadBench, Minerva). Same models as the table above.\n",
            to_markdown(scores.score_table(r.ev, r.rows, r.maths_b, avg="maths_avg")),
            to_markdown(scores.interval_table(r.ev, r.rows, r.maths_b, avg="maths_avg"))]


def paper_section(r: Report) -> list[str]:
    if r.ev.is_empty() or not r.paper:
        return []
    paper = pp.load_paper(r.paper)
    long = pp.paper_vs_ours(r.ev, paper, r.backbone, r.rows, r.averages)
    md = [f"## Ours vs the paper ({r.backbone}, LANCE arXiv 2412.15151)\n"]
    if long.is_empty():
        return md + ["_this run shares no benchmark with the paper's tables_\n"]
    md += [f"gap = ours − paper, in points; ours: each method at iteration {r.at} (its last when it ran fewer), "
           "the paper's: each method at its best iteration. "
           "A column marked not comparable measures something else than the paper's (see 'How each score "
           "was measured').\n",
           to_markdown(pp.paper_vs_ours_table(long, not_comparable=r.not_comparable))]
    if r.averages["avg"] == group("leaderboard") and "lance" in r.methods:
        md += ["LANCE's Avg per iteration against the paper's figure (~: read off the figure):\n",
               to_markdown(pp.paper_iterations(r.ev, paper, r.backbone, r.iters["lance"]))]
    return md


def measured_section(r: Report) -> list[str]:
    table = provenance.measured_table(r.summaries)
    if table.is_empty():
        return []
    versions = provenance.versions_line(r.summaries)
    return ["## How each score was measured\n", to_markdown(table),
            (f"Scored with {versions}.\n" if versions else "")]


def shared_section(r: Report) -> list[str]:
    return ["## Shared: base and M_0\n", "### Training\n",
            _md(stages.training_table(r.infos.get("", {})), 3, "no M_0 training record"),
            "### Wall time per stage (s)\n",
            _md(stages.time_table({k: v for k, v in r.times.items() if k in ("base", "iter0")}), 1, "no timings")]


def method_section(r: Report, m: str) -> list[str]:
    s = r.stats.get(m, {})
    md = [f"## {method_name(m)}\n", "### Data funnel\n",
          _md(_drop_empty_columns(stages.funnel_table(s)), empty="no stage statistics")]
    drops = stages.drop_table(s)
    if not drops.is_empty():
        md += ["#### Clean: drop reasons\n", to_markdown(drops)]
    jt = stages.judge_table(s)
    bias = judge_bias.bias_table(s, r.gold)
    return md + ["### Judge health\n", (JUDGE_NOTE + "\n" + to_markdown(jt, 3)) if not jt.is_empty()
                 else "_no review stage in this method_\n",
                 *(["#### Judge bias across iterations\n", BIAS_NOTE, to_markdown(bias, 3)] if bias.height else []),
                 "### Training\n", _md(stages.training_table(r.infos.get(m, {})), 3, "no training record yet"),
                 "### Wall time per stage (s)\n",
                 _md(stages.time_table({k: v for k, v in r.times.items() if parse_run(k)[0] == m}), 1, "no timings")]


def funnel_csv(r: Report) -> pl.DataFrame | None:
    funnels = [stages.funnel_table(r.stats.get(m, {})).select(pl.lit(m).alias("method"), pl.all())
               for m in r.methods]
    return pl.concat(funnels, how="diagonal_relaxed") if funnels else None


def cost_section(r: Report, cost: dict | None) -> list[str]:
    """The cost model (./lance plan) against the measured job times, per stage."""
    if not cost:
        return []
    table = stages.cost_table(r.times, cost.get("predicted") or {})
    return ["## Cost: predicted beside measured\n",
            f"Job seconds per stage, summed over the runs both know: predicted by the cost model on "
            f"`{cost.get('device')}` (`./lance plan`, config/cost/throughput.yaml), measured by "
            "Snakemake's benchmark files (a stage's shards summed).\n",
            _md(table, 2, "no stage has both a prediction and a measured time yet")]


def write_report(lay: dict, out: dict[str, str], judge_gold: str | None = None, cost: dict | None = None) -> str:
    """Write every output (``out``: the rule's output name -> path, `OUTPUTS`); return the page.
    ``judge_gold``: the file of report.judge_gold, or None; ``cost``: {"device", "predicted":
    {run: {stage: seconds}}} (lancekit.pipeline.plan.job_seconds), or None."""
    missing = set(OUTPUTS) - set(out)
    if missing:
        raise ValueError(f"the report rule must declare the outputs {sorted(missing)}")
    for path in out.values():
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    r = Report(lay, judge_gold)
    md = [title(r), *evaluation_section(r), *maths_section(r), *paper_section(r), *measured_section(r),
          *cost_section(r, cost), *shared_section(r)]
    for m in r.methods:
        md += method_section(r, m)
    md += ["![funnel](funnel.png)\n", "![judge](judge.png)\n", "![judge bias](judge_bias.png)\n",
           "![loss](loss.png)\n"]
    # the tidy tables (written empty with their header when there is nothing yet: declared outputs)
    scores.tidy_eval(r.ev).write_csv(out["eval_csv"])
    (funnel_csv(r) if r.methods else pl.DataFrame(schema={"method": pl.Utf8})).write_csv(out["funnel_csv"])
    plots.plot_avg(r.ev, r.methods, r.iters, Path(out["avg_plot"]))
    plots.plot_benchmarks(r.ev, r.methods, r.iters, r.main_b + [b for b in r.maths_b if b not in r.main_b],
                          Path(out["eval_plot"]))
    plots.plot_funnel(r.stats, r.methods, Path(out["funnel"]))
    plots.plot_loss(r.train, r.methods, Path(out["loss"]))
    plots.plot_judge(r.stats, r.methods, Path(out["judge"]))
    plots.plot_judge_bias({m: judge_bias.bias_table(r.stats.get(m, {}), r.gold) for m in r.methods},
                          Path(out["judge_bias"]))
    text = "\n".join(md)
    write_text_atomic(out["plots_rst"], landing_rst(out))
    write_text_atomic(out["md"], text)
    return text
