"""Atomic writes (lancekit.core.io): the file mode follows the umask, which is read without
ever being changed (setting it to 0 and back races with threads creating files meanwhile)."""

import os
import stat

import pytest

from lancekit.core import io


def test_an_atomic_write_never_sets_the_umask_and_follows_it(tmp_path, monkeypatch):
    real_umask = os.umask
    before = real_umask(0o027)
    try:
        monkeypatch.setattr(os, "umask", lambda *a: pytest.fail("os.umask called after import"))
        io.write_text_atomic(tmp_path / "a.json", "x\n")
        assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
        assert (tmp_path / "a.json").read_text() == "x\n"
        monkeypatch.undo()
        real_umask(0o077)
        monkeypatch.setattr(os, "umask", lambda *a: pytest.fail("os.umask called after import"))
        io.write_json(tmp_path / "b.json", {"k": 1})
        assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o600
    finally:
        monkeypatch.undo()
        real_umask(before)
    assert not list(tmp_path.glob(".*.part"))


def test_the_umask_is_read_from_proc_and_falls_back_to_the_one_at_import(monkeypatch):
    before = os.umask(0o023)
    try:
        if io._proc_umask() is not None:  # Linux 4.7+
            assert io.current_umask() == 0o023
        monkeypatch.setattr(io, "_proc_umask", lambda: None)  # no /proc: the value read at import
        assert io.current_umask() == io._UMASK_AT_IMPORT
    finally:
        os.umask(before)
