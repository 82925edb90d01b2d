"""Property-based tests (Hypothesis) of what reads user input: whatever a seed file, an extra SFT
file or TruthfulQA's data file holds, the result is the data or an `InputError` naming the file
(and, for a record at fault, its index and field), never another exception; whatever a judge
writes, its score is one in [0, 10] or none, never an exception."""

import json
import math
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lancekit.core.io import InputError
from lancekit.data.judge import ORDERS, PARSERS, SCORE_MAX, SCORE_MIN, parse_score
from lancekit.data.seeds import FORMATS, load_extra_sft, load_seed
from lancekit.evaluation.truthfulqa import load_items

SETTINGS = settings(max_examples=250, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

# ---- file contents ---------------------------------------------------------------------------

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()  # NaN and infinities included
           | st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda kids: st.lists(kids, max_size=3)
                      | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=8)
SEED_KEYS = st.sampled_from(["prompt", "response", "instruction", "input", "output", "system", "history",
                             "question", "mc2_targets", "choices", "labels"]) | st.text(max_size=6)


def encoded(value, ascii_only: bool) -> bytes:
    """JSON bytes; a lone surrogate is written as the escape "\\ud800" (ascii_only) or as the
    bytes it would have in UTF-8 (not UTF-8 at all)."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def with_repeats(pairs: list[tuple[str, object]]) -> str:
    """A JSON object that may name a key more than once (json.dumps never writes one)."""
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs) + "}"


RECORD = st.dictionaries(SEED_KEYS, st.text(max_size=12) | VALUES, max_size=5)
GOOD_RECORD = st.fixed_dictionaries({"prompt": st.text(min_size=1, max_size=20),
                                     "response": st.text(min_size=1, max_size=20)},
                                    optional={"category": VALUES})
RECORDS = st.lists(GOOD_RECORD | RECORD, max_size=4)
ASCII = st.booleans()

CONTENT = st.one_of(
    st.binary(max_size=64),                                                   # any bytes
    st.builds(encoded, VALUES, ASCII),                                        # any JSON value
    st.builds(encoded, RECORDS, ASCII),                                       # a list of records
    st.builds(lambda recs, a: b"\n".join(encoded(r, a) for r in recs), RECORDS, ASCII),  # JSON lines
    st.integers(1, 60_000).map(lambda n: b"[" * n + b"]" * n),                # deep nesting
    st.integers(1, 60_000).map(lambda n: b'[{"prompt": ' * n),
    st.integers(4000, 6000).map(lambda n: b'[{"prompt": "p", "response": "r", "n": ' + b"9" * n + b"}]"),
    st.lists(st.lists(st.tuples(SEED_KEYS, st.text(max_size=8)), max_size=4), max_size=3)
    .map(lambda objs: ("[" + ", ".join(with_repeats(o) for o in objs) + "]").encode("utf-8", "surrogatepass")),
    st.sampled_from([b"", b"\xef\xbb\xbf", b"NaN", b"[NaN]", b'["\\ud800"]', b"\xff\xfe[]", b"[]\x85",
                     b'[{"prompt": "a\\ud800", "response": "b"}]', b'[{"prompt": "a", "response": "b", "x": NaN}]',
                     b'[{"prompt": "a", "response": "b", "\\udc00": 1}]', b'[{"prompt": "a", "prompt": "b"}]']),
)


@st.composite
def files(draw, names):
    """(file name, bytes): CONTENT, at times behind a byte-order mark, at times cut short."""
    data = draw(CONTENT)
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if data and draw(st.booleans()):
        data = data[:draw(st.integers(0, len(data)))]
    return draw(st.sampled_from(names)), data


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("properties")


def names_the_place(error: InputError, path) -> None:
    """The message starts with the file; a record at fault comes with its index, a field by name."""
    msg = str(error)
    assert msg.startswith(f"{path}: "), msg
    if re.search(r"\brecords? \d", msg):
        assert re.search(rf"^{re.escape(str(path))}: record \d+: ", msg), msg
    if " field " in msg:
        assert re.search(r" field ['\"]", msg), msg
    msg.encode("utf-8")  # printable as it stands: a lone surrogate in a field's name is escaped


def writable(obj) -> None:
    """What the stage writes next (write_json) can be written, as standard JSON."""
    json.dumps(obj, ensure_ascii=False, allow_nan=False).encode("utf-8")


# ---- the seed loader -------------------------------------------------------------------------


@SETTINGS
@given(file=files(["s.json", "s.jsonl", "s.txt"]), fmt=st.sampled_from(FORMATS))
@example(file=("s.json", b"[" * 100_000), fmt="auto")
@example(file=("s.jsonl", b'{"prompt": "a\xe2\x80\xa8b", "response": "c"}'), fmt="auto")  # U+2028 in a string
def test_seed_loader_gives_the_records_or_an_error_naming_the_file(folder, file, fmt):
    path = folder / file[0]
    path.write_bytes(file[1])
    try:
        recs, stats = load_seed(path, fmt)
    except InputError as e:
        names_the_place(e, path)
        return
    assert recs and stats["kept"] == len(recs) <= stats["records_in_file"]
    for r in recs:
        assert isinstance(r["prompt"], str) and r["prompt"].strip()
        assert isinstance(r["response"], str) and r["response"].strip()
        assert r["lineage"]["source"].startswith(f"{path.name}#")
    writable(recs)


@SETTINGS
@given(file=files(["x.json", "x.jsonl"]))
def test_extra_sft_gives_the_examples_or_an_error_naming_the_file(folder, file):
    path = folder / file[0]
    path.write_bytes(file[1])
    try:
        examples, stats = load_extra_sft(path, "You are helpful.", set())
    except InputError as e:
        names_the_place(e, path)
        return
    assert stats["added"] == len(examples) > 0
    assert all(isinstance(x["system"], str) and x["system"] for x in examples)
    writable(examples)


def text(min_size=1):
    """Text a seed record may hold: anything but blank (U+2028, U+0085, CJK, emoji included)."""
    return st.text(st.characters(exclude_categories=["Cs"]), min_size=min_size, max_size=30).filter(str.strip)


@SETTINGS
@given(recs=st.lists(st.fixed_dictionaries({"prompt": text(), "response": text()}), min_size=1, max_size=6),
       lines=st.booleans())
def test_every_well_formed_seed_file_reads_whole(folder, recs, lines):
    """The data: every record, in order, with its text unchanged (a duplicate counted once)."""
    path = folder / ("ok.jsonl" if lines else "ok.json")
    body = ("\n".join(json.dumps(r, ensure_ascii=False) for r in recs) if lines
            else json.dumps(recs, ensure_ascii=False))
    path.write_text(body, encoding="utf-8")
    got, stats = load_seed(path)
    assert [(r["prompt"], r["response"]) for r in got] == list(dict.fromkeys((r["prompt"], r["response"])
                                                                               for r in recs))
    assert stats["records_in_file"] == len(recs)


# ---- TruthfulQA's data file ------------------------------------------------------------------

LABEL = st.sampled_from([0, 1, True, False, 1.0, 2, -1, None, "1", [1], math.nan])
CHOICES = st.lists(st.text(max_size=6), max_size=4)
TARGETS = st.one_of(
    st.dictionaries(st.text(max_size=6), LABEL, max_size=4),                        # {choice: 0|1}
    st.fixed_dictionaries({"choices": CHOICES | VALUES, "labels": st.lists(LABEL, max_size=4) | VALUES}),
    VALUES,
)
QA_RECORD = st.fixed_dictionaries({}, optional={"question": st.text(max_size=12) | VALUES, "mc2_targets": TARGETS})
QA_CONTENT = st.one_of(
    CONTENT,
    st.builds(encoded, st.lists(QA_RECORD, max_size=3), ASCII),
    st.builds(lambda recs, a: b"\n".join(encoded(r, a) for r in recs), st.lists(QA_RECORD, max_size=3), ASCII),
)


@SETTINGS
@given(name=st.sampled_from(["mc_task.json", "mc_task.jsonl"]), data=QA_CONTENT)
@example(name="mc_task.json", data=b'[{"question": "q", "mc2_targets": {"choices": 3, "labels": [1]}}]')
@example(name="mc_task.json", data=b'[{"question": "\\ud800", "mc2_targets": {"a": 1, "b": 0}}]')
def test_truthfulqa_loader_gives_the_items_or_an_error_naming_the_file(folder, name, data):
    path = folder / name
    path.write_bytes(data)
    try:
        items = load_items(path)
    except InputError as e:
        names_the_place(e, path)
        return
    assert items
    for item in items:
        assert isinstance(item["question"], str) and item["question"].strip()
        assert len(item["choices"]) == len(item["labels"]) >= 2
        assert all(isinstance(c, str) and c.strip() for c in item["choices"])
        assert set(item["labels"]) == {0, 1} and all(type(y) is int for y in item["labels"])
    writable(items)


# ---- the judge's score parser ----------------------------------------------------------------

REVIEW_TEXT = st.text() | st.lists(st.sampled_from(["score", "Score:", " ", "\n", "*", "_", ":", "=", "is", "of",
                                                    "/", "10", "7", ".", "5", "-", "\u2212", "e", ",", "\u00bd",
                                                    "\u0667", "\uff17"]), max_size=30).map("".join)


@settings(max_examples=500, deadline=None, database=None)
@given(text=REVIEW_TEXT, order=st.sampled_from(ORDERS), parser=st.sampled_from(PARSERS))
def test_any_review_gives_a_score_in_range_or_none(text, order, parser):
    score = parse_score(text, order, parser)
    assert score is None or (math.isfinite(score) and SCORE_MIN <= score <= SCORE_MAX)


SCORE = st.integers(0, 100).map(lambda k: k / 10)


def written(score: float) -> str:
    return f"{score:g}"


@settings(max_examples=200, deadline=None, database=None)
@given(score=SCORE, before=st.text(), label=st.sampled_from(["score: ", "Score: ", "**Score:** ", "score = ",
                                                             "Final score is "]),
       after=st.sampled_from(["", ".", "\n", "/10", " / 10", ", well organised"]))
def test_a_labelled_score_in_range_is_read_as_itself(score, before, label, after):
    """The last thing said, after any text: "score: N" gives N."""
    assert parse_score(f"{before}\n{label}{written(score)}{after}", "last") == score


@settings(max_examples=200, deadline=None, database=None)
@given(score=st.integers(0, 10), more=st.sampled_from(["e1", "E-1", ",5", "-5", " - 5", " \u2013 5", "\u00bd",
                                                       "\u00be"]),
       order=st.sampled_from(ORDERS))
@example(score=1, more="e1", order="last")
@example(score=7, more=",5", order="last")
@example(score=3, more="-5", order="last")
@example(score=7, more="\u00bd", order="last")
def test_a_number_that_goes_on_as_another_is_no_score(score, more, order):
    assert parse_score(f"score: {score}{more}", order) is None
