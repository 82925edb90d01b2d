"""The report's figures (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402

from ..methods import TABLE  # noqa: E402
from ..methods.runs import run_key  # noqa: E402
from .judge_bias import MEASURES  # noqa: E402
from .load import loss_curve  # noqa: E402
from .names import bench_name, method_name  # noqa: E402
from .scores import cell  # noqa: E402
from .stages import funnel_table  # noqa: E402


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


def plot_avg(ev: pl.DataFrame, methods: list[str], iters: dict[str, int], path: Path, avg: str = "avg") -> None:
    """Avg with its 95 % interval per iteration, one line per method from M_0; Self-Instruct (one
    round) drawn flat over every iteration, as in the paper; M_0 dashed with its interval shaded."""
    tmax = max([iters.get(m, 0) for m in methods] + [1])
    fig, ax = plt.subplots(figsize=(8.5, 4.5))
    m0 = cell(ev, "iter0", avg)
    if m0:
        ax.axhline(m0["score"], ls="--", color="grey", lw=1, label="SFT (M_0)")
        if m0["low"] is not None:
            ax.axhspan(m0["low"], m0["high"], color="grey", alpha=0.12, label="M_0 95 % interval")
    for k, m in enumerate(methods):
        pts = [(t, c) for t in range(0, iters.get(m, 0) + 1) if (c := cell(ev, run_key(m, t), avg))]
        if len(pts) < 2:
            continue
        dodge = (k - (len(methods) - 1) / 2) * 0.04  # so that the bars of the methods don't overlap
        xs = [t + (dodge if t else 0) for t, _ in pts]
        ys = [c["score"] for _, c in pts]
        err = [[0 if not t or c["low"] is None else c["score"] - c["low"] for t, c in pts],
               [0 if not t or c["high"] is None else c["high"] - c["score"] for t, c in pts]]
        bars = ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=method_name(m))
        if m in TABLE and TABLE[m].one_round and iters.get(m, 0) < tmax:  # one round, drawn flat
            ax.plot([xs[-1], tmax + dodge], [ys[-1], ys[-1]], color=bars[0].get_color(), lw=1.5)
    if ev.is_empty():
        _empty(ax, "no evaluation yet")
    ax.set_xticks(range(0, tmax + 1), [f"M_{t}" for t in range(0, tmax + 1)])
    ax.set(title=f"{bench_name(avg)} by iteration, 95 % intervals (M_0 shared by every method)",
           xlabel="iteration", ylabel="score")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_benchmarks(ev: pl.DataFrame, methods: list[str], iters: dict[str, int], benches: list[str],
                    path: Path) -> None:
    """One panel per benchmark: its score per iteration, one line per method from M_0; base dotted."""
    with panels(path, [bench_name(b) for b in benches] or ["no evaluation yet"], "Benchmarks by iteration",
                "iteration", "score", one_legend=True) as axes:
        for ax, b in zip(axes, benches):
            base = cell(ev, "base", b)
            if base:
                ax.axhline(base["score"], ls=":", color="black", lw=1, label="base")
            for m in methods:
                pts = [(t, c["score"]) for t in range(0, iters.get(m, 0) + 1)
                       if (c := cell(ev, run_key(m, t), b))]
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=method_name(m))
            ax.set_xticks(range(0, max([iters.get(m, 0) for m in methods] + [1]) + 1))


def plot_funnel(stats: dict, methods: list[str], path: Path) -> None:
    with_funnel = [m for m in methods if stats.get(m)]
    with panels(path, [method_name(m) for m in with_funnel] or ["no iteration yet"],
                "Data funnel", "iteration", "records") as axes:
        for ax, m in zip(axes, with_funnel):
            fun = funnel_table(stats[m])
            for col in ("instructions", "kept resp.", "negatives", "kept neg.", "SFT new", "DPO new"):
                if fun[col].null_count() < fun.height:
                    ax.plot(fun["iter"].to_list(), fun[col].to_list(), marker="o", label=col)
            ax.set_xticks(fun["iter"].to_list())
        if not with_funnel:
            _empty(axes[0], "no iteration yet (iters: 0)")


def plot_loss(train: dict, methods: list[str], path: Path) -> None:
    with panels(path, ["M_0 (SFT)"] + [method_name(m) for m in methods], "Training loss", "step", "loss") as axes:
        for ax, m in zip(axes, ["", *methods]):
            for (t, stage), d in sorted(train.get(m, {}).items()):
                if pts := loss_curve(d):
                    ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f"iter {t} {stage}")


def plot_judge(stats: dict, methods: list[str], path: Path) -> None:
    judged = [m for m in methods if any(s.get(st, {}).get("score_histogram") for s in stats.get(m, {}).values()
                                        for st in ("review_seed", "review_new"))]
    with panels(path, [method_name(m) for m in judged] or ["no review stage yet"],
                "Judge score histogram ('none' = no valid vote)", "score bin", "records") as axes:
        for ax, m in zip(axes, judged):
            for t, s in sorted(stats[m].items()):
                for stage in ("review_seed", "review_new"):
                    h = s.get(stage, {}).get("score_histogram")
                    if h and not s[stage].get("reused_scores"):
                        ax.plot(list(h), list(h.values()), marker=".", label=f"iter {t} {stage}")


def plot_judge_bias(tables: dict[str, pl.DataFrame], path: Path) -> None:
    """One panel per judge measure (lancekit.report.judge_bias.MEASURES) across iterations, one
    line per method and review stage; a measure no stage has is an empty panel saying so."""
    with panels(path, list(MEASURES), "Judge bias across iterations", "iteration", "",
                one_legend=True) as axes:
        for ax, measure in zip(axes, MEASURES):
            for m, df in tables.items():
                if measure not in df.columns:
                    continue
                stage = df["stage"].str.replace(r" \(stored scores\)$", "")  # one line per review stage
                for st in stage.unique(maintain_order=True):
                    pts = df.filter((stage == st) & pl.col(measure).is_not_null())
                    if pts.height:
                        ax.plot(pts["iter"].to_list(), pts[measure].to_list(), marker="o",
                                label=f"{method_name(m)} {st}")
            if ax.lines:
                ax.xaxis.get_major_locator().set_params(integer=True)
            else:
                _empty(ax, "no report.judge_gold" if measure == "gold ρ" else "not measured")
