"""Atomic output helpers: write to a temporary file in the same folder, then rename.

A failed command never leaves a half-written output behind. Stages write only under
``artifacts/``, ``models/``, ``metrics/`` or ``reports/`` (and the generator under the data
folder, which no pipeline stage writes).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = [
    "atomic_path",
    "confined",
    "remove_tree",
    "write_text",
    "write_json",
    "write_csv",
    "read_json",
]


def confined(root: str | Path, *parts: str | Path) -> Path:
    """``root / parts``, checked to stay strictly inside ``root`` once resolved.

    Every output folder or file whose name is built from an identifier (mode, location,
    SKU) goes through here, and so does every delete, so no name like ``x/../..`` can make
    a command write or delete outside its own folder.

    Args:
        root: The output folder (``models``, ``artifacts/locations``, ...).
        parts: Path parts below it, relative.

    Returns:
        ``Path(root, *parts)`` as given (not resolved), so printed paths stay short.

    Raises:
        ValueError: a part is absolute, or the resolved path is ``root`` itself or
            outside it (``..``, a symbolic link pointing out).
    """
    path = Path(root, *parts)
    base = Path(root).resolve()
    target = path.resolve()
    if any(Path(part).is_absolute() for part in parts) or not target.is_relative_to(base):
        raise ValueError(f"{path}: refusing to write or delete outside {root}/")
    if target == base:
        raise ValueError(f"{path}: refusing to write or delete {root}/ itself")
    return path


def remove_tree(root: str | Path, *parts: str | Path) -> None:
    """Delete the folder ``root / parts`` (if present) after :func:`confined` checked it."""
    import shutil

    path = confined(root, *parts)
    if path.is_symlink():
        path.unlink()  # never follow a link out of root
    elif path.exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched.
    A ``path`` that exists and is not a regular file (``/dev/null``, ``/dev/stdout``, a
    FIFO) is written through, never replaced: renaming onto ``/dev/null`` as root would
    turn the device into a plain file for every process on the machine.
    """
    path = Path(path)
    if path.exists() and not path.is_file() and not path.is_dir():
        with tempfile.TemporaryDirectory() as scratch:
            tmp_path = Path(scratch) / path.name
            yield tmp_path
            with open(path, "wb") as sink:
                sink.write(tmp_path.read_bytes())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual mode
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write ``text`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):  # numpy arrays and numpy scalars
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_json(path: str | Path, payload: Any) -> Path:
    """Atomically write ``payload`` as indented JSON (numpy scalars and arrays allowed)."""
    return write_text(path, json.dumps(payload, indent=2, default=_json_default) + "\n")


def write_csv(path: str | Path, frame: pd.DataFrame) -> Path:
    """Atomically write a DataFrame as CSV without the index."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return Path(path)


def read_json(path: str | Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())
