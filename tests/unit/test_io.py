"""Atomic writes: no half-written file, device paths written through, and a command's
writes all or nothing (a transaction)."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from inventory import io
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


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_transaction_leaves_every_target_unchanged(tmp_path: Path) -> None:
    write_text(tmp_path / "a.txt", "old a")
    with pytest.raises(RuntimeError), io.transaction():
        write_text(tmp_path / "a.txt", "new a")
        write_json(tmp_path / "b.json", {"new": True})
        with io.atomic_path(tmp_path / "c.bin") as tmp:
            tmp.write_bytes(b"new c")
        assert (tmp_path / "a.txt").read_text() == "old a"  # nothing lands before the end
        assert io.read_json(tmp_path / "b.json") == {"new": True}  # but reads see it
        raise RuntimeError("half-way")
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert _names(tmp_path) == ["a.txt"]  # no target created, no temporary left


def test_a_successful_transaction_lands_every_file_and_the_last_write_wins(
    tmp_path: Path,
) -> None:
    write_text(tmp_path / "a.txt", "old a")
    with io.transaction():
        write_text(tmp_path / "a.txt", "first")
        write_text(tmp_path / "a.txt", "second")
        write_text(tmp_path / "sub" / "b.txt", "b")
    assert (tmp_path / "a.txt").read_text() == "second"
    assert (tmp_path / "sub" / "b.txt").read_text() == "b"
    assert _names(tmp_path) == ["a.txt", "sub"]


def test_a_staged_folder_replaces_the_old_one_only_on_success(tmp_path: Path) -> None:
    model = tmp_path / "model"
    write_text(model / "old.txt", "old")
    with pytest.raises(RuntimeError), io.transaction():
        staged = io.staging_folder(model)
        write_text(staged / "new.txt", "new")
        assert (staged / "new.txt").read_text() == "new"  # written at once inside
        raise RuntimeError("killed")
    assert _names(model) == ["old.txt"] and _names(tmp_path) == ["model"]
    with io.transaction():
        write_text(io.staging_folder(model) / "new.txt", "new")
        write_text(tmp_path / "meta.json", "{}")
    assert _names(model) == ["new.txt"] and _names(tmp_path) == ["meta.json", "model"]


def test_outside_a_transaction_writes_land_at_once(tmp_path: Path) -> None:
    assert io.staging_folder(tmp_path / "model") == tmp_path / "model"
    write_text(tmp_path / "a.txt", "a")
    assert (tmp_path / "a.txt").read_text() == "a"


def test_write_through_lands_inside_a_failed_transaction(tmp_path: Path) -> None:
    with pytest.raises(ValueError), io.transaction():
        write_text(tmp_path / "out.txt", "rolled back")
        with io.write_through():
            write_text(tmp_path / "report.json", "kept")
        raise ValueError("invalid data")
    assert _names(tmp_path) == ["report.json"]


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(child.stdout)


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    dead = _dead_pid()
    (tmp_path / f".costs.csv.inventory-{dead}-abc123.tmp").write_text("")
    (tmp_path / f".ppo.inventory-{dead}-x1.tmp").mkdir()
    live = tmp_path / f".other.csv.inventory-{os.getpid()}-zz.tmp"
    live.write_text("")
    write_text(tmp_path / "costs.csv", "new")  # the first write into a folder cleans it
    io.clean_stale(tmp_path)
    assert _names(tmp_path) == sorted(["costs.csv", live.name])


def test_a_full_disk_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(self: Path, *args: object, **kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    write_text(tmp_path / "out.txt", "old")
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(ValueError, match=r"out\.txt: could not write \(No space left"):
        write_text(tmp_path / "out.txt", "new")
    monkeypatch.undo()
    assert (tmp_path / "out.txt").read_text() == "old"
    assert _names(tmp_path) == ["out.txt"]


def test_data_generate_failing_half_way_keeps_the_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from inventory import stages
    from inventory.config import load_config

    config = load_config()
    written = stages.generate(config, tmp_path)
    before = {name: Path(path).read_bytes() for name, path in written.items()}
    real_write_csv = io.write_csv
    calls: list[Path] = []

    def fail_after_first(path: Path, frame: object) -> Path:
        calls.append(Path(path))
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write_csv(path, frame.iloc[:1])  # type: ignore[attr-defined]

    monkeypatch.setattr(io, "write_csv", fail_after_first)
    with pytest.raises(OSError), io.transaction():
        stages.generate(config, tmp_path)
    assert len(calls) == 2
    assert {name: Path(path).read_bytes() for name, path in written.items()} == before
    assert _names(tmp_path) == sorted(Path(p).name for p in written.values())


def test_transactions_in_two_threads_stay_apart(tmp_path: Path) -> None:
    """Prefect's thread-pool runner runs tasks side by side: one failing task's rollback
    must not take the other's files, nor may its files land with the other's commit."""
    import threading

    entered, failed = threading.Barrier(2), threading.Event()

    def failing() -> None:
        with pytest.raises(RuntimeError), io.transaction():
            write_text(tmp_path / "failed.txt", "x")
            entered.wait()
            raise RuntimeError("fault")
        failed.set()

    thread = threading.Thread(target=failing)
    thread.start()
    with io.transaction():
        write_text(tmp_path / "kept.txt", "y")
        entered.wait()
        assert failed.wait(10)
    thread.join()
    assert (tmp_path / "kept.txt").read_text() == "y"
    assert not (tmp_path / "failed.txt").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_prefect_task_that_fails_half_way_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each task runs its stage in one transaction (tasks/__init__.py)."""
    import tasks
    from inventory import stages

    def half_then_fault(config, layout=None):
        write_text(tmp_path / "first.json", "{}")
        raise ValueError("fault after the first file")

    monkeypatch.setattr(stages, "validate", half_then_fault)
    with pytest.raises(ValueError, match="fault after"):
        tasks.validate.fn("params.yaml")
    assert not (tmp_path / "first.json").exists()
    assert not list(tmp_path.glob(".*.tmp"))


def _old_and_new(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.rglob("*.txt"))}


def test_a_commit_cut_short_between_two_renames_is_finished_by_the_next_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rename failing half-way through a commit (what a kill between two renames does)
    leaves the journal, and the next transaction finishes the set instead of leaving
    part old, part new."""
    for name in ("a.txt", "b.txt", "sub/c.txt"):
        write_text(tmp_path / name, "old")
    real_replace, renamed = os.replace, []

    def fail_after_the_first_rename(src: object, dst: object) -> None:
        if not io.JOURNAL_PATTERN.match(Path(str(dst)).name):  # the journal's own writes
            if renamed:
                raise OSError(5, "Input/output error")
            renamed.append(dst)
        real_replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(io.os, "replace", fail_after_the_first_rename)
    with pytest.raises(OSError), io.transaction():
        for name in ("a.txt", "b.txt", "sub/c.txt"):
            write_text(tmp_path / name, "new")
    monkeypatch.undo()
    assert _old_and_new(tmp_path) == {"a.txt": "new", "b.txt": "old", "c.txt": "old"}
    journals = [p for p in tmp_path.rglob("*.journal") if io.JOURNAL_PATTERN.match(p.name)]
    assert len(journals) == 2  # one in each folder that holds a target

    with io.transaction():
        write_text(tmp_path / "other.txt", "x")
    assert _old_and_new(tmp_path) == {
        "a.txt": "new",
        "b.txt": "new",
        "c.txt": "new",
        "other.txt": "x",
    }
    assert _names(tmp_path) == ["a.txt", "b.txt", "other.txt", "sub"]  # no journal, no .tmp
    assert _names(tmp_path / "sub") == ["c.txt"]


def test_a_journal_of_a_dead_process_is_rolled_forward_by_the_next_clean(tmp_path: Path) -> None:
    dead = _dead_pid()
    for name in ("a.txt", "b.txt", "c.txt"):
        (tmp_path / name).write_text("old")
    (tmp_path / "a.txt").write_text("new")  # renamed before the kill
    tmp_b = tmp_path / f".b.txt.inventory-{dead}-x1.tmp"
    tmp_c = tmp_path / f".c.txt.inventory-{dead}-x2.tmp"
    tmp_b.write_text("new")
    tmp_c.write_text("new")
    journal = tmp_path / f".commit.inventory-{dead}-abc.journal"
    renames = [[str(tmp_path / n), str(t)] for n, t in (("b.txt", tmp_b), ("c.txt", tmp_c))]
    journal.write_text(json.dumps({"renames": renames, "copies": [str(journal)]}))
    write_text(tmp_path / "d.txt", "d")  # the first write into the folder cleans it
    assert _old_and_new(tmp_path) == {"a.txt": "new", "b.txt": "new", "c.txt": "new", "d.txt": "d"}
    assert _names(tmp_path) == ["a.txt", "b.txt", "c.txt", "d.txt"]


def test_a_journal_whose_last_copy_is_missing_never_started(tmp_path: Path) -> None:
    """Killed while writing the journal copies: no rename had begun, so the temporaries are
    stale and every target keeps its old content."""
    dead = _dead_pid()
    (tmp_path / "b.txt").write_text("old")
    tmp_b = tmp_path / f".b.txt.inventory-{dead}-x1.tmp"
    tmp_b.write_text("new")
    journal = tmp_path / f".commit.inventory-{dead}-abc.journal"
    copies = [str(journal), str(tmp_path / "elsewhere" / journal.name)]
    journal.write_text(
        json.dumps({"renames": [[str(tmp_path / "b.txt"), str(tmp_b)]], "copies": copies})
    )
    io.clean_stale(tmp_path)
    assert _names(tmp_path) == ["b.txt"] and (tmp_path / "b.txt").read_text() == "old"


def test_a_journal_that_claims_other_files_moves_and_deletes_nothing(tmp_path: Path) -> None:
    """A journal is read from disk: one naming a target that is not the sibling of an
    inventory temporary, or copies outside its folders, is not ours and is only dropped."""
    dead = _dead_pid()
    folder, outside = tmp_path / "out", tmp_path / "victim"
    folder.mkdir()
    outside.mkdir()
    (outside / "keep.txt").write_text("precious")
    (outside / "src.txt").write_text("planted")
    journal = folder / f".commit.inventory-{dead}-abc.journal"
    claims = [
        {"renames": [[str(outside / "keep.txt"), str(outside / "src.txt")]]},
        {"renames": [[str(outside / "keep.txt"), str(folder / ".keep.txt.inventory-1-a.tmp")]]},
        {
            "renames": [[str(folder / "a.txt"), str(folder / ".a.txt.inventory-1-a.tmp")]],
            "copies": [str(journal), str(outside / "keep.txt")],
        },
    ]
    (folder / ".keep.txt.inventory-1-a.tmp").write_text("planted")
    for claim in claims:
        journal.write_text(json.dumps({"copies": [str(journal)], **claim}))
        io.finish_commits(folder)
        assert not journal.exists()
    assert (outside / "keep.txt").read_text() == "precious"
    assert (outside / "src.txt").read_text() == "planted"


def _cut_short_commit(folder: Path, new: dict[str, str]) -> None:
    """A dead process's commit of ``new`` into ``folder``, killed after its first rename."""
    dead = _dead_pid()
    names = list(new)
    (folder / names[0]).write_text(new[names[0]])  # renamed before the kill
    renames = []
    for i, name in enumerate(names[1:]):
        tmp = folder / f".{name}.inventory-{dead}-r{i}.tmp"
        tmp.write_text(new[name])
        renames.append([str(folder / name), str(tmp)])
    journal = folder / f".commit.inventory-{dead}-read.journal"
    journal.write_text(json.dumps({"renames": renames, "copies": [str(journal)]}))


def test_a_reader_sees_a_commit_cut_short_finished_not_half_old(tmp_path: Path) -> None:
    """A read-only command (validate, recommend) reading a folder whose last commit was
    cut short between two renames reads the whole new set, not half old and half new."""
    write_json(tmp_path / "a.json", {"v": "old"})
    write_json(tmp_path / "b.json", {"v": "old"})
    _cut_short_commit(tmp_path, {"a.json": '{"v": "new"}', "b.json": '{"v": "new"}'})
    assert io.read_json(tmp_path / "a.json") == {"v": "new"}
    assert io.read_json(tmp_path / "b.json") == {"v": "new"}
    assert _names(tmp_path) == ["a.json", "b.json"]  # journal and temporary gone


def test_reading_a_csv_finishes_a_commit_cut_short_into_its_folder(tmp_path: Path) -> None:
    from inventory.data.schemas import read_raw

    (tmp_path / "x.csv").write_text("k,v\na,old\n")
    (tmp_path / "y.csv").write_text("k,v\na,old\n")
    _cut_short_commit(tmp_path, {"x.csv": "k,v\na,new\n", "y.csv": "k,v\na,new\n"})
    assert read_raw(tmp_path / "y.csv")["v"].tolist() == ["new"]


def test_a_cut_short_commit_of_relative_paths_and_a_staged_folder_is_finished(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `inventory train` writes, from a project run with relative paths: a model
    folder swapped in from staging plus a metrics file. A kill between the renames must be
    finished by the next run, not undone by deleting the new files (the journal records
    absolute paths, so a reader elsewhere recognises it as ours)."""
    monkeypatch.chdir(tmp_path)
    write_text(Path("models/ppo/policy.txt"), "old")
    write_text(Path("metrics/train.txt"), "old")
    real_replace, renamed = os.replace, []

    def fail_after_the_first_rename(src: object, dst: object) -> None:
        if not io.JOURNAL_PATTERN.match(Path(str(dst)).name):
            if renamed:
                raise OSError(5, "Input/output error")
            renamed.append(dst)
        real_replace(src, dst)  # type: ignore[arg-type]

    with pytest.raises(OSError), io.transaction():
        staged = io.staging_folder(Path("models/ppo"))
        write_text(staged / "policy.txt", "new")
        write_text(Path("metrics/train.txt"), "new")
        monkeypatch.setattr(io.os, "replace", fail_after_the_first_rename)  # the commit's
    monkeypatch.setattr(io.os, "replace", real_replace)
    model = Path("models/ppo/policy.txt")
    texts = {Path("metrics/train.txt").read_text(), model.read_text() if model.exists() else ""}
    assert texts != {"new"}  # cut short: not all new yet
    monkeypatch.chdir(tmp_path / "metrics")  # a later command, another working folder
    io.settle(tmp_path / "metrics")
    io.settle(tmp_path / "models")
    assert (tmp_path / "models/ppo/policy.txt").read_text() == "new"
    assert (tmp_path / "metrics/train.txt").read_text() == "new"
    assert _names(tmp_path / "metrics") == ["train.txt"]
    # the old model, set aside by the swap, waits for the next clean (its process is
    # alive here; after a kill the first write into models/ removes it)
    aside = [n for n in _names(tmp_path / "models") if n != "ppo"]
    assert all(io.TMP_PATTERN.match(n) for n in aside) and len(aside) <= 1


def test_a_folder_set_aside_comes_back_when_the_block_fails(tmp_path: Path) -> None:
    """A fresh training run sets the older checkpoints aside: a run that fails before
    writing its own (disk full) leaves them, a run that succeeds removes them."""
    write_text(tmp_path / "ckpt" / "step_1.txt", "older")
    with pytest.raises(RuntimeError), io.set_aside(tmp_path, "ckpt"):
        assert not (tmp_path / "ckpt").exists()
        raise RuntimeError("disk full")
    assert (tmp_path / "ckpt" / "step_1.txt").read_text() == "older"
    assert _names(tmp_path) == ["ckpt"]
    with io.set_aside(tmp_path, "ckpt"):
        write_text(tmp_path / "ckpt" / "step_2.txt", "newer")
    assert _names(tmp_path / "ckpt") == ["step_2.txt"]
    assert _names(tmp_path) == ["ckpt"]
    with pytest.raises(ValueError, match="outside"), io.set_aside(tmp_path, "../elsewhere"):
        pass


def test_weights_that_cannot_be_written_name_the_file(tmp_path: Path) -> None:
    """A full disk or a file size limit while saving a model (torch reports a RuntimeError
    of its zip writer) is a clear error naming the file, and no partial file is left."""
    script = f"""
import resource, signal
import torch
from inventory.model_files import save_tensors
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
try:
    save_tensors({{"w": torch.zeros(100_000)}}, {str(tmp_path / "policy.pt")!r})
except ValueError as error:
    print("ValueError:", error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "ValueError:" in done.stdout and "policy.pt: could not write" in done.stdout
    assert "file size limit" in done.stdout
    assert _names(tmp_path) == []
