"""Where the checkout and the package live: the one place that works it out.

The workflow puts ``SRC`` on the path of every job it runs (``with_src``), so the entry points in
scripts/ and the OpenCompass task processes (which import our classes by dotted path) find
lancekit without an install.
"""

from __future__ import annotations

import os
from pathlib import Path

SRC = Path(__file__).resolve().parents[2]   # src/
REPO = SRC.parent                           # the checkout


def with_src(pythonpath: str | None) -> str:
    """``PYTHONPATH`` with ``SRC`` first (and only once)."""
    rest = [p for p in (pythonpath or "").split(os.pathsep) if p and Path(p).resolve() != SRC]
    return os.pathsep.join([str(SRC), *rest])
