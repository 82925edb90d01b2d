"""cards: the Hub card (README.md) and the resolved config (lance_config.yaml) of an iteration's
training sets (cards/data/) or of one of its model folders (cards/sft_model/, cards/model/); what
they say: lancekit.report.cards."""

from pathlib import Path

from _cli import load_job
from lancekit.core.io import read_json, write_text_atomic
from lancekit.methods.runs import parse_run
from lancekit.report import cards


def main() -> None:
    job = load_job(__doc__)
    p = job.params
    method, t = parse_run(p["run"])
    stats_files = job.input.stats if isinstance(job.input.stats, list) else [job.input.stats] if job.input.stats else []
    common = {"sizes": {"sft": len(read_json(job.input.sft)), "dpo": len(read_json(job.input.dpo))},
              "seed": {"path": p["seed_path"], "sha256": cards.file_sha256(job.input.seed)},
              "models": p["models"], "version": cards.lance_version(), "config": p["config"],
              "stats": {Path(f).stem: read_json(f) for f in stats_files}, "license": p["license"]}
    method = None if t == 0 else method
    if p["folder"] == "data":
        front, text = cards.data_card(p["run"], method, t, **common)
    else:
        info = Path(job.input.model) / "lance_train.json"
        front, text = cards.model_card(p["run"], method, t, folder=p["folder"], start_model=p["models"]["start"],
                                       train=read_json(info) if info.is_file() else {}, **common)
    write_text_atomic(job.output.config, cards.config_yaml(p["config"]))
    write_text_atomic(job.output.card, cards.render(front, text))
    print(f"[cards] {job.output.card}: {front['lance']['config_hash']}", flush=True)


if __name__ == "__main__":
    main()
