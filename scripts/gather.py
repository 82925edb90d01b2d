"""gather: merge the shard files of review_seed, generate or review_new into the stage's target
and write its statistics, computed from the merged records (lancekit.generation.shards). Shard
files are found by name (<i>-of-<n>.json in the shard folder), so a thousand shards make no long
command. Each shard must give back every record of its share of the stage's input exactly once
(generate: one group per seed, in the branch the seed's score puts it in); a shard that lost,
doubled or garbled records stops the gather, naming the file and the ids. A review's statistics
carry each record's score, response length and votes (``judge_records``), which the report's judge
bias measures read (lancekit.report.judge_bias)."""

from pathlib import Path

from _cli import load_job
from lancekit import methods
from lancekit.core.io import InputError, read_json, write_json
from lancekit.data.generate import generate_stats
from lancekit.data.judge import is_high_quality
from lancekit.data.review import record_summary, review_stats
from lancekit.generation import shards

TOKEN_KEYS = ("samples", "generated_tokens", "truncated", "prompt_too_long")
REQUEST_KEYS = ("requests_sent", "requests_resumed", "chunks")


def seed_branch(method, threshold: float | None):
    """The branch generate puts a seed's group in (LANCE: its score against the split threshold;
    SKIP for a branch the method leaves out), or None where the method has one kind of group."""
    if threshold is None:
        return None
    branches = getattr(method, "branches", ("low", "high"))

    def branch(rec: dict):
        b = "high" if is_high_quality((rec.get("review") or {}).get("score"), threshold) else "low"
        return b if b in branches else shards.SKIP

    return branch


def read_parts(shard_dir: str, n: int, inputs: list[dict], source: str, mode=None, item_mode=None) -> list[dict]:
    """Every shard file, checked for shape and for its records against its share of the input."""
    parts = []
    for i in range(n):
        path = Path(shard_dir) / f"{shards.shard_name(i, n)}.json"
        part = shards.read_shard(path, i, n, source)
        shards.check_shard(path, part["items"], shards.expected_ids(inputs, i, n, mode), source, item_mode,
                           mode_name="branch")
        parts.append(part)
    return parts


def main() -> None:
    job = load_job(__doc__)
    p, stage, n = job.params, job.params["stage"], int(job.params["shards"])
    inputs = read_json(job.input.records)
    if stage == "generate":
        mode = seed_branch(methods.get(job.wildcards.method), p.get("split_threshold"))
        source, item_mode = "seed_id", ((lambda g: g.get("branch")) if mode else None)
    else:
        source, mode, item_mode = "id", None, None
    try:
        parts = read_parts(p["shard_dir"], n, inputs, source, mode, item_mode)
    except InputError as e:
        raise SystemExit(f"error: {stage} gather: {e}") from None
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
        stats["judge_records"] = record_summary(merged)
    stats["requests"] = {k: tally.get(k, 0) for k in REQUEST_KEYS}
    stats.update(shards=n, seconds=tally.get("seconds", 0.0),
                 seconds_longest_shard=tally.get("seconds_longest_shard", 0.0))
    write_json(job.output.merged, merged)
    write_json(job.output.stats, stats)


if __name__ == "__main__":
    main()
