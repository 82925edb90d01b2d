"""What a run will cost, before it starts (``./lance plan``, and ``budget.gpu_hours`` in the config
check): per method, iteration and stage, the requests, prompt and output tokens, training examples
and evaluation items expected, then wall time and GPU-hours from a throughput table
(config/cost/throughput.yaml: measured here by benchmarks/calibrate_cost.py, or public figures per
GPU type). A pure function of the resolved config (schema defaults filled in), the seed's size and
the table: nothing runs.

The counts follow each method's own settings (lancekit.methods: its stages, iterations, generate
settings and review votes). What no config says is assumed, here, once:

- seed size: the seed file's records (json list or jsonl) when it is there, capped at seed.limit;
  else seed.limit; else ``ASSUMED_SEED`` (3,000: the paper's UltraChat3k).
- a seed that evolves (LANCE from iteration 2) holds Seed_0 plus annotate.next_seed_limit new
  items (null: as many new items as Seed_0 records).
- ``LOW_SHARE`` of the seed scores below split_threshold (LANCE's low branch); of the generated
  candidates ``SHARES["clean"]`` survive clean (and go to review_new), ``SHARES["sft"]`` of the new
  instructions become SFT examples and ``SHARES["dpo"]`` of the negatives DPO pairs. A device entry
  of the throughput table may carry ``shares`` measured on a run (benchmarks/calibrate_cost.py):
  they depend on the model and its judge, so the public GPU entries keep these.
- a sampled answer fills ``FILL`` of its max_tokens; a constrained vote is ``VOTE_TOKENS`` tokens; a
  one-line instruction (generate.instruction_stop set) is ``LINE_TOKENS``.
- every prompt is ``PROMPT_TOKENS`` (template, system and one record); with n samples a prompt is
  counted once (vLLM shares its prefix).
- requests are prompts sent, each with its n samples; the shard jobs of a stage run side by side.
- review_seed of iteration 2 on reuses the scores stored in the seed (no engine, no time) unless
  review.rereview_seed is set.
- evaluation items are the benchmarks' public test-set sizes (the registry's ``test_items``), capped at
  eval.settings.limit; evaluated models: base, M_0 and every method's every iteration.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .. import methods as method_table
from ..core.paths import REPO
from ..data import authors

ASSUMED_SEED = 3000
LOW_SHARE = 0.5
SHARES = {"clean": 0.5, "sft": 0.5, "dpo": 0.5}
FILL = 0.5
VOTE_TOKENS = 2
LINE_TOKENS = 40
PROMPT_TOKENS = 600
THROUGHPUT = REPO / "config" / "cost" / "throughput.yaml"
DEFAULT_DEVICE = "h100"
HERE = "cpu-here"    # the entry measured on the machine the embedded default runs on
# public test-set sizes (the files the registry stages); mgsm: the paper's four languages x 250
ENGINE = {"review_seed": "vllm", "generate": "vllm", "review_new": "vllm", "train_sft": "llamafactory",
          "train_dpo": "llamafactory", "evaluate": "opencompass"}


@dataclass
class Row:
    """One stage of one iteration of one method: what it sends or trains, and what it costs."""
    method: str
    iteration: int
    stage: str
    requests: int = 0
    prompt_tokens: int = 0
    output_tokens: int = 0
    examples: int = 0          # training examples x epochs, or evaluation items
    jobs: int = 1
    gpus: int = 0              # per job
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def gpu_hours(self) -> float:
        return self.jobs * self.gpus * self.wall_s / 3600


def seed_size(config: dict, resolve=lambda p: str(REPO / p)) -> tuple[int, str]:
    """The seed's record count and where it came from (the file, seed.limit, or the assumption)."""
    limit = config["seed"].get("limit")
    value = config["seed"]["path"]
    try:
        path = Path(resolve(authors.resolve_file(value, (config.get("authors") or {}).get("repo"), "seed.path")))
        text = path.read_text(encoding="utf-8")
    except (authors.AuthorsError, OSError):
        if limit:
            return limit, "seed.limit (seed file not found)"
        return ASSUMED_SEED, f"assumed {ASSUMED_SEED} (seed file not found)"
    try:
        data = json.loads(text)
        count = len(data) if isinstance(data, list) else 1
    except json.JSONDecodeError:
        count = sum(1 for line in text.splitlines() if line.strip())
    return (min(count, limit) if limit else count), str(value)


def _out(max_tokens: int) -> int:
    return round(max_tokens * FILL)


def _vllm(row: Row, prompts: int, n: int, out_each: int) -> None:
    row.requests += prompts
    row.prompt_tokens += prompts * PROMPT_TOKENS
    row.output_tokens += prompts * n * out_each


def _votes(config: dict, method, stage: str) -> tuple[int, int]:
    """A review stage's votes per record and tokens per vote."""
    review = method.review_settings(config, stage)
    tokens = VOTE_TOKENS if review.mode == "constrained" else _out(review.max_tokens)
    return review.samples, tokens


def data_rows(config: dict, name: str, iteration: int, seed: int,
              shares: dict | None = None) -> tuple[list[Row], int, int]:
    """The engine stages of one iteration of one method, and the new SFT examples and DPO pairs it
    makes (before the previous sets are added); ``shares`` over ``SHARES``."""
    keep = {**SHARES, **(shares or {})}
    method = method_table.get(name)
    max_tokens = config["sampling"]["max_tokens"]
    rows, sft, dpo = [], 0, 0
    if method.has("review_seed"):
        row = Row(name, iteration, "review_seed")
        n, each = _votes(config, method, "review_seed")
        if iteration == 1 or method.review_settings(config, "review_seed").rereview_seed:
            _vllm(row, seed, n, each)
        else:  # the scores stored in the seed are reused (scripts/review.py): no engine starts
            row.notes.append("stored scores")
        rows.append(row)
    row = Row(name, iteration, "generate")
    settings = method.generate_settings(config)
    new = 0  # candidates review_new reviews
    if hasattr(settings, "split_threshold"):  # LANCE: new instructions for low seeds, negatives for high
        g = settings.generate
        low = round(seed * LOW_SHARE) if "low" in method.branches else 0
        high = seed - round(seed * LOW_SHARE) if "high" in method.branches else 0
        line = LINE_TOKENS if g.instruction_stop else _out(max_tokens)
        _vllm(row, low, g.instructions_per_seed, line)
        _vllm(row, high, g.negatives_per_seed, _out(max_tokens))
        _vllm(row, low * g.instructions_per_seed, g.responses_per_instruction, _out(max_tokens))
        new = low * g.instructions_per_seed * g.responses_per_instruction + high * g.negatives_per_seed
        sft = round(low * g.instructions_per_seed * keep["sft"])
        dpo = round(high * g.negatives_per_seed * keep["dpo"])
    elif hasattr(settings, "responses_per_prompt"):  # SPIN: M_{t-1}'s answers to the seed prompts
        _vllm(row, seed, settings.responses_per_prompt, _out(max_tokens))
        dpo = seed * settings.responses_per_prompt
    else:  # Self-Instruct, I-SHEEP: new tasks from the seed, then their responses
        tasks = seed * settings.instructions_per_seed
        _vllm(row, seed, settings.instructions_per_seed, _out(max_tokens))
        _vllm(row, tasks, settings.responses_per_instruction, _out(max_tokens))
        new = tasks * settings.responses_per_instruction
        sft = round(tasks * keep["sft"])
    rows.append(row)
    if method.has("review_new"):
        row = Row(name, iteration, "review_new")
        n, each = _votes(config, method, "review_new")
        _vllm(row, round(new * keep["clean"]), n, each)
        rows.append(row)
    return rows, sft, dpo


def _epochs(config: dict, stage: str, name: str) -> float:
    train = config["train"]
    own = (train.get("methods") or {}).get(name) or {}
    kind = "dpo" if stage == "train_dpo" else "sft"
    for block in (own.get(kind) or {}, own, train.get(kind) or {}, train):
        if block.get("num_train_epochs"):
            return float(block["num_train_epochs"])
    template = yaml.safe_load((REPO / "config" / "train" / f"{kind}.yaml").read_text())
    return float(template.get("num_train_epochs", 1.0))


def eval_items(config: dict) -> int:
    """Items one model is evaluated on: every benchmark's, capped at eval.settings.limit."""
    from ..evaluation.registry import BENCHMARKS

    limit = config["eval"]["settings"].get("limit")
    total = 0
    for item in config["eval"]["benchmarks"]:  # a name, or {"name", "benchmark"?, "subsets"?, "path"?}
        name = item if isinstance(item, str) else str(item.get("benchmark", item.get("name")))
        bench = BENCHMARKS.get(name)
        size = (config["eval"].get("arith", {}).get("n", 300) if name == "arith"
                else bench.test_items if bench else 1000)
        subsets, every = (item.get("subsets") if isinstance(item, dict) else None), (bench.all_subsets if bench else ())
        if isinstance(subsets, list) and every:  # some MMLU subjects, some MGSM languages: their share
            size = round(size * len(subsets) / len(every))
        total += min(size, limit) if limit else size
    return total


def counts(config: dict, seed: int, shares: dict | None = None) -> list[Row]:
    """Every stage's counts (no times yet): M_0 and the base model's evaluation, then each method's
    iterations."""
    items = eval_items(config)
    rows = [Row("base", 0, "evaluate", examples=items)]
    if config["train"]["m0"]:
        rows.append(Row("m0", 0, "train_sft", examples=round(seed * _epochs(config, "train_sft", "m0"))))
    rows.append(Row("m0", 0, "evaluate", examples=items))
    cap = config["annotate"].get("next_seed_limit")
    for name in config["methods"]:
        method = method_table.get(name)
        sft_total, dpo_total = seed, 0
        for t in range(1, method.iterations(config["iters"]) + 1):
            size = seed if t == 1 or not method.evolves_seed else seed + (cap if cap is not None else seed)
            data, sft, dpo = data_rows(config, name, t, size, shares)
            rows += data
            sft_total, dpo_total = sft_total + sft, dpo_total + dpo
            for stage, examples in (("train_sft", sft_total), ("train_dpo", dpo_total)):
                if method.has(stage):
                    rows.append(Row(name, t, stage, examples=round(examples * _epochs(config, stage, name))))
            rows.append(Row(name, t, "evaluate", examples=items))
    return rows


def load_config(configfiles: list[str] = (), entries: list[str] = ()) -> dict:
    """The config as the workflow sees it: config/config.yaml, each --configfile over it, then
    --config KEY=VALUE (Snakemake's own loader, merge and parser), validated with defaults filled in."""
    from snakemake.cli import parse_config
    from snakemake.common.configfile import load_configfile
    from snakemake.utils import update_config, validate

    config = load_configfile(str(REPO / "config" / "config.yaml"))
    for path in configfiles:
        update_config(config, load_configfile(path))
    update_config(config, parse_config(list(entries)))
    validate(config, str(REPO / "config" / "config.schema.yaml"))
    return config


def load_throughput(path: Path | str = THROUGHPUT) -> dict:
    return yaml.safe_load(Path(path).read_text())["devices"]


def timed(config: dict, rows: list[Row], device: dict) -> list[Row]:
    """Wall time and GPUs of each row on ``device`` (one entry of the throughput table), for the
    config's resources and shards. A shard stage runs config ``shards`` jobs side by side."""
    gen, train, ev = device["generation"], device["training"], device["evaluation"]
    resources = config["resources"]
    for row in rows:
        engine = ENGINE.get(row.stage)
        if engine is None:
            continue
        row.gpus = (resources.get(engine) or {}).get("gpu", 0)
        if engine == "vllm":
            row.jobs = config["shards"]
            if not row.requests:  # nothing to send: the job reads and writes, no engine starts
                row.wall_s = 0.0
                continue
            work = row.requests * gen["request_s"] + row.output_tokens / gen["output_tokens_per_s"]
            row.wall_s = gen["start_s"] + work / row.jobs
        elif engine == "llamafactory":
            start, rate = train["start_s"], train["samples_per_s_per_gpu"]
            if row.stage == "train_dpo":  # a pair: chosen and rejected, beside a reference model
                start, rate = train.get("dpo_start_s", start), train.get("pairs_per_s_per_gpu", rate / 2)
            row.wall_s = start + row.examples / (rate * max(row.gpus, 1))
        else:
            row.wall_s = ev["start_s"] + row.examples / (ev["items_per_s_per_gpu"] * max(row.gpus, 1))
    return rows


def plan(config: dict, device: str = DEFAULT_DEVICE, table: dict | None = None, seed: int | None = None) -> list[Row]:
    """The whole run's rows on one device of the throughput table."""
    table = load_throughput() if table is None else table
    if device not in table:
        raise KeyError(f"device {device!r} is not in {THROUGHPUT.relative_to(REPO)}; known: {', '.join(table)}")
    entry = table[device]
    return timed(config, counts(config, seed_size(config)[0] if seed is None else seed, entry.get("shares")), entry)


def totals(rows: list[Row]) -> dict:
    return {"requests": sum(r.requests for r in rows), "prompt_tokens": sum(r.prompt_tokens for r in rows),
            "output_tokens": sum(r.output_tokens for r in rows), "gpu_hours": sum(r.gpu_hours for r in rows),
            "wall_s": sum(r.wall_s for r in rows)}


def budget_problems(config: dict, table: dict | None = None, seed: int | None = None) -> list[str]:
    """budget.gpu_hours: the planned GPU-hours on budget.device must not exceed it; budget.device and
    report.cost_device must be entries of the throughput table."""
    budget = config.get("budget") or {}
    table = load_throughput() if table is None else table
    known = ", ".join(table)
    unknown = [f"{key}: {name!r} is not an entry of {THROUGHPUT.relative_to(REPO)} (known: {known})"
               for key, name in (("budget.device", budget.get("device", DEFAULT_DEVICE)),
                                 ("report.cost_device", (config.get("report") or {}).get("cost_device")))
               if name is not None and name not in table]
    cap = budget.get("gpu_hours")
    if unknown or cap is None:
        return unknown
    device = budget.get("device", DEFAULT_DEVICE)
    planned = totals(plan(config, device, table, seed))["gpu_hours"]
    if planned > cap:
        return [f"budget.gpu_hours: the plan needs {planned:,.1f} GPU-hours on {device} (./lance plan --device "
                f"{device}), over the budget of {cap:g}"]
    return []


def report_device(config: dict) -> str:
    """The throughput entry the report's predicted job times use: report.cost_device, else
    ``HERE`` when no engine asks for a GPU (the run is on this kind of machine), else budget.device."""
    chosen = (config.get("report") or {}).get("cost_device")
    if chosen:
        return chosen
    if not any((config["resources"].get(engine) or {}).get("gpu", 0) for engine in set(ENGINE.values())):
        return HERE
    return (config.get("budget") or {}).get("device", DEFAULT_DEVICE)


def run_name(row: Row) -> str:
    """The run folder a row's jobs write under results/benchmarks/ (base, iter0, <method>/iter<t>)."""
    if row.method == "base":
        return "base"
    return "iter0" if row.method == "m0" else f"{row.method}/iter{row.iteration}"


def job_seconds(rows: list[Row]) -> dict[str, dict[str, float]]:
    """{run: {stage: predicted seconds summed over the stage's jobs}}: what Snakemake's benchmark
    files of the same jobs add up to (lancekit.report.load.read_times sums a stage's shards)."""
    out: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.stage in ENGINE:
            by = out.setdefault(run_name(row), {})
            by[row.stage] = round(by.get(row.stage, 0.0) + row.jobs * row.wall_s, 1)
    return out


def _duration(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def table_text(rows: list[Row], device: str) -> str:
    """The plan as a text table: one line per stage per iteration, then the totals."""
    head = ("method", "iter", "stage", "requests", "prompt tok", "output tok", "examples", "jobs x GPUs",
            "wall", "GPU-h")
    lines = [head]
    for r in rows:
        lines.append((r.method, str(r.iteration), r.stage, f"{r.requests:,}", f"{r.prompt_tokens:,}",
                      f"{r.output_tokens:,}", f"{r.examples:,}", f"{r.jobs} x {r.gpus}", _duration(r.wall_s),
                      f"{r.gpu_hours:,.2f}"))
    t = totals(rows)
    lines.append(("total", "", "", f"{t['requests']:,}", f"{t['prompt_tokens']:,}", f"{t['output_tokens']:,}", "",
                  "", _duration(t["wall_s"]), f"{t['gpu_hours']:,.2f}"))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths)))
           for line in lines]
    return "\n".join([f"plan on {device} (a model's estimate: config/cost/throughput.yaml; "
                      "wall: stages one after another)", *out])
