from lance_testing import ROOT
from lancekit.provenance import code_files, code_version


def names(script):
    return {f.relative_to(ROOT).as_posix() for f in code_files(script)}


def test_code_files_follow_imports_and_dotted_names():
    assert names("clean") == {"scripts/clean.py", "scripts/_cli.py", "src/lancekit/clean.py",
                              "src/lancekit/io.py", "src/lancekit/records.py", "src/lancekit/rouge.py"}
    review = names("review")
    assert {"src/lancekit/judge.py", "src/lancekit/vllm_engine.py", "src/lancekit/prompts.py"} <= review
    assert "src/lancekit/rouge.py" not in review  # a ROUGE change cannot change a review
    # OpenCompass loads our model class by a dotted string in the generated config
    assert {"src/lancekit/oc_model.py", "src/lancekit/oc_eval_utils.py"} <= names("evaluate")


def test_code_version_changes_with_content_not_location(tmp_path):
    repo = tmp_path / "a"
    (repo / "scripts").mkdir(parents=True)
    (repo / "src" / "lancekit").mkdir(parents=True)
    (repo / "scripts" / "s.py").write_text("from lancekit.m import f\n")
    (repo / "src" / "lancekit" / "m.py").write_text("def f(): return 1\n")
    (repo / "src" / "lancekit" / "other.py").write_text("x = 1\n")
    v1 = code_version("s", repo)
    moved = tmp_path / "b"
    repo.rename(moved)
    assert code_version.__wrapped__("s", moved) == v1
    (moved / "src" / "lancekit" / "other.py").write_text("x = 2\n")
    assert code_version.__wrapped__("s", moved) == v1
    (moved / "src" / "lancekit" / "m.py").write_text("def f(): return 2\n")
    assert code_version.__wrapped__("s", moved) != v1
