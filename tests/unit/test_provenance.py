from lance_testing import ROOT
from lancekit.core.provenance import code_files, code_version


def names(script):
    return {f.relative_to(ROOT).as_posix() for f in code_files(script)}


def test_code_files_follow_imports_and_dotted_names():
    # the packages on the way are imported too: their __init__ runs
    assert names("clean") == {"scripts/clean.py", "scripts/_cli.py", "src/lancekit/__init__.py",
                              "src/lancekit/core/__init__.py", "src/lancekit/core/io.py",
                              "src/lancekit/data/__init__.py", "src/lancekit/data/clean.py",
                              "src/lancekit/data/records.py", "src/lancekit/data/rouge.py"}
    review = names("review")
    assert {"src/lancekit/data/judge.py", "src/lancekit/generation/vllm_engine.py",
            "src/lancekit/data/prompts.py", "src/lancekit/core/envs.py"} <= review  # relative imports too
    assert "src/lancekit/data/rouge.py" not in review  # a ROUGE change cannot change a review
    assert not any(n.startswith("src/lancekit/methods/") for n in review)  # the rule hands it its settings
    # every method's module reaches generate (the methods table imports them all)
    assert {f"src/lancekit/methods/{m}.py" for m in ("lance", "spin", "self_instruct", "i_sheep")} <= names("generate")
    # OpenCompass loads our model class by a dotted string in the generated config
    assert {"src/lancekit/evaluation/models.py", "src/lancekit/evaluation/postprocess.py",
            "src/lancekit/evaluation/truthfulqa_task.py"} <= names("evaluate")


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
