#!/usr/bin/env bash
# Post-deploy step of envs/llamafactory.yaml (Snakemake runs it inside the freshly created env;
# by hand: run it with the env's python first on PATH, or PYTHON=/path/to/env/bin/python).
# Idempotent; edits no file of any installed package.
#
# Why: PyPI's torchvision/torchaudio wheels for Linux are linked against CUDA torch libraries
# (libc10_cuda.so, libtorch_cuda.so) that the CPU torch lacks:
#   - torchvision then breaks `import transformers` ("operator torchvision::nms does not exist").
#     LLaMA-Factory does not use it for text models -> uninstalled.
#   - torchaudio fails on import, and LLaMA-Factory 0.9.5 imports it unconditionally
#     (llamafactory/data/mm_plugin.py, only used to read audio files) -> every `llamafactory-cli
#     train` would fail. It is uninstalled and replaced by `lance-torchaudio-shim`, a one-module
#     wheel built here whose `torchaudio` module imports fine and raises a clear error on any use.
# Afterwards `pip check` reports llamafactory's torchvision/torchaudio requirements as missing:
# expected and harmless for text-only training.
set -euo pipefail

PY="${PYTHON:-python}"
SHIM_VERSION="1.0.0"

"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' >/dev/null

# 1) the CUDA-linked packages (no-ops when already gone). torchaudio must go before the shim is
#    (re)installed: both own torchaudio/__init__.py.
for pkg in torchvision torchaudio torchcodec; do
  if "$PY" -m pip show -q "$pkg" >/dev/null 2>&1; then
    "$PY" -m pip uninstall -y -q "$pkg"
  fi
done

# 2) build and (re)install the torchaudio stand-in (a pure-Python wheel, written with zipfile)
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$PY" - "$tmp" "$SHIM_VERSION" <<'PYEOF'
import base64, hashlib, sys, zipfile
out, version = sys.argv[1], sys.argv[2]
dist = "lance_torchaudio_shim"
init = '''"""Stand-in for torchaudio in the LANCE LLaMA-Factory env (installed by
envs/llamafactory.post-deploy.sh).

PyPI's torchaudio needs a CUDA build of torch; this env runs a CPU torch for text-only training.
LLaMA-Factory imports torchaudio only to read audio files, so importing works and any use fails.
"""

__version__ = "0.0.0+lance.shim"
_MSG = (
    "torchaudio is a stand-in in this environment (text-only LLaMA-Factory on a CPU torch, see "
    "envs/llamafactory.post-deploy.sh); audio is not supported"
)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise AttributeError(f"torchaudio.{name}: {_MSG}")
'''
files = {
    "torchaudio/__init__.py": init,
    f"{dist}-{version}.dist-info/METADATA": (
        f"Metadata-Version: 2.1\nName: lance-torchaudio-shim\nVersion: {version}\n"
        "Summary: import-only stand-in for torchaudio (LANCE LLaMA-Factory env)\n"
    ),
    f"{dist}-{version}.dist-info/WHEEL": (
        "Wheel-Version: 1.0\nGenerator: lance-post-deploy\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    ),
    f"{dist}-{version}.dist-info/top_level.txt": "torchaudio\n",
}
record = []
for name, text in files.items():
    data = text.encode()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{name},sha256={digest},{len(data)}")
record_name = f"{dist}-{version}.dist-info/RECORD"
record.append(f"{record_name},,")
files[record_name] = "\n".join(record) + "\n"
path = f"{out}/{dist}-{version}-py3-none-any.whl"
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
    for name, text in files.items():
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, text)
PYEOF
"$PY" -m pip install -q --no-deps --no-index --force-reinstall \
  "$tmp/lance_torchaudio_shim-${SHIM_VERSION}-py3-none-any.whl"

# 3) smoke test: the imports `llamafactory-cli train` / `export` need
"$PY" - <<'PYEOF'
import importlib.util
import torch, torchaudio, transformers  # noqa: F401
import llamafactory.data  # imports llamafactory/data/mm_plugin.py -> torchaudio
assert importlib.util.find_spec("torchvision") is None, "torchvision is still installed"
assert torchaudio.__version__.endswith("+lance.shim"), torchaudio.__file__
print(f"llamafactory env ok: torch {torch.__version__}, transformers {transformers.__version__}")
PYEOF
