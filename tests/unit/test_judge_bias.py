"""The judge's bias measures (#20 part 5) on canned scores: each one checked against a value
worked out by hand, on a case where the wrong measure (Pearson for Spearman, ordinal ranks for
average ranks, SD with n, >= for >) gives another number."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml
from snakemake.utils import validate

from lance_testing import ROOT
from lancekit.core.io import InputError
from lancekit.data import review
from lancekit.pipeline.config_check import ConfigError, check_config
from lancekit.report import judge_bias as jb
from lancekit.report import load as rload


def summary(scores, chars=None, votes=None, ids=None):
    n = len(scores)
    return {"ids": ids or [f"r{i}" for i in range(n)], "scores": list(scores),
            "chars": list(chars if chars is not None else range(n)), "votes": votes or [[] for _ in range(n)]}


# --- length bias ---------------------------------------------------------------------------------

def test_length_bias_is_a_rank_correlation_not_pearson():
    """Monotone but far from linear: Spearman 1, Pearson about 0.75."""
    scores, chars = [1, 2, 3, 4, 5], [10, 20, 30, 40, 1000]
    assert np.corrcoef(scores, chars)[0, 1] < 0.8  # what Pearson would report
    assert jb.length_bias(summary(scores, chars)) == {"n": 5, "rho": 1.0}
    assert jb.length_bias(summary(scores, chars[::-1]))["rho"] == -1.0


def test_ties_take_their_average_rank():
    """Score ranks (1.5, 1.5, 3.5, 3.5, 5) against 1..5: ρ = 9 / sqrt(9 · 10); ordinal ranks would give 1."""
    rho = jb.length_bias(summary([5, 5, 7, 7, 9], [100, 200, 300, 400, 500]))["rho"]
    assert rho == round(9 / math.sqrt(90), 4) == 0.9487


@pytest.mark.parametrize("scores,chars", [
    ([7, 7, 7, 7], [1, 2, 3, 4]),              # constant scores
    ([1, 2, 3, 4], [50, 50, 50, 50]),          # constant lengths
    ([1, 2], [1, 2]),                          # under 3 records
    ([1, None, 3], [1, 2, 3]),                 # 2 scored records
    ([], []),
])
@pytest.mark.filterwarnings("error")  # no ConstantInputWarning either: the input is checked first
def test_an_undefined_length_bias_is_none_never_nan(scores, chars):
    assert jb.length_bias(summary(scores, chars))["rho"] is None


def test_records_without_a_score_are_left_out_and_not_counted():
    out = jb.length_bias(summary([1, None, 2, 3], [10, 999, 20, 30]))
    assert out == {"n": 3, "rho": 1.0}


# --- vote consistency ----------------------------------------------------------------------------

def test_vote_spread_and_votes_on_both_sides_of_the_threshold():
    votes = [[7, 8], [6, 8], [8, 8, 8], [5], [7, 7]]  # [5]: one vote, no spread; [7, 7]: 7 is not > 7
    out = jb.vote_consistency(summary([7.5, 7, 8, 5, 7], votes=votes), threshold=7.0)
    # SD (n − 1): 0.7071, 1.4142, 0, 0 (SD with n would give 0.5, 1, 0, 0)
    assert out == {"multi": 4, "sd_mean": round((math.sqrt(0.5) + math.sqrt(2)) / 4, 4), "sd_max": 1.4142,
                   "range_max": 2.0, "across": 0.5}


def test_a_vote_on_the_threshold_counts_as_low_like_the_split():
    """score > V is high (judge.is_high_quality): 7 and 8 straddle 7; 8 and 9 do not; 6 and 7 do not."""
    out = jb.vote_consistency(summary([7.5, 8.5, 6.5], votes=[[7, 8], [8, 9], [6, 7]]), threshold=7.0)
    assert out["across"] == round(1 / 3, 4)


def test_vote_consistency_without_several_votes_or_threshold():
    one_vote = jb.vote_consistency(summary([5, 6, 7], votes=[[5], [6], []]), threshold=7.0)
    assert one_vote == {"multi": 0, "sd_mean": None, "sd_max": None, "range_max": None, "across": None}
    assert jb.vote_consistency(summary([7.5], votes=[[7, 8]]), threshold=None)["across"] is None


# --- gold set ------------------------------------------------------------------------------------

def test_agreement_with_a_gold_set_on_the_matched_ids():
    s = summary([2.0, 4.0, 6.0, None, 9.0], ids=["a", "b", "c", "d", "e"])
    gold = {"a": 1.0, "b": 5.0, "c": 6.5, "d": 3.0, "e": 100.0, "zz": 4.0}  # d unscored, zz unknown
    out = jb.gold_agreement(s, gold)
    assert out["n"] == 4 and out["rho"] == 1.0  # Pearson: about 0.8 (100 is far off the line)
    assert out["mad"] == round((1 + 1 + 0.5 + 91) / 4, 4)
    assert jb.gold_agreement(s, {"zz": 1.0}) == {"n": 0, "rho": None, "mad": None}
    assert jb.gold_agreement(s, {"a": 1.0, "b": 2.0}) == {"n": 2, "rho": None, "mad": 1.5}  # under 3


# --- the stats the gather writes, the table, what the report reads ----------------------------------

def test_record_summary_is_what_the_review_gather_writes():
    recs = [{"id": "x1", "response": "four", "review": {"score": 7.5, "votes": [7, 8]}},
            {"id": "x2", "response": "", "review": {"score": None, "votes": []}}]
    assert review.record_summary(recs) == {"ids": ["x1", "x2"], "scores": [7.5, None], "chars": [4, 0],
                                       "votes": [[7, 8], []]}


def test_the_review_gather_writes_the_summary_into_the_stats_and_the_report_reads_it(tmp_path):
    """scripts/gather.py of a review stage (one shard): ``judge_records`` in stats, not in the records."""
    data = [{"id": f"s0-{i}", "prompt": "p", "response": "r" * (10 * i)} for i in range(3)]
    items = [dict(r, review={"score": 5.0 + i, "votes": [5 + i, 5 + i], "n_parsed": 2, "n_failed": 0})
             for i, r in enumerate(data)]
    (tmp_path / "shards").mkdir()
    (tmp_path / "shards" / "0-of-1.json").write_text(json.dumps({"shard": 0, "shards": 1, "items": items,
                                                                  "tally": {"seconds": 1.0}}))
    (tmp_path / "in.json").write_text(json.dumps(data))
    job = {"input": {"records": str(tmp_path / "in.json")},
           "output": {"merged": str(tmp_path / "out.json"), "stats": str(tmp_path / "stats.json")},
           "wildcards": {"method": "lance", "t": "1"}, "params": {"shards": 1, "shard_dir": str(tmp_path / "shards")}}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "gather.py"), json.dumps(job),
                           json.dumps({"stage": "review_new"})],
                          env=dict(os.environ, PYTHONPATH=str(ROOT / "src")), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    stats = rload.load_stats(tmp_path / "stats.json")
    assert stats["judge_records"] == {"ids": ["s0-0", "s0-1", "s0-2"], "scores": [5.0, 6.0, 7.0],
                                      "chars": [0, 10, 20], "votes": [[5, 5], [6, 6], [7, 7]]}
    assert not any("judge_records" in r for r in json.loads((tmp_path / "out.json").read_text()))
    assert jb.length_bias(stats["judge_records"]) == {"n": 3, "rho": 1.0}


def canned_stats():
    s1 = summary([5, 6, 7, 8], [100, 150, 300, 900], votes=[[5, 5], [6, 6], [6, 8], [8, 8]], ids=["a", "b", "c", "d"])
    s2 = summary([7, 7, 7], [1, 2, 3], votes=[[7, 7], [7, 7], [7, 7]], ids=["e", "f", "g"])
    return {1: {"generate": {"split": {"threshold": 6.5, "low": 2, "high": 2}},
                "review_seed": {"judge_records": s1,
                                "by_label": {"auc_good_vs_mediocre": {"auc": 0.6123, "low": 0.4, "high": 0.8}}},
                "review_new": {"judge_records": s2}},
            2: {"review_seed": {"reused_scores": True, "votes": 8}}}  # an older stats file: no judge_records


def test_the_table_has_one_row_per_iteration_and_stage():
    df = jb.bias_table(canned_stats())
    assert df.columns == ["iter", "stage", "n", "length ρ", "vote SD mean", "vote range max", "across threshold",
                          "AUC (seed)"]
    rows = df.rows(named=True)
    assert [(r["iter"], r["stage"]) for r in rows] == [(1, "review_seed"), (1, "review_new"),
                                                       (2, "review_seed (stored scores)")]
    assert rows[0] == {"iter": 1, "stage": "review_seed", "n": 4, "length ρ": 1.0,
                       "vote SD mean": round(math.sqrt(2) / 4, 4), "vote range max": 2.0,
                       "across threshold": 0.25, "AUC (seed)": 0.6123}
    assert rows[1]["length ρ"] is None and rows[1]["across threshold"] == 0.0  # constant scores: no ρ
    assert rows[2]["n"] is None and rows[2]["AUC (seed)"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for r in rows for v in r.values())
    gold = jb.bias_table(canned_stats(), {"a": 1.0, "b": 2.0, "c": 3.0, "e": 1.0})
    assert gold.row(0, named=True)["gold ρ"] == 1.0 and gold.row(0, named=True)["gold n"] == 3
    assert gold.row(1, named=True)["gold n"] == 1 and gold.row(1, named=True)["gold ρ"] is None


def test_stats_whose_judge_records_do_not_line_up_name_the_field(tmp_path):
    p = tmp_path / "review_seed.json"
    p.write_text(json.dumps({"judge_records": {"ids": ["a", "b"], "scores": [1, 2], "chars": [3], "votes": [[], []]}}))
    with pytest.raises(InputError, match=r"review_seed.json: field judge_records.chars: 1 values but 2 ids"):
        rload.load_stats(p)
    p.write_text(json.dumps({"judge_records": {"ids": ["a"], "scores": [1], "chars": [3], "votes": [["x"]]}}))
    with pytest.raises(InputError, match=r"field judge_records.votes\[0\]\[0\]"):
        rload.load_stats(p)


def test_the_gold_file_is_read_and_a_bad_entry_is_named(tmp_path):
    p = tmp_path / "gold.json"
    p.write_text(json.dumps([{"id": "a", "score": 7}, {"id": "b", "score": 3.5}]))
    assert rload.load_judge_gold(str(p)) == {"a": 7.0, "b": 3.5}
    assert rload.load_judge_gold(None) == {}
    for rows, says in (([{"id": "a", "score": "high"}], r"field \[0\].score"),
                       ([{"id": "a", "score": 1}, {"score": 2}], r"field \[1\].id"),
                       ([{"id": "a", "score": 1}, {"id": "a", "score": 2}], "record 1: field id: 'a' is scored twice"),
                       ({"a": 1}, "report.judge_gold")):
        p.write_text(json.dumps(rows))
        with pytest.raises(InputError, match=says):
            rload.load_judge_gold(str(p))


def test_a_missing_gold_file_is_named_by_its_config_key():
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config.setdefault("report", {})["judge_gold"] = "nowhere/gold.json"
    validate(config, str(ROOT / "config" / "config.schema.yaml"))
    with pytest.raises(ConfigError, match="report.judge_gold: file nowhere/gold.json not found"):
        check_config(config, lambda p: os.path.join(ROOT, p))
    config["report"]["judge_gold"] = "config/config.yaml"  # any file that is there
    check_config(config, lambda p: os.path.join(ROOT, p))
