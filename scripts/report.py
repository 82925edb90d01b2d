"""report: one page a researcher reads in a minute: evaluation table and plot, data funnel,
judge health, training loss, wall time per stage (results/report/)."""

import csv
import json
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from _cli import load_job  # noqa: E402
from lancekit import report as rp  # noqa: E402
from lancekit.io import read_jsonl_lenient, write_text_atomic  # noqa: E402

JUDGE_NOTE = ("Parse failures: votes with no valid score (0 under the constrained judge). The shipped seed "
              "labels each record good or mediocre; the AUC is the chance that a good record scores above "
              "a mediocre one (0.5: the judge cannot tell them apart), with its 95 % bootstrap interval. "
              "Iterations after the first reuse the stored seed scores.\n")


def load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def loss_curve(model_dir: Path) -> list[tuple[int, float]]:
    return [(r["current_steps"], r["loss"]) for r in read_jsonl_lenient(model_dir / "trainer_log.jsonl")
            if "loss" in r and "current_steps" in r]


@contextmanager
def figure(path: Path, title: str, xlabel: str, ylabel: str):
    """One small plot: the caller draws on the axes; labels, legend and saving happen here."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    yield ax
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    job = load_job(__doc__)
    lay = job.params["layout"]
    out = Path(job.output.md).parent
    out.mkdir(parents=True, exist_ok=True)
    summaries = {r: s for r, path in lay["summaries"].items() if (s := load(Path(path)))}
    stats = {int(t): {st: load(Path(path)) or {} for st, path in by_stage.items()}
             for t, by_stage in lay["stats"].items()}
    bench = {}
    for r in lay["summaries"]:
        for tsv in sorted((Path(lay["benchmarks"]) / r).glob("*.tsv")):
            stage, _, shard = tsv.stem.partition(".")  # generate.0-of-2: one shard of generate
            if shard and not shard.endswith(f"-of-{lay['shards']}"):
                continue  # a shard file of an earlier run with another number of shards
            with open(tsv) as f:
                row = next(csv.DictReader(f, delimiter="\t"))
            by = bench.setdefault(r, {})
            by[stage] = round(by.get(stage, 0.0) + float(row["s"]), 1)  # summed over shards
    iters = len(lay["stats"])

    ev, fun, drops, jt, tt = (rp.eval_table(summaries) if summaries else None, rp.funnel_table(stats),
                              rp.drop_table(stats), rp.judge_table(stats), rp.time_table(bench))

    # plots
    if ev is not None:
        with figure(out / "eval.png", "Benchmarks by iteration", "model", "score") as ax:
            x = list(range(len(ev)))
            for col in [c for c in ev.columns if c not in ("model", "Δmean vs M_0")]:
                ax.plot(x, ev[col].to_list(), marker="o", lw=2.5 if col == "mean" else 1, label=col)
            ax.set_xticks(x, ev["model"].to_list())
    with figure(out / "funnel.png", "Data funnel", "iteration", "records") as ax:
        for col in ("instructions", "kept resp.", "negatives", "kept neg.", "SFT new", "DPO new"):
            if not fun.is_empty():
                ax.plot(fun["iter"].to_list(), fun[col].to_list(), marker="o", label=col)
                ax.set_xticks(fun["iter"].to_list())
        if fun.is_empty():
            ax.text(0.5, 0.5, "no iteration yet (iters: 0)", ha="center", va="center", transform=ax.transAxes)
    train_dirs = {(int(k.split("/")[0]), k.split("/")[1]): Path(d) for k, d in lay["train"].items()}
    with figure(out / "loss.png", "Training loss", "step", "loss") as ax:
        for (t, stage), d in train_dirs.items():
            pts = loss_curve(d)
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], label=f"iter {t} {stage}")
    with figure(out / "judge.png", "Judge score histogram ('none' = no valid vote)", "score bin", "records") as ax:
        for t, s in stats.items():
            for stage in ("review_seed", "review_new"):
                h = s[stage].get("score_histogram")
                if h and not s[stage].get("reused_scores"):
                    ax.plot(list(h), list(h.values()), marker=".", label=f"iter {t} {stage}")

    train_infos = {k: info for k, d in train_dirs.items() if (info := load(d / "lance_train.json"))}

    md = [f"# lance report: {iters} iteration(s)\n",
          "## Evaluation\n", rp.to_markdown(ev) if ev is not None else "_no evaluation yet_\n",
          rp.item_resolution(summaries),
          "![evaluation](eval.png)\n",
          "## Data funnel\n", rp.to_markdown(fun), "![funnel](funnel.png)\n",
          "### Clean: drop reasons\n", rp.to_markdown(drops),
          "## Judge health\n", JUDGE_NOTE, rp.to_markdown(jt, 3), "![judge](judge.png)\n",
          "## Training\n", rp.to_markdown(rp.training_table(train_infos), 3),
          "![loss](loss.png)\n",
          "## Wall time per stage (s)\n", rp.to_markdown(tt, 1)]
    write_text_atomic(out / "report.md", "\n".join(md))
    if ev is not None:
        ev.write_csv(out / "eval_table.csv")
    fun.write_csv(out / "funnel.csv")
    print((out / "report.md").read_text())


if __name__ == "__main__":
    main()
