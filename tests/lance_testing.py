"""What the tests share (a plain module, not a conftest.py: tests/integration has its own)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
