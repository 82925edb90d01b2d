"""gather: merge the shard files of review_seed, generate or review_new into the stage's target
and write its statistics, computed from the merged records (lancekit.generation.shards). Shard
files are found by name (<i>-of-<n>.json in the shard folder), so a thousand shards make no long
command."""

from pathlib import Path

from _cli import load_job
from lancekit.core.io import read_json, write_json
from lancekit.data.generate import generate_stats
from lancekit.data.review import review_stats
from lancekit.generation import shards

TOKEN_KEYS = ("samples", "generated_tokens", "truncated", "prompt_too_long")
REQUEST_KEYS = ("requests_sent", "requests_resumed", "chunks")


def main() -> None:
    job = load_job(__doc__)
    p, stage, n = job.params, job.params["stage"], int(job.params["shards"])
    parts = [read_json(Path(p["shard_dir"]) / f"{shards.shard_name(i, n)}.json") for i in range(n)]
    for i, part in enumerate(parts):
        if (part["shard"], part["shards"]) != (i, n):
            raise ValueError(f"{p['shard_dir']}: shard file {i} of {n} holds shard {part['shard']} of {part['shards']}")
    inputs = read_json(job.input.records)
    tally = shards.add_tallies(part["tally"] for part in parts)
    items = [part["items"] for part in parts]
    tokens = {k: tally.get(k, 0) for k in TOKEN_KEYS}
    if stage == "generate":
        merged = shards.merge(inputs, items, source="seed_id", order=lambda g: (g["branch"] != "low",))
        stats = generate_stats(merged, len(inputs), tokens)
        if p.get("split_threshold") is not None:  # LANCE: how generate split the seed
            stats["split"] = {"threshold": p["split_threshold"], "low": tally.get("low", 0),
                              "high": tally.get("high", 0)}
    else:
        merged = shards.merge(inputs, items, source="id")
        stats = review_stats(merged, tokens if tally.get("samples") else None)
        if tally.get("reused_scores"):
            stats["reused_scores"] = True
    stats["requests"] = {k: tally.get(k, 0) for k in REQUEST_KEYS}
    stats.update(shards=n, seconds=tally.get("seconds", 0.0),
                 seconds_longest_shard=tally.get("seconds_longest_shard", 0.0))
    write_json(job.output.merged, merged)
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
