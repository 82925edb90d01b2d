"""report: one page a researcher reads in a minute: the methods compared in the paper's layout
(scores with 95 % intervals, significance against M_0), every iteration, the same in words, the
paper's numbers beside ours, then per method the data funnel, judge health, training loss and
wall time per stage (results/report/)."""

import csv
import json
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from _cli import load_job  # noqa: E402
from lancekit import report as rp  # noqa: E402
from lancekit.io import read_jsonl_lenient, write_text_atomic  # noqa: E402

JUDGE_NOTE = ("Parse failures: votes with no valid score (0 under the constrained judge). The shipped seed "
              "labels each record good or mediocre; the AUC is the chance that a good record scores above "
              "a mediocre one (0.5: the judge cannot tell them apart), with its 95 % bootstrap interval. "
              "Iterations after the first reuse the stored seed scores.\n")
# The files this script writes into the report folder (the rule declares the PNGs and report.md).
FILES = {"md": "report.md", "eval_plot": "eval.png", "avg_plot": "avg_by_iteration.png", "funnel": "funnel.png",
         "loss": "loss.png", "judge": "judge.png", "eval_csv": "eval_table.csv", "funnel_csv": "funnel.csv"}


def load(path) -> dict | None:
    p = Path(path)
    return json.loads(p.read_text()) if p.is_file() else None


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    return [(r["current_steps"], r["loss"]) for r in read_jsonl_lenient(model_dir / "trainer_log.jsonl")
            if "loss" in r and "current_steps" in r]


@contextmanager
def panels(path: Path, titles: list[str], suptitle: str, xlabel: str, ylabel: str, *, one_legend: bool = False):
    """A grid of small plots, one per title (at least one); the caller draws on the axes.
    ``one_legend``: the panels share their lines (one per method): one legend, under the grid."""
    titles = titles or [""]
    ncols = min(3, len(titles))
    nrows = -(-len(titles) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.4 * nrows), squeeze=False)
    flat = list(axes.flat)
    yield flat[:len(titles)]
    for ax, title in zip(flat, titles):
        ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
        if (ax.lines or ax.containers) and not one_legend:
            ax.legend(fontsize=7)
    for ax in flat[len(titles):]:
        ax.axis("off")
    fig.suptitle(suptitle)
    fig.tight_layout()
    if one_legend:
        labels = {}
        for ax in flat:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                labels.setdefault(lab, h)
        if labels:
            fig.subplots_adjust(bottom=0.2 / nrows + 0.04)
            fig.legend(list(labels.values()), list(labels), loc="lower center", ncol=min(7, len(labels)), fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)


# ----------------------------------------------------------------------------- the layout


def normalise_layout(lay: dict) -> dict:
    """The layout the rule passes (report_layout in workflow/rules/common.smk: methods, iters,
    summaries by run, stats by method and iteration, train by method, benchmarks, shards, paper,
    paper_backbone); a layout from before methods (summaries iter<t>, stats {t: ...},
    train {"t/SFT": dir}) reads as LANCE."""
    lay = dict(lay)
    stats, train = lay.get("stats") or {}, lay.get("train") or {}
    if stats and all(k.isdigit() for k in stats):
        stats = {"lance": stats}
    if train and all(isinstance(v, str) for v in train.values()):
        train = {"": {k: v for k, v in train.items() if k.startswith("0/")},
                 "lance": {k: v for k, v in train.items() if not k.startswith("0/")}}
    # summaries by canonical run (base | iter0 | <method>/iter<t>); the benchmark folders keep their names
    lay["bench_dirs"] = {rp.run_key(*rp.parse_run(r)): r for r in lay.get("summaries", {})}
    lay["summaries"] = {rp.run_key(*rp.parse_run(r)): p for r, p in lay.get("summaries", {}).items()}
    runs = [rp.parse_run(r) for r in lay["summaries"]]
    methods = lay.get("methods") or list(dict.fromkeys(m for m, t in runs if m not in ("base", "m0")))
    iters = dict(lay.get("iters") or {})
    for m in methods:
        iters.setdefault(m, max([t for mm, t in runs if mm == m] + [0]))
    lay.update(stats=stats, train=train, methods=methods, iters=iters)
    return lay


def read_times(lay: dict) -> dict[str, dict[str, float]]:
    """{run: {stage: seconds}} from results/benchmarks/<run>/<stage>[.<i>-of-<n>].tsv (shards summed)."""
    bench = {}
    for r, folder in lay["bench_dirs"].items():
        for tsv in sorted((Path(lay["benchmarks"]) / folder).glob("*.tsv")):
            stage, _, shard = tsv.stem.partition(".")  # generate.0-of-2: one shard of generate
            if shard and not shard.endswith(f"-of-{lay.get('shards', 1)}"):
                continue  # a shard file of an earlier run with another number of shards
            with open(tsv) as f:
                row = next(csv.DictReader(f, delimiter="\t"), None)
            if row is None:
                continue
            by = bench.setdefault(r, {})
            by[stage] = round(by.get(stage, 0.0) + float(row["s"]), 1)  # summed over shards
    return bench


# ----------------------------------------------------------------------------- plots


def plot_avg(ev: pl.DataFrame, lay: dict, path: Path, avg: str = "avg") -> None:
    """Avg with its 95 % interval per iteration, one line per method from M_0; Self-Instruct (one
    round) drawn flat over every iteration, as in the paper; M_0 dashed with its interval shaded."""
    methods, iters = lay["methods"], lay["iters"]
    tmax = max([iters.get(m, 0) for m in methods] + [1])
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    m0 = rp.cell(ev, "iter0", avg)
    if m0:
        ax.axhline(m0["score"], ls="--", color="grey", lw=1, label="SFT (M_0)")
        if m0["low"] is not None:
            ax.axhspan(m0["low"], m0["high"], color="grey", alpha=0.12, label="M_0 95 % interval")
    for k, m in enumerate(methods):
        pts = [(t, c) for t in range(0, iters.get(m, 0) + 1) if (c := rp.cell(ev, rp.run_key(m, t), avg))]
        if len(pts) < 2:
            continue
        dodge = (k - (len(methods) - 1) / 2) * 0.04  # so that the bars of the methods don't overlap
        xs = [t + (dodge if t else 0) for t, _ in pts]
        ys = [c["score"] for _, c in pts]
        err = [[0 if not t or c["low"] is None else c["score"] - c["low"] for t, c in pts],
               [0 if not t or c["high"] is None else c["high"] - c["score"] for t, c in pts]]
        bars = ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=rp.method_name(m))
        if m == "self_instruct" and iters.get(m, 0) < tmax:
            ax.plot([xs[-1], tmax + dodge], [ys[-1], ys[-1]], color=bars[0].get_color(), lw=1.5)
    if ev.is_empty():
        _empty(ax, "no evaluation yet")
    ax.set_xticks(range(0, tmax + 1), [f"M_{t}" for t in range(0, tmax + 1)])
    ax.set(title=f"{rp.bench_name(avg)} by iteration, 95 % intervals (M_0 shared by every method)",
           xlabel="iteration", ylabel="score")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_benchmarks(ev: pl.DataFrame, lay: dict, benches: list[str], path: Path) -> None:
    """One panel per benchmark: its score per iteration, one line per method from M_0; base dotted."""
    methods, iters = lay["methods"], lay["iters"]
    with panels(path, [rp.bench_name(b) for b in benches] or ["no evaluation yet"], "Benchmarks by iteration",
                "iteration", "score", one_legend=True) as axes:
        for ax, b in zip(axes, benches):
            base = rp.cell(ev, "base", b)
            if base:
                ax.axhline(base["score"], ls=":", color="black", lw=1, label="base")
            for m in methods:
                pts = [(t, c["score"]) for t in range(0, iters.get(m, 0) + 1)
                       if (c := rp.cell(ev, rp.run_key(m, t), b))]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=rp.method_name(m))
            ax.set_xticks(range(0, max([iters.get(m, 0) for m in methods] + [1]) + 1))


# ----------------------------------------------------------------------------- the page


def _md(df: pl.DataFrame, digits: int = 2, empty: str | None = None) -> str:
    return f"_{empty}_\n" if empty and df.is_empty() else rp.to_markdown(df, digits)


def _drop_empty_columns(df: pl.DataFrame, keep=("iter",)) -> pl.DataFrame:
    return df.select([c for c in df.columns if c in keep or df[c].null_count() < df.height]) if df.height else df


def build_report(lay: dict, out: Path) -> str:
    """Write every report file into ``out``; return the Markdown page."""
    lay = normalise_layout(lay)
    out.mkdir(parents=True, exist_ok=True)
    methods, iters = lay["methods"], lay["iters"]
    summaries = {r: s for r, path in lay["summaries"].items() if (s := load(path))}
    ran = rp.benchmarks_ran(summaries)
    main_b, maths_b = rp.main_benchmarks(ran), rp.maths_benchmarks(ran)
    averages = {"avg": main_b, **({"maths_avg": maths_b} if maths_b else {})}
    ev = rp.evaluation(summaries, averages=averages) if summaries else pl.DataFrame(schema=rp.EVAL_SCHEMA)
    rows = rp.headline_rows(ev, methods, iters)
    title = ", ".join(f"{rp.method_name(m)} ({iters.get(m, 0)} iteration{'s' if iters.get(m, 0) != 1 else ''})"
                      for m in methods) or "0 iteration(s)"
    md = [f"# lance report: {title}\n"]

    md += ["## Evaluation: each method at its best iteration\n"]
    if ev.is_empty():
        md.append("_no evaluation yet_\n")
    else:
        avg_words = (f"Avg = unweighted mean of the {len(main_b)} benchmarks "
                     f"({', '.join(rp.bench_name(b) for b in main_b)}). ")
        md += [rp.to_markdown(rp.score_table(ev, rows, main_b)),
               avg_words + "Best iteration = highest Avg. " + rp.SIG_LEGEND + "\n",
               "95 % intervals (bootstrap over items; the change vs M_0 paired on the same items):\n",
               rp.to_markdown(rp.interval_table(ev, rows, main_b)),
               rp.intervals_paragraph(ev, ran),
               "### In words\n",
               "\n".join(f"- {s}" for s in rp.sentences(ev, methods, iters, n_benches=len(main_b)))
               or "_no iteration evaluated yet_", "",
               "### Every iteration\n"]
        for m in methods:
            md += [rp.to_markdown(rp.iteration_table(ev, m, iters.get(m, 0), main_b))]
        md += ["![Avg by iteration](avg_by_iteration.png)\n", "![benchmarks](eval.png)\n"]
        if maths_b:
            md += ["## Maths\n",
                   f"Maths Avg = mean of {', '.join(rp.bench_name(b) for b in maths_b)} (the paper: GSM8K, MATH, "
                   "MGSM, OlympiadBench, Minerva). Same models as the table above.\n",
                   rp.to_markdown(rp.score_table(ev, rows, maths_b, avg="maths_avg")),
                   rp.to_markdown(rp.interval_table(ev, rows, maths_b, avg="maths_avg"))]
        if lay.get("paper"):
            paper = rp.load_paper(lay["paper"])
            backbone = lay.get("paper_backbone") or "Qwen2-7B"
            long = rp.paper_vs_ours(ev, paper, backbone, rows, averages)
            md += [f"## Ours vs the paper ({backbone}, LANCE arXiv 2412.15151)\n"]
            if long.is_empty():
                md.append("_this run shares no benchmark with the paper's tables_\n")
            else:
                md += ["gap = ours − paper, in points; the paper's rows are each method at its best iteration.\n",
                       rp.to_markdown(rp.paper_vs_ours_table(long))]
                if averages["avg"] == rp.group("leaderboard") and "lance" in methods:
                    md += ["LANCE's Avg per iteration against the paper's figure (~: read off the figure):\n",
                           rp.to_markdown(rp.paper_iterations(ev, paper, backbone, iters["lance"]))]
        ev_csv = rp.tidy_eval(ev)
        ev_csv.write_csv(out / FILES["eval_csv"])
    plot_avg(ev, lay, out / FILES["avg_plot"])
    plot_benchmarks(ev, lay, main_b + [b for b in maths_b if b not in main_b], out / FILES["eval_plot"])

    # per method: funnel, judge, training, time
    stats = {m: {int(t): {stage: load(p) or {} for stage, p in by.items()} for t, by in per.items()}
             for m, per in lay["stats"].items()}
    train = {m: {(int(k.split("/")[0]), k.split("/")[1]): Path(d) for k, d in per.items()}
             for m, per in lay["train"].items()}
    infos = {m: {k: i for k, d in per.items() if (i := load(d / "lance_train.json"))} for m, per in train.items()}
    times = read_times(lay)
    funnels = []

    md += ["## Shared: base and M_0\n", "### Training\n",
           _md(rp.training_table(infos.get("", {})), 3, "no M_0 training record"),
           "### Wall time per stage (s)\n",
           _md(rp.time_table({r: v for r, v in times.items() if r in ("base", "iter0")}), 1, "no timings")]
    for m in methods:
        s = stats.get(m, {})
        fun = rp.funnel_table(s)
        funnels.append(fun.select(pl.lit(m).alias("method"), pl.all()))
        md += [f"## {rp.method_name(m)}\n", "### Data funnel\n",
               _md(_drop_empty_columns(fun), empty="no stage statistics")]
        drops = rp.drop_table(s)
        if not drops.is_empty():
            md += ["#### Clean: drop reasons\n", rp.to_markdown(drops)]
        jt = rp.judge_table(s)
        md += ["### Judge health\n", (JUDGE_NOTE + "\n" + rp.to_markdown(jt, 3)) if not jt.is_empty()
               else "_no review stage in this method_\n",
               "### Training\n", _md(rp.training_table(infos.get(m, {})), 3, "no training record yet"),
               "### Wall time per stage (s)\n",
               _md(rp.time_table({r: v for r, v in times.items() if rp.parse_run(r)[0] == m}), 1, "no timings")]
    md += ["![funnel](funnel.png)\n", "![judge](judge.png)\n", "![loss](loss.png)\n"]

    with_funnel = [m for m in methods if stats.get(m)]
    with panels(out / FILES["funnel"], [rp.method_name(m) for m in with_funnel] or ["no iteration yet"],
                "Data funnel", "iteration", "records") as axes:
        for ax, m in zip(axes, with_funnel):
            fun = rp.funnel_table(stats[m])
            for col in ("instructions", "kept resp.", "negatives", "kept neg.", "SFT new", "DPO new"):
                if fun[col].null_count() < fun.height:
                    ax.plot(fun["iter"].to_list(), fun[col].to_list(), marker="o", label=col)
            ax.set_xticks(fun["iter"].to_list())
        if not with_funnel:
            _empty(axes[0], "no iteration yet (iters: 0)")
    with panels(out / FILES["loss"], ["M_0 (SFT)"] + [rp.method_name(m) for m in methods], "Training loss",
                "step", "loss") as axes:
        for ax, m in zip(axes, ["", *methods]):
            for (t, stage), d in sorted(train.get(m, {}).items()):
                if pts := loss_curve(d):
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f"iter {t} {stage}")
    judged = [m for m in methods if any(s.get(st, {}).get("score_histogram") for s in stats.get(m, {}).values()
                                        for st in ("review_seed", "review_new"))]
    with panels(out / FILES["judge"], [rp.method_name(m) for m in judged] or ["no review stage yet"],
                "Judge score histogram ('none' = no valid vote)", "score bin", "records") as axes:
        for ax, m in zip(axes, judged):
            for t, s in sorted(stats[m].items()):
                for stage in ("review_seed", "review_new"):
                    h = s.get(stage, {}).get("score_histogram")
                    if h and not s[stage].get("reused_scores"):
                        ax.plot(list(h), list(h.values()), marker=".", label=f"iter {t} {stage}")

    text = "\n".join(md)
    write_text_atomic(out / FILES["md"], text)
    if funnels:
        pl.concat(funnels, how="diagonal_relaxed").write_csv(out / FILES["funnel_csv"])
    return text


def main() -> None:
    job = load_job(__doc__)
    print(build_report(job.params["layout"], Path(job.output.md).parent))


if __name__ == "__main__":
    main()
