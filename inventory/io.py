"""Atomic output helpers: write to a temporary file in the same folder, then rename.

A failed command never leaves a half-written output behind. Stages write only under
``artifacts/``, ``models/``, ``metrics/`` or ``reports/`` (and the generator under the data
folder, which no pipeline stage writes).

Inside ``with transaction():`` (every CLI command runs in one) a command's writes are
all or nothing: each writer leaves its temporary file next to its target, and the
temporaries are renamed into place together when the block succeeds, or all removed when
it fails. A folder written as a whole (a model folder) is built in a staging folder
(:func:`staging_folder`) and swapped in at the same moment. Temporary files and folders
are named ``.<name>.inventory-<pid>-<random>.tmp``; the first write into a folder removes
the ones whose process is gone (a ``kill -9`` leaves them behind).

A commit of more than one target first writes a journal (``.commit.inventory-<pid>-
<random>.journal``, the list of target <- temporary renames) into every folder that holds a
target, and removes it when every rename is done. A commit cut short between two renames
(``kill -9``, a failing rename) leaves the journal behind; the next read from any of those
folders (:func:`settle`, through :func:`read_json` or the CSV reader), the next
:func:`clean_stale` (the first write into it), or the next transaction of the same process
rolls it forward: it finishes the renames whose temporaries still exist, so the
targets end all new, never part old and part new.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pandas as pd

_P = ParamSpec("_P")
_R = TypeVar("_R")

__all__ = [
    "TMP_PATTERN",
    "atomic_path",
    "clean_stale",
    "staging_folder",
    "transaction",
    "write_through",
    "confined",
    "current_path",
    "finish_commits",
    "settle",
    "all_or_nothing",
    "remove_tree",
    "set_aside",
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
    path = confined(root, *parts)
    if path.is_symlink():
        path.unlink()  # never follow a link out of root
    elif path.exists():
        shutil.rmtree(path)


@contextlib.contextmanager
def set_aside(root: str | Path, *parts: str | Path) -> Iterator[None]:
    """Move the folder ``root / parts`` (checked by :func:`confined`) out of the way for
    the block: deleted when the block succeeds, put back when it fails and nothing took
    its place (a kill leaves it as a temporary of a dead process, removed by the next
    clean). For what a run replaces only once it has something better (checkpoints)."""
    path = confined(root, *parts)
    if not (path.exists() or path.is_symlink()):
        yield
        return
    aside = Path(tempfile.mkdtemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent))
    os.replace(path, aside / "old")
    try:
        yield
    except BaseException:
        if not (path.exists() or path.is_symlink()):
            os.replace(aside / "old", path)
        raise
    finally:
        _remove(aside)


TMP_PATTERN = re.compile(r"^\.(?P<name>.+)\.inventory-(?P<pid>\d+)-[A-Za-z0-9_]+\.tmp$")
"""Name of a temporary file or folder (``.<name>.inventory-<pid>-<random>.tmp``)."""

JOURNAL_PATTERN = re.compile(r"^\.commit\.inventory-(?P<pid>\d+)-[A-Za-z0-9_]+\.journal$")
"""Name of a commit's journal (module docstring)."""

_LEGACY_TMP = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp$")  # before the pid was in the name
_LEGACY_AGE_S = 3600.0


class _Transaction:
    """Temporaries waiting to be renamed onto their targets (files and folders)."""

    def __init__(self) -> None:
        self.pending: dict[Path, Path] = {}  # target -> temporary, in write order
        self.lock = threading.Lock()

    def register(self, target: Path, tmp: Path) -> None:
        target = _key(target)
        with self.lock:
            older = self.pending.pop(target, None)
            self.pending[target] = tmp
        if older is not None and older != tmp:
            _remove(older)  # written twice in one command: the last write wins

    def commit(self) -> None:
        """Rename every temporary into place, in one quick pass (journalled when there is
        more than one, so that a pass cut short is finished later)."""
        renames = list(self.pending.items())
        if len(renames) < 2:
            for target, tmp in renames:
                _rename_into_place(tmp, target)
            self.pending.clear()
            return
        try:
            journals = _write_journals(renames)
        except BaseException:
            self.rollback()
            raise
        try:
            for target, tmp in renames:
                _rename_into_place(tmp, target)
        except BaseException:
            _JOURNALS.unfinished.append(journals[-1])  # the next transaction finishes it
            raise
        finally:
            _JOURNALS.committing.discard(journals[-1].name)
        _remove_journals(journals)
        self.pending.clear()

    def rollback(self) -> None:
        for tmp in self.pending.values():
            _remove(tmp)
        self.pending.clear()


class _Journals:
    """This process's journals: of commits running now (never rolled forward by another
    thread) and of commits cut short by an error (finished by the next transaction)."""

    def __init__(self) -> None:
        self.committing: set[str] = set()
        self.unfinished: list[Path] = []


_JOURNALS = _Journals()


def _rename_into_place(tmp: Path, target: Path) -> None:
    if tmp.is_dir():
        _swap_folder(tmp, target)
    else:
        os.replace(tmp, target)


def _write_journals(renames: list[tuple[Path, Path]]) -> list[Path]:
    """Write the journal into each target's folder (the last one written last); return
    the copies in the order written."""
    name = f".commit.inventory-{os.getpid()}-{secrets.token_hex(6)}.journal"
    renames = [(_key(target), _key(tmp)) for target, tmp in renames]  # absolute, as read back
    folders = list(dict.fromkeys(target.parent for target, _ in renames))
    copies = [folder / name for folder in folders]
    record = {
        "renames": [[str(target), str(tmp)] for target, tmp in renames],
        "copies": [str(copy) for copy in copies],
    }
    _JOURNALS.committing.add(name)
    parts = [copy.with_name(_tmp_prefix(copy) + "part.tmp") for copy in copies]
    written: list[Path] = []
    try:
        for copy, part in zip(copies, parts, strict=True):
            part.write_text(json.dumps(record))
            os.replace(part, copy)
            written.append(copy)
    except OSError as exc:
        _JOURNALS.committing.discard(name)
        for path in (*written, *parts):
            path.unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise ValueError(f"{copies[len(written)]}: could not write ({reason})") from exc
    return copies


def _remove_journals(copies: list[Path]) -> None:
    """Remove a finished commit's journal, the last copy first (its absence marks the
    commit as finished or never started)."""
    for copy in (copies[-1], *copies[:-1]):
        copy.unlink(missing_ok=True)


def _ours(journal: Path, renames: list[tuple[Path, Path]], copies: list[Path]) -> bool:
    """Whether a journal read from disk records only what a commit writes: each rename
    puts an inventory temporary (:data:`TMP_PATTERN`) onto its sibling target, and each
    copy is this journal's name in one of those folders, this journal among them. A file
    that claims anything else is not ours and moves or deletes nothing."""
    folders = {target.parent for target, _ in renames}
    for target, tmp in renames:
        match = TMP_PATTERN.match(tmp.name)
        if tmp.parent != target.parent or match is None or match["name"] != target.name:
            return False
    return (
        bool(renames)
        and journal in copies
        and all(copy.name == journal.name and copy.parent in folders for copy in copies)
    )


def _roll_forward(journal: Path) -> None:
    """Finish the commit that ``journal`` records (or drop it when it never started)."""
    journal = _key(journal)
    try:
        record = json.loads(journal.read_text())
        renames = [(_key(Path(target)), _key(Path(tmp))) for target, tmp in record["renames"]]
        copies = [_key(Path(copy)) for copy in record["copies"]]
    except OSError:
        return  # gone already (finished by another process) or unreadable now
    except (ValueError, KeyError, TypeError):
        journal.unlink(missing_ok=True)  # written atomically: unreadable means not ours
        return
    if not _ours(journal, renames, copies):
        journal.unlink(missing_ok=True)
        return
    if copies[-1].exists():  # every copy was written, so the renames had begun
        for target, tmp in renames:
            if tmp.exists() or tmp.is_symlink():
                _rename_into_place(tmp, target)
    _remove_journals(copies)


def finish_commits(folder: str | Path) -> list[Path]:
    """Roll forward the journals in ``folder`` left by commits cut short (module
    docstring): of a process that is gone, or of this process when not running now.
    Returns the journals finished."""
    finished = []
    with contextlib.suppress(OSError):
        for entry in sorted(Path(folder).iterdir()):
            match = JOURNAL_PATTERN.match(entry.name)
            if match is None or entry.name in _JOURNALS.committing:
                continue
            pid = int(match["pid"])
            if pid == os.getpid() or not _pid_alive(pid):
                _roll_forward(entry)
                finished.append(entry)
    return finished


def settle(folder: str | Path) -> None:
    """Before a read from ``folder``, finish the commits into it that were cut short
    (:func:`finish_commits`), so that a reader never sees a set of outputs half old and
    half new. Finishing a dead process's commit is recovery, not a new write: it only
    renames into place the temporaries that commit had written. One folder listing when
    there is nothing to finish."""
    folder = Path(folder)
    if any(JOURNAL_PATTERN.match(entry.name) for entry in _entries(folder)):
        finish_commits(folder)


def _entries(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []


def _finish_unfinished() -> None:
    """Finish this process's commits that an error cut short (kept for later if the
    renames fail again)."""
    while _JOURNALS.unfinished:
        journal = _JOURNALS.unfinished.pop(0)
        if journal.exists():
            with contextlib.suppress(OSError):
                _roll_forward(journal)


def _key(path: Path) -> Path:
    return Path(os.path.abspath(path))


def current_path(path: str | Path) -> Path:
    """Where ``path``'s content is now: its pending temporary when the running transaction
    wrote it, else ``path`` (so a command reads its own outputs before they land). Its
    folder is settled first (:func:`settle`)."""
    settle(Path(path).parent)
    if _STATE.active:
        return _STATE.active[0].pending.get(_key(Path(path)), Path(path))
    return Path(path)


class _ThreadState(threading.local):
    """Per thread: the running transaction (at most one; nested blocks join it) and the
    write-through flags. Per thread, so that Prefect tasks running concurrently in one
    process (the thread-pool task runner) each get their own all-or-nothing block."""

    def __init__(self) -> None:
        self.active: list[_Transaction] = []
        self.through: list[bool] = []


_STATE = _ThreadState()
_CLEANED: set[Path] = set()


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _swap_folder(staged: Path, target: Path) -> None:
    """Put the staged folder in place of ``target`` (the old one is deleted)."""
    old = None
    if target.exists() or target.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=_tmp_prefix(target), suffix=".tmp", dir=target.parent))
        os.replace(target, old / "old")
    os.replace(staged, target)
    if old is not None:
        _remove(old)


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.inventory-{os.getpid()}-"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(folder: str | Path) -> list[Path]:
    """Remove the temporaries in ``folder`` whose process is gone, after finishing the
    commits that were cut short (:func:`finish_commits`).

    Also removes temporaries of the older naming (``.<name>.<random>.tmp``, no pid) once
    they are an hour old. Returns the paths removed.
    """
    folder = Path(folder)
    finish_commits(folder)
    removed = []
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            match = TMP_PATTERN.match(entry.name)
            stale = match is not None and not _pid_alive(int(match["pid"]))
            if match is None and _LEGACY_TMP.match(entry.name) and entry.is_file():
                stale = time.time() - entry.stat().st_mtime > _LEGACY_AGE_S
            if stale:
                _remove(entry)
                removed.append(entry)
    return removed


def _clean_once(folder: Path) -> None:
    key = folder.resolve()
    if key not in _CLEANED:
        _CLEANED.add(key)
        clean_stale(folder)


@contextlib.contextmanager
def transaction() -> Iterator[None]:
    """Make every write inside the block all or nothing.

    Writers (:func:`atomic_path` and the ``write_*`` helpers, :func:`staging_folder`)
    keep their temporaries until the block ends: on success all are renamed into place,
    on any exception (or ``SystemExit`` with a non-zero code) all are removed and no
    target is touched. A nested block joins the outer one.
    """
    if _STATE.active:
        yield
        return
    _finish_unfinished()
    current = _Transaction()
    _STATE.active.append(current)
    try:
        yield
    except SystemExit as exc:
        _STATE.active.remove(current)
        if exc.code in (None, 0):
            current.commit()
        else:
            current.rollback()
        raise
    except BaseException:
        _STATE.active.remove(current)
        current.rollback()
        raise
    _STATE.active.remove(current)
    current.commit()


def all_or_nothing(run: Callable[_P, _R]) -> Callable[_P, _R]:
    """``run`` inside :func:`transaction`, its signature kept (a CLI command, a Prefect
    task): every file it writes lands together, or none does."""

    @functools.wraps(run)
    def wrapped(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with transaction():
            return run(*args, **kwargs)

    return wrapped


@contextlib.contextmanager
def write_through() -> Iterator[None]:
    """Writes inside the block land at once even in a transaction (per-file atomic).

    For the report of a failure itself (``validation.json`` of invalid data), which must
    survive the error that rolls the rest of the command back.
    """
    _STATE.through.append(True)
    try:
        yield
    finally:
        _STATE.through.pop()


def staging_folder(folder: str | Path, *, keep: bool = False) -> Path:
    """The folder to write instead of ``folder``, swapped in when the transaction ends.

    Outside a transaction this is ``folder`` itself. Inside one, it is a fresh staging
    folder next to it (a copy of ``folder`` when ``keep`` and it exists); files written
    under it are renamed at once (per-file atomic), and the whole folder replaces
    ``folder`` on success.
    """
    folder = Path(folder)
    if not _STATE.active:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    _clean_once(folder.parent)
    staged = Path(tempfile.mkdtemp(prefix=_tmp_prefix(folder), suffix=".tmp", dir=folder.parent))
    if keep and folder.is_dir():
        staged.rmdir()
        shutil.copytree(folder, staged, symlinks=True)
    _STATE.active[0].register(folder, staged)
    return staged


def _in_staging(path: Path) -> bool:
    return any(TMP_PATTERN.match(part) for part in path.parent.parts)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left untouched. Inside
    a :func:`transaction` the rename waits for the end of the transaction (except under a
    staging folder). An ``OSError`` while writing (disk full) is re-raised as a
    ``ValueError`` that names ``path``.
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
    _clean_once(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    tmp_path.chmod(0o666 & ~umask)  # mkstemp creates 0600; outputs get the usual mode
    deferred = bool(_STATE.active) and not _STATE.through and not _in_staging(path)
    try:
        try:
            yield tmp_path
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ValueError(f"{path}: could not write ({reason})") from exc
        if deferred:
            _STATE.active[0].register(path, tmp_path)
        else:
            os.replace(tmp_path, path)
    finally:
        if not deferred or current_path(path) != tmp_path:
            tmp_path.unlink(missing_ok=True)


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


def read_json(path: str | Path, hint: str | None = None) -> Any:
    """Read a JSON file (as the running transaction left it, see :func:`current_path`).

    Args:
        path: The file.
        hint: What to do when the file is not valid JSON (default: rerun the command that
            writes it, or restore it with ``dvc pull``).

    Raises:
        ValueError: the file is not valid UTF-8 JSON; the message names the file and where
            parsing stopped.
    """
    try:
        return json.loads(current_path(path).read_bytes())
    except json.JSONDecodeError as exc:
        where = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError as exc:
        where = f"byte 0x{exc.object[exc.start]:02x} at offset {exc.start} is not UTF-8"
    hint = hint or "rerun the command that writes it, or restore it with `dvc pull`"
    raise ValueError(f"{path} is not valid JSON ({where}); {hint}") from None
