"""Multiple choice by the log-likelihood of a continuation (Open LLM Leaderboard v1 style), pure
logic: ARC-Challenge and WinoGrande read from their upstream files, few-shot prompts, the pick.

Each item is a list of (context, continuation) options and the index of the gold one. The model
scores every option by the summed log-probability of the continuation's tokens after its context
(`LanceHFBaseModel.continuation_logprobs`); lancekit.evaluation.choice_task runs this inside
OpenCompass. Context and continuation are tokenized apart, so only the continuation is scored
(OpenCompass's `get_loglikelihood` masks a count of tokens from the wrong end, and its PPL
inferencer averages the loss over the whole prompt).

- ARC-Challenge (AI2's `ARC-Challenge-{Test,Train}.jsonl`): 25 shots, the first 25 train
  questions with their gold answers, "Question: ...\\nAnswer: ..." blocks joined by a blank line;
  every option is the continuation " <option text>" of the same context; the pick is the highest
  log-likelihood per character of the option (the harness's acc_norm, which the leaderboard
  reports). All options are scored, 3 and 5 as well as 4.
- WinoGrande (release 1.1's `dev.jsonl` / `train_xs.jsonl`): the sentence cut at its blank; the
  context is the first part with an option put in, the continuation the rest (the partial scoring
  of the WinoGrande paper and the harness); the pick is the highest log-likelihood (acc). 5 shots:
  train_xs items 0, 2, 4, 6, 8 (OpenCompass's fixed choice) as full sentences.
"""

from __future__ import annotations

from pathlib import Path

from ..core.io import InputError, read_jsonl

ARC_SHOTS = 25
WINOGRANDE_SHOTS = (0, 2, 4, 6, 8)


class ChoiceError(InputError):
    pass


def _arc_record(rec: dict, where: str) -> tuple[str, list[str], int]:
    q = rec.get("question")
    if not isinstance(q, dict) or not isinstance(q.get("stem"), str) or not isinstance(q.get("choices"), list):
        raise ChoiceError(f"{where}: field 'question' must be {{'stem': ..., 'choices': [...]}}")
    labels = [c.get("label") for c in q["choices"]]
    texts = [c.get("text") for c in q["choices"]]
    if rec.get("answerKey") not in labels or not all(isinstance(t, str) for t in texts):
        raise ChoiceError(f"{where}: field 'answerKey' {rec.get('answerKey')!r} is none of {labels}")
    return q["stem"], texts, labels.index(rec["answerKey"])


def arc_block(stem: str) -> str:
    return f"Question: {stem}\nAnswer:"


def arc_items(test_path: str | Path, train_path: str | Path, shots: int = ARC_SHOTS) -> list[dict]:
    """[{"id", "options": [[context, continuation], ...], "gold", "norm": True}] of the test file,
    each prompt after `shots` train questions with their answers."""
    train = read_jsonl(train_path)
    if len(train) < shots:
        raise ChoiceError(f"{train_path}: {len(train)} questions, the prompt needs {shots} shots")
    demos = []
    for i, rec in enumerate(train[:shots]):
        stem, texts, gold = _arc_record(rec, f"{train_path}: record {i}")
        demos.append(f"{arc_block(stem)} {texts[gold]}")
    prefix = "".join(d + "\n\n" for d in demos)
    items = []
    for i, rec in enumerate(read_jsonl(test_path)):
        stem, texts, gold = _arc_record(rec, f"{test_path}: record {i}")
        context = prefix + arc_block(stem)
        items.append({"id": str(rec.get("id", i)), "options": [[context, " " + t] for t in texts],
                      "gold": gold, "norm": True})
    return items


def winogrande_parts(sentence: str, option: str, where: str = "sentence") -> tuple[str, str]:
    """(context, continuation): the text before the blank with the option in, and the rest."""
    if sentence.count("_") != 1:
        raise ChoiceError(f"{where}: field 'sentence' must hold exactly one '_'")
    cut = sentence.index("_")
    return sentence[:cut] + option, " " + sentence[cut + 1:].strip()


def _winogrande_record(rec: dict, where: str) -> tuple[list[tuple[str, str]], int]:
    for field in ("sentence", "option1", "option2", "answer"):
        if not isinstance(rec.get(field), str) or not rec[field]:
            raise ChoiceError(f"{where}: field '{field}' missing or not a string")
    if rec["answer"] not in ("1", "2"):
        raise ChoiceError(f"{where}: field 'answer' is {rec['answer']!r}, not '1' or '2'")
    options = [winogrande_parts(rec["sentence"], rec[f"option{k}"], where) for k in (1, 2)]
    return options, int(rec["answer"]) - 1


def winogrande_items(dev_path: str | Path, train_path: str | Path,
                     shots: tuple[int, ...] = WINOGRANDE_SHOTS) -> list[dict]:
    train = read_jsonl(train_path)
    if shots and max(shots) >= len(train):
        raise ChoiceError(f"{train_path}: {len(train)} items, the shots are items {list(shots)}")
    demos = []
    for i in shots:
        options, gold = _winogrande_record(train[i], f"{train_path}: record {i}")
        demos.append(options[gold][0] + options[gold][1])
    prefix = "".join(d + "\n\n" for d in demos)
    items = []
    for i, rec in enumerate(read_jsonl(dev_path)):
        options, gold = _winogrande_record(rec, f"{dev_path}: record {i}")
        items.append({"id": str(rec.get("qID", i)), "options": [[prefix + c, cont] for c, cont in options],
                      "gold": gold, "norm": False})
    return items


def pick(logprobs: list[float], continuations: list[str], norm: bool) -> int:
    """The chosen option: the highest log-likelihood, divided by the characters of the option
    (the continuation without its leading space) when `norm` (acc_norm); the first on a tie."""
    if len(logprobs) != len(continuations) or len(logprobs) < 2:
        raise ChoiceError(f"{len(logprobs)} log-likelihoods for {len(continuations)} options")
    values = [lp / max(1, len(c.lstrip(" "))) if norm else lp for lp, c in zip(logprobs, continuations)]
    return max(range(len(values)), key=lambda k: (values[k], -k))


LOADERS = {"arc": arc_items, "winogrande": winogrande_items}
