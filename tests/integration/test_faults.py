"""Crash safety on the real engines: the shared run was killed with kill -9 three times
(tests/integration/conftest.py) and finished by running ./lance again. Nothing finished before
a kill was computed again, nothing was lost or duplicated, and the result is the one an
uninterrupted run gives."""

import json
import subprocess
import sys

from workflow import ROOT, load, run_lance


def test_training_resumed_from_its_last_checkpoint(run):
    faults = load(run.parent / "faults.json")
    assert "checkpoint-1" in faults["checkpoints_at_kill"]
    info = load(run / "iter0/sft_model/lance_train.json")
    last = max(faults["checkpoints_at_kill"], key=lambda c: int(c.split("-")[1]))
    assert info["resumed_from"] == last
    assert info["steps"] > int(last.split("-")[1]), "the resumed run went on past its checkpoint"
    log = (run.parent / "logs/iter0/train_sft.log").read_text()
    assert "resuming the killed sft run from" in log and "Resuming training from" in log
    assert not list(run.glob("iter0/sft_model/checkpoint-*")), "checkpoints never reach the model"
    assert not (run / "iter0/sft_model.work").exists()


def test_generate_did_not_send_finished_chunks_again(run):
    at_kill = (run.parent / "generate-progress-at-kill.jsonl").read_bytes()
    done = at_kill.count(b"\n")
    assert done >= 2  # chunk_size 2: at least one whole chunk
    progress = run / "lance/iter1/shards/generate/0-of-1.json.progress.jsonl"
    assert progress.read_bytes().startswith(at_kill), "the finished chunks' bytes are unchanged"
    req = load(run / "lance/iter1/stats/generate.json")["requests"]
    assert req["requests_resumed"] == done
    lines = progress.read_bytes().count(b"\n")
    assert req["requests_sent"] + req["requests_resumed"] == lines
    assert "resumed from" in (run.parent / "logs/lance/iter1/generate/0-of-1.log").read_text()


def _ids(groups):
    return [(g["seed_id"], g["branch"], [i["id"] for i in g.get("instructions", [])],
             [n["id"] for n in g.get("negatives", [])]) for g in groups]


def test_resumed_generate_equals_an_uninterrupted_sharded_run(run, tmp_path):
    """generate again, uninterrupted, as 2 shards on the same reviewed seed, merged by the gather
    step: the same groups, ids and order as the killed and resumed single shard."""
    wd = run.parent
    shards = [f"results/lance/iter1/shards/generate/{i}-of-2.json" for i in range(2)]
    run_lance(wd, *shards, "--config", "shards=2", "--rerun-triggers", "mtime", log="sharded.out")
    job = {"input": {"records": str(run / "lance/iter1/reviewed_seed.json")},
           "output": {"merged": str(tmp_path / "raw.json"), "stats": str(tmp_path / "stats.json")},
           "params": {"shards": 2, "shard_dir": str(run / "lance/iter1/shards/generate")}, "wildcards": {"t": "1", "method": "lance"}}
    settings = {"stage": "generate",
                "split_threshold": load(run / "lance/iter1/stats/generate.json")["split"]["threshold"]}
    subprocess.run([sys.executable, str(ROOT / "scripts/gather.py"), json.dumps(job), json.dumps(settings)],
                   check=True, env={"PYTHONPATH": str(ROOT / "src")})
    resumed, sharded = load(run / "lance/iter1/raw.json"), load(tmp_path / "raw.json")
    seeds = [r["id"] for r in load(run / "lance/iter1/reviewed_seed.json")]
    assert sorted(g["seed_id"] for g in resumed) == sorted(seeds), "every seed once: none lost, none twice"
    assert _ids(sharded) == _ids(resumed)
    ins = [i for g in resumed for i in g.get("instructions", [])]
    assert len({i["id"] for i in ins}) == len(ins)
    # short answers are the same text on CPU too (long ones may differ in the last digits' rounding)
    short = [(a["text"], b["text"]) for ga, gb in zip(resumed, sharded, strict=True)
             for a, b in zip(ga.get("instructions", []), gb.get("instructions", []), strict=True)
             if a["num_tokens"] <= 24]
    assert short and sum(x == y for x, y in short) >= 0.8 * len(short)
    assert load(tmp_path / "stats.json")["shards"] == 2


def test_a_killed_snakemake_is_resumed_by_the_plain_command(run):
    out = (run.parent / "run4.out").read_text()
    assert "releasing the lock left by a killed run" in out
    log = (run.parent / "logs/lance/iter1/evaluate.log").read_text()
    assert "reusing the finished predictions and results of" in log
    folders = [d for d in (run / "lance/iter1/eval/opencompass").iterdir() if d.is_dir() and d.name[:8].isdigit()]
    assert len(folders) == 1, "the rerun went on in the run folder of the killed evaluation"
    assert load(run / "lance/iter1/eval/summary.json")["n_items"] == {"arith": 6, "lance_mc": 6}
