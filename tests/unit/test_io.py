"""Atomic writes: no half-written file, and device paths are written through, not replaced."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from inventory.io import write_json, write_text


def test_write_leaves_the_old_file_when_it_fails(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    write_text(target, "old")
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_a_fifo_is_written_through_not_replaced(tmp_path: Path) -> None:
    """Renaming onto /dev/null as root replaces the device; a FIFO shows the same path."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_text(fifo, "hello")
        assert os.read(reader, 100) == b"hello"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


def test_dev_null_stays_a_device() -> None:
    if not Path("/dev/null").exists():
        pytest.skip("no /dev/null")
    write_text("/dev/null", "discarded")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
