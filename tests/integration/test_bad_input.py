"""Bad input, table-driven: every case is one error (exit 1) or usage message (exit 2), never
a traceback, and nothing outside the project folder is created, changed or removed.

Add a case with one line in :data:`CASES`: an id, the command line, an optional edit of the
project made before the run (``EDITS``), the exit code and a word the message must hold.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest

from inventory import cli
from tests.conftest import SEED_DATA
from tests.integration.cli import run_inventory as run

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_SCRIPT = "</script><img src=x onerror=alert(1)>"
HOSTILE_FORMULA = "=cmd|' /C calc'!A0"


class Case(NamedTuple):
    args: tuple[str, ...]
    edit: str | None  # key of EDITS, applied to a fresh copy of the project
    code: int  # 1: error line, 2: usage message
    needle: str  # must appear in stderr


def _replace_in_data(old: str, new: str) -> Callable[[Path], None]:
    """Replace an id in every data file (catalog, history, forecast, POs, warehouse)."""

    def edit(project: Path) -> None:
        for path in (project / "data").glob("*.csv"):
            path.write_text(path.read_text().replace(old, new))

    return edit


def _catalog_cell(column: str, value: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / "data" / "catalog.csv"
        lines = path.read_text().splitlines()
        header = lines[0].split(",")
        cells = lines[1].split(",")
        cells[header.index(column)] = value
        lines[1] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")

    return edit


def _catalog_header(old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / "data" / "catalog.csv"
        header, rest = path.read_text().split("\n", 1)
        path.write_text(header.replace(old, new, 1) + "\n" + rest)

    return edit


def _file(name: str, text: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        (project / name).write_text(text)

    return edit


def _planted(name: str, text: str) -> Callable[[Path], None]:
    """Write a file below the project, making its folders (a model or checkpoint file)."""

    def edit(project: Path) -> None:
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)

    return edit


def _adhoc_link_out(project: Path) -> None:
    """reports/adhoc/ (where recommend --state writes) a link to the victim outside."""
    (project / "state.csv").write_text("sku,on_hand\nSKU001,4\n")
    (project / "reports").mkdir(exist_ok=True)
    (project / "reports" / "adhoc").symlink_to(project.parent.parent / "outside" / "victim")


def _latin1_catalog(project: Path) -> None:
    path = project / "data" / "catalog.csv"
    path.write_bytes(path.read_bytes().replace(b"SKU002", "SKU\u00e902".encode("latin-1")))


def _params(old: str, new: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        path = project / "params.yaml"
        path.write_text(path.read_text().replace(old, new, 1))

    return edit


def _seed_items(column: str, value: str) -> Callable[[Path], None]:
    def edit(project: Path) -> None:
        if not (SEED_DATA / "item_inventory.csv").exists():
            pytest.skip(f"seed data not found at {SEED_DATA}")
        lines = (SEED_DATA / "item_inventory.csv").read_text().splitlines()
        header, cells = lines[0].split(","), lines[1].split(",")
        cells[header.index(column)] = value
        lines[1] = ",".join(cells)
        (project / "items.csv").write_text("\n".join(lines) + "\n")

    return edit


_NEW = "sku,week,demand\n"
MODEL = "models/ppo_stochastic"
STEP = f"{MODEL}.checkpoints/step_0000000128"
EDITS: dict[str, Callable[[Path], None]] = {
    "location path": _replace_in_data(",L1,", ",x/../../../victim,"),
    "location dotdot": _replace_in_data(",L1,", ",L..1,"),
    "sku path": _replace_in_data("SKU001,", "../../SKU001,"),
    "sku script": _replace_in_data("SKU001,", HOSTILE_SCRIPT + ","),
    "sku formula": _replace_in_data("SKU001,", HOSTILE_FORMULA + ","),
    "sku at-formula": _replace_in_data("SKU002,", "@SUM(1+1),"),
    "volume 1e308": _catalog_cell("volume", "1e308"),
    "cost inf": _catalog_cell("lost_sale_cost", "inf"),
    "seed volume 1e308": _seed_items("volume", "1e308"),
    "seed leadtime 1e308": _seed_items("leadtime", "1e308"),
    "csv sku formula": _file("demand.csv", _NEW + "=1+2,2024-01-01,3\n"),
    "csv sku script": _file("demand.csv", _NEW + f"{HOSTILE_SCRIPT},2024-01-01,3\n"),
    "new-demand day/month": _file("new.csv", _NEW + "SKU001,03/04/2024,3\n"),
    "new-demand month/day": _file("new.csv", _NEW + "SKU001,12/31/2024,3\n"),
    "new-demand script sku": _file("new.csv", _NEW + f"{HOSTILE_SCRIPT},2024-01-01,3\n"),
    "new-demand path sku": _file("new.csv", _NEW + "../../x,2024-01-01,3\n"),
    "state empty sku": _file("state.csv", "sku,on_hand\n,3\nSKU001,4\n"),
    "state blank sku": _file("state.csv", "sku,on_hand\nSKU001,4\n  ,5\n"),
    "state 1e308": _file("state.csv", "sku,on_hand\nSKU001,1e308\n"),
    "adhoc link out": _adhoc_link_out,
    "no locations": _params("  locations: [L1]", "  locations: []"),
    "bad location": _params("  locations: [L1]", "  locations: [../up]"),
    "catalog volme": _catalog_header("volume", "volme"),
    "catalog extra": _catalog_header("last_order", "last_order,colour"),
    "lead time 60": _catalog_cell("lead_time_weeks", "60"),
    "lead time 104": _catalog_cell("lead_time_weeks", "104"),
    "ramp floor": _catalog_cell("last_order", "1e9"),
    "ramp floor zero": lambda p: (
        _catalog_cell("ramp_limit", "0")(p),
        _catalog_cell("last_order", "1e7")(p),
    ),
    "ramp band fractional": lambda p: (
        _catalog_cell("ramp_limit", "0.2")(p),
        _catalog_cell("last_order", "17.5")(p),
    ),
    "ramp floor fractional": lambda p: (  # the floor fits as 212.02 units, not as 213
        _catalog_cell("ramp_limit", "0.5")(p),
        _catalog_cell("last_order", "212.52")(p),
    ),
    "csv week and date": _file(
        "demand.csv", "sku,week,date,demand\nSKU001,2024-01-01,2024-01-01,3\n"
    ),
    "new week and date": _file("new.csv", "sku,week,date,demand\nSKU001,2024-01-01,2024-01-01,3\n"),
    "csv 1924": _file("demand.csv", "sku,date,demand\nSKU001,1924-01-03,3\nSKU001,2024-01-03,3\n"),
    "csv 2200": _file("demand.csv", _NEW + "SKU001,2200-01-06,3\nSKU001,2024-01-01,3\n"),
    "csv 110 years": _file("demand.csv", _NEW + "SKU001,1990-01-01,3\nSKU001,2099-12-28,3\n"),
    "new 1924": _file("new.csv", _NEW + "SKU001,1924-01-01,3\n"),
    "csv 25 years": _file(
        "demand.csv", "sku,date,demand\nSKU001,2000-01-05,3\nSKU001,2025-01-08,1\n"
    ),
    "time limit inf": _file("mine.yaml", "milp: {safety_time_limit_s: .inf}\n"),
    "time limit nan": _file("mine.yaml", "milp: {safety_time_limit_s: .nan}\n"),
    "rolling limit negative": _file("mine.yaml", "milp: {rolling_safety_time_limit_s: -30}\n"),
    "rolling limit text": _file("mine.yaml", "milp: {rolling_safety_time_limit_s: soon}\n"),
    "quantiles unsorted": _file("mine.yaml", "forecast: {quantiles: [0.9, 0.5, 0.1]}\n"),
    "quantiles repeated": _file("mine.yaml", "forecast: {quantiles: [0.5, 0.5]}\n"),
    "quantiles outside": _file("mine.yaml", "forecast: {quantiles: [0.5, 1.5]}\n"),
    "quantiles empty": _file("mine.yaml", "forecast: {quantiles: []}\n"),
    "quantiles text": _file("mine.yaml", "forecast: {quantiles: [low, high]}\n"),
    "deep yaml": _file("deep.yaml", "[" * 5000 + "]" * 5000 + "\n"),
    "deep yaml map": _file("deep.yaml", "{a: " * 3000 + "1" + "}" * 3000 + "\n"),
    "deep yaml 10000": _file("deep.yaml", "[" * 10_000 + "]" * 10_000 + "\n"),
    "deep yaml block": _file("deep.yaml", "".join(" " * i + "a:\n" for i in range(200))),
    "yaml laughs": _file(
        "deep.yaml",
        "forecast:\n  models: [&a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
        + "".join(f", &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10))
        + "]\n  quantiles: *a9\ndata: {dir: *a9}\n",
    ),
    "yaml self alias": _file("deep.yaml", "forecast: {models: &m [naive, *m]}\n"),
    "catalog latin-1": _latin1_catalog,
    "simulation location path": _file("mine.yaml", "simulation: {location: ../../victim}\n"),
    "meta not json": lambda p: (
        _params("  policy: best ", "  policy: ppo  ")(p),
        _planted(f"{MODEL}/meta.json", "{oops")(p),
        _planted(f"{MODEL}/policy.pt", "")(p),
    ),
    "state not json": _planted(f"{STEP}/state.json", "{oops"),
    "state of other settings": _planted(
        f"{STEP}/state.json", '{"inputs": {"settings": {"ppo.quick.learning_rate": 1}}}'
    ),
    "state of an older version": _planted(f"{STEP}/state.json", '{"timesteps": 128}'),
    # issue 13, silently accepted or late: refused when params are read, naming the key
    "key twice": _file("mine.yaml", "data:\n  n_skus: 4\n  n_skus: 6\n"),
    "empty params": _file("mine.yaml", ""),
    "batch not dividing": _file("mine.yaml", "ppo: {quick: {batch_size: 7}}\n"),
    "policy path": _file("mine.yaml", "evaluation: {policies: [order_up_to, ../x]}\n"),
    "stress path": _file("mine.yaml", "stress: {scenarios: [../x]}\n"),
    "start soon": _file("mine.yaml", "data: {start_week: soon}\n"),
    "start wednesday": _file("mine.yaml", "data: {start_week: 2023-05-03}\n"),
    "locations empty": _file("mine.yaml", "data: {locations: []}\n"),
    "reference unknown": _file("mine.yaml", "evaluation: {reference_policy: nosuch}\n"),
    "drift method": _file("mine.yaml", "drift: {method: nosuch}\n"),
    "models empty": _file("mine.yaml", "forecast: {models: []}\n"),
    "recommend policy": _file("mine.yaml", "recommend: {policy: nosuch}\n"),
    "new-demand repeat": _file("new.csv", _NEW + "SKU001,2023-05-01,9\nSKU001,2023-05-01,3\n"),
    "new-demand colour": _file("new.csv", "sku,week,demand,colour\nSKU001,2023-05-01,3,red\n"),
    "new-demand latin-1": lambda p: (p / "new.csv").write_bytes(
        b"sku,week,demand,colour\nSKU001,2023-05-01,3,caf\xe9\n"
    ),
    "new-demand 1 SKU 5 weeks": _file(
        "new.csv", _NEW + "".join(f"SKU001,2023-05-{d:02d},5\n" for d in (1, 8, 15, 22, 29))
    ),
    "new-demand 4 SKUs 1 week": _file(
        "new.csv", _NEW + "".join(f"SKU00{i},2023-05-01,5\n" for i in range(1, 5))
    ),
    "catalog utf-16": lambda p: (p / "data" / "catalog.csv").write_bytes(
        (p / "data" / "catalog.csv").read_text().encode("utf-16")
    ),
    "csv folder": lambda p: (p / "d.csv").mkdir(),
}

SEED = ("--forecast", str(SEED_DATA / "demand_forecast.csv"))
SEED_POS = ("--open-pos", str(SEED_DATA / "open_purchase_orders.csv"))
IMPORT_SEED = ("data", "import-seed", "--items", "items.csv", *SEED, *SEED_POS, "--out", "data")
NEW_DEMAND = ("drift", "--new-demand", "new.csv")
STATE = ("recommend", "--state", "state.csv")
MINE = ("--params", "mine.yaml", "params")
DEEP = ("--params", "deep.yaml", "params")
RESUME = ("train", "--resume")

CASES: dict[str, Case] = {
    # path-like ids: refused where they enter, before any folder is built or removed
    "mode up two": Case(("train", "--mode", "stochastic/../.."), None, 2, "--mode"),
    "mode absolute": Case(("train", "--mode", "/tmp"), None, 2, "--mode"),
    "solve mode path": Case(("solve", "--mode", "../deterministic"), None, 2, "--mode"),
    "location option path": Case(("train", "--location", "x/../../../victim"), None, 2, "valid"),
    "location option abs": Case(("train", "--location", "/etc"), None, 2, "identifier"),
    "catalog location path": Case(("validate",), "location path", 1, "location"),
    "catalog location dotdot": Case(("validate",), "location dotdot", 1, "'..'"),
    "catalog sku path": Case(("validate",), "sku path", 1, "sku"),
    "train bad catalog": Case(("train", "--mode", "deterministic"), "location path", 1, "location"),
    # script and formula SKU names: rejected by the schema
    "sku script": Case(("validate",), "sku script", 1, "letters, digits"),
    "sku formula": Case(("validate",), "sku formula", 1, "letters, digits"),
    "sku at-formula": Case(("validate",), "sku at-formula", 1, "letters, digits"),
    "import-csv formula": Case(("data", "import-csv", "demand.csv"), "csv sku formula", 1, "sku"),
    "import-csv script": Case(("data", "import-csv", "demand.csv"), "csv sku script", 1, "sku"),
    # overflowing numbers
    "catalog 1e308": Case(("validate",), "volume 1e308", 1, "between"),
    "catalog inf": Case(("solve",), "cost inf", 1, "lost_sale_cost"),
    "seed 1e308 volume": Case(IMPORT_SEED, "seed volume 1e308", 1, "volume"),
    "seed 1e308 lead time": Case(IMPORT_SEED, "seed leadtime 1e308", 1, "leadtime"),
    # inputs of drift and recommend
    "new-demand day/month": Case(NEW_DEMAND, "new-demand day/month", 1, "YYYY-MM-DD"),
    "new-demand month/day": Case(NEW_DEMAND, "new-demand month/day", 1, "YYYY-MM-DD"),
    "new-demand script": Case(NEW_DEMAND, "new-demand script sku", 1, "sku"),
    "new-demand path": Case(NEW_DEMAND, "new-demand path sku", 1, "sku"),
    "state empty sku": Case(STATE, "state empty sku", 1, "empty"),
    "state blank sku": Case(STATE, "state blank sku", 1, "line"),
    "state 1e308": Case(STATE, "state 1e308", 1, "on_hand"),
    "adhoc folder links out": Case(STATE, "adhoc link out", 1, "refusing to write"),
    # unknown columns, ambiguous time columns, impossible dates (issue 13 item 5)
    "catalog typo column": Case(("validate",), "catalog volme", 1, "volme"),
    "catalog extra column": Case(("validate",), "catalog extra", 1, "colour"),
    "week and date": Case(("data", "import-csv", "demand.csv"), "csv week and date", 1, "both"),
    "new week and date": Case(NEW_DEMAND, "new week and date", 1, "both a week and a date"),
    "date 1924": Case(("data", "import-csv", "demand.csv"), "csv 1924", 1, "1990-01-01"),
    "week 2200": Case(("data", "import-csv", "demand.csv"), "csv 2200", 1, "2100-12-31"),
    "history 110 years": Case(("data", "import-csv", "demand.csv"), "csv 110 years", 1, "spans"),
    "history 25 years": Case(("data", "import-csv", "demand.csv"), "csv 25 years", 1, "spans"),
    "new-demand 1924": Case(NEW_DEMAND, "new 1924", 1, "1990-01-01"),
    "lead time 60": Case(("validate",), "lead time 60", 1, "SKU001"),
    "lead time 104": Case(("validate",), "lead time 104", 1, "lead_time_weeks"),
    # hard constraints proven infeasible: the ramp floor does not fit the containers
    "ramp floor": Case(("validate",), "ramp floor", 1, "ramp floor"),
    "ramp floor zero": Case(("validate",), "ramp floor zero", 1, "SKU001 must order >= 1e+07"),
    "ramp band fractional": Case(("validate",), "ramp band fractional", 1, "allow <= 17"),
    "ramp floor fractional": Case(("validate",), "ramp floor fractional", 1, "largest floors"),
    # usage errors and unknown commands: the usage message, exit 2
    "missing argument": Case(("data", "import-csv"), None, 2, "Usage"),
    "unknown command": Case(("nosuch",), None, 2, "nosuch"),
    "unknown data command": Case(("data", "nosuch"), None, 2, "nosuch"),
    "unknown option": Case(("validate", "--nosuch"), None, 2, "--nosuch"),
    "bad evaluate mode": Case(("evaluate", "--mode", "all"), None, 2, "--mode"),
    "bad profile": Case(("train", "--profile", "huge"), None, 2, "--profile"),
    # params that generate no or bad data
    "no locations": Case(("data", "generate"), "no locations", 1, "data.locations"),
    "bad location": Case(("data", "generate"), "bad location", 1, "../up"),
    # bad params values: the dotted key and its allowed range
    "time limit inf": Case(MINE, "time limit inf", 1, "safety_time_limit_s: must be a finite"),
    "time limit nan": Case(MINE, "time limit nan", 1, "> 0 and <= 86400 (got nan)"),
    "rolling limit negative": Case(MINE, "rolling limit negative", 1, "> 0 and <= 86400"),
    "rolling limit text": Case(MINE, "rolling limit text", 1, "rolling_safety_time_limit_s"),
    "quantiles unsorted": Case(MINE, "quantiles unsorted", 1, "forecast.quantiles"),
    "quantiles repeated": Case(MINE, "quantiles repeated", 1, "without repeats"),
    "quantiles outside": Case(MINE, "quantiles outside", 1, "between 0 and 1"),
    "quantiles empty": Case(MINE, "quantiles empty", 1, "forecast.quantiles"),
    "quantiles text": Case(MINE, "quantiles text", 1, "forecast.quantiles[0]"),
    # params files that would exhaust the stack or memory: refused, naming the file
    "deep yaml": Case(DEEP, "deep yaml", 1, "deep.yaml: nested deeper"),
    "deep yaml map": Case(DEEP, "deep yaml map", 1, "deep.yaml: nested deeper"),
    "deep yaml 10000": Case(DEEP, "deep yaml 10000", 1, "deep.yaml: nested deeper"),
    "deep yaml block": Case(DEEP, "deep yaml block", 1, "deep.yaml: nested deeper"),
    "yaml laughs": Case(DEEP, "yaml laughs", 1, "deep.yaml: holds more than"),
    "yaml self alias": Case(DEEP, "yaml self alias", 1, "deep.yaml: alias *m"),
    # text that is not UTF-8: the byte, its line and what to do
    "catalog latin-1": Case(("validate",), "catalog latin-1", 1, "not UTF-8 text (byte 0xe9"),
    # ids in params: the id rule at load time
    "params location path": Case(MINE, "simulation location path", 1, "simulation.location"),
    # model files and checkpoints that cannot be used: named, with what to do
    "meta.json not json": Case(("recommend",), "meta not json", 1, "meta.json is not valid JSON"),
    "state.json not json": Case(RESUME, "state not json", 1, "state.json is not valid JSON"),
    "resume other settings": Case(RESUME, "state of other settings", 1, "other settings or data"),
    "resume older version": Case(RESUME, "state of an older version", 1, "records no settings"),
    # issue 13, silently accepted or late (the probe's y12, y15, y27, p22, p23, y10, y11,
    # y20, y21, y28, y31, y24, d61, d63, d62, d53, d57, d52, c11, c14, o01, o02)
    "key twice": Case(MINE, "key twice", 1, "data.n_skus: given twice (lines 2 and 3)"),
    "empty params": Case(MINE, "empty params", 1, "mine.yaml: holds no keys"),
    "batch not dividing": Case(MINE, "batch not dividing", 1, "batch_size (7) must divide"),
    "policy path": Case(MINE, "policy path", 1, "evaluation.policies[1]: must be one of"),
    "stress path": Case(MINE, "stress path", 1, "stress.scenarios[0]: must be one of"),
    "start soon": Case(MINE, "start soon", 1, "data.start_week: must be a date YYYY-MM-DD"),
    "start wednesday": Case(MINE, "start wednesday", 1, "2023-05-03 is a Wednesday"),
    "locations empty": Case(MINE, "locations empty", 1, "data.locations: empty"),
    "reference unknown": Case(MINE, "reference unknown", 1, "reference_policy: must be one of"),
    "drift method": Case(MINE, "drift method", 1, "drift.method: must be one of 'anderson'"),
    "models empty": Case(MINE, "models empty", 1, "forecast.models: empty"),
    "recommend policy": Case(MINE, "recommend policy", 1, "recommend.policy: must be one of"),
    "params a folder": Case(("--params", ".", "params"), None, 1, "is a folder, not a params"),
    "new-demand repeat": Case(NEW_DEMAND, "new-demand repeat", 1, "on lines 2, 3"),
    "new-demand colour": Case(NEW_DEMAND, "new-demand colour", 1, "unknown column(s) colour"),
    "new-demand latin-1": Case(NEW_DEMAND, "new-demand latin-1", 1, "new.csv: not UTF-8 text"),
    "new-demand short": Case(NEW_DEMAND, "new-demand 1 SKU 5 weeks", 1, "5 week(s) of 1 SKU(s)"),
    "new-demand 1 week": Case(NEW_DEMAND, "new-demand 4 SKUs 1 week", 1, "at least 2 SKU blocks"),
    "catalog utf-16": Case(("validate",), "catalog utf-16", 1, "UTF-16 text; save the file as"),
    "csv a folder": Case(("data", "import-csv", "d.csv"), "csv folder", 1, "is a folder, not a"),
    "out a file": Case(
        ("data", "generate", "--out", "data/catalog.csv"), None, 2, "catalog.csv is a file"
    ),
    "recommend out a file": Case(
        ("recommend", "--out", "data/catalog.csv"), None, 2, "catalog.csv is a file"
    ),
}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the shipped params, the generated data and the forecast stage run."""
    folder = tmp_path_factory.mktemp("base") / "project"
    folder.mkdir()
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    for args in (("data", "generate"), ("forecast",)):
        result = run(folder, *args)
        assert result.returncode == 0, result.stderr
    return folder


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>"
        for p in sorted(folder.rglob("*"))
    }


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_message_and_touches_nothing_outside(
    name: str, base: Path, tmp_path: Path
) -> None:
    case = CASES[name]
    outside = tmp_path / "outside"  # what x/../../../victim would reach from the project
    (outside / "victim").mkdir(parents=True)
    (outside / "victim" / "keep.txt").write_text("precious")
    project = Path(shutil.copytree(base, tmp_path / "work" / "project"))
    if case.edit:
        EDITS[case.edit](project)
    before_outside, before_data = _snapshot(tmp_path), _snapshot(project / "data")
    result = run(project, *case.args)
    assert result.returncode == case.code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert case.needle in result.stderr, result.stderr
    if case.code == 1:
        assert result.stderr.startswith("error: "), result.stderr
    else:
        assert "Usage:" in result.stderr, result.stderr
    after = _snapshot(tmp_path)
    changed = {
        key
        for key in set(before_outside) | set(after)
        if not key.startswith("work/project/") and before_outside.get(key) != after.get(key)
    }
    assert not changed, changed
    assert _snapshot(project / "data") == before_data  # a failed command writes no data
    assert not (project.parent / "models").exists() and not (project.parent / "metrics").exists()


def test_the_last_resort_line_names_the_command_and_hints_at_debug(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No known input reaches the last resort any more, so a fault is planted in-process."""

    def fault(path: object) -> None:
        raise RuntimeError("planted fault\nsecond line")

    monkeypatch.setattr(cli, "load_config", fault)
    monkeypatch.setattr(sys, "argv", ["inventory", "--params", "mine.yaml", "params"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    lines = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 1
    assert len(lines) == 1 and lines[0].startswith("error: inventory params failed"), lines
    assert "mine.yaml" in lines[0] and "--debug" in lines[0]
    monkeypatch.setattr(sys, "argv", ["inventory", "--debug", "--params", "mine.yaml", "params"])
    with pytest.raises(RuntimeError, match="planted fault"):
        cli.main()


ESCAPES = "\x1b]0;PWN\x07\x1b[2J"  # retitles, then clears, a terminal that prints it raw


def test_control_characters_in_data_are_escaped_in_errors(base: Path, tmp_path: Path) -> None:
    project = Path(shutil.copytree(base, tmp_path / "project"))
    _catalog_cell("sku", "A" + ESCAPES)(project)
    result = run(project, "validate")
    assert result.returncode == 1 and result.stderr.startswith("error: "), result.stderr
    assert "A\\x1b]0;PWN\\x07\\x1b[2J" in result.stderr
    assert "\x1b" not in result.stderr + result.stdout and "\x07" not in result.stderr


def test_control_characters_in_an_import_warning_are_escaped(tmp_path: Path) -> None:
    """A seed item without forecast rows is named in a warning (e22)."""
    if not (SEED_DATA / "item_inventory.csv").exists():
        pytest.skip(f"seed data not found at {SEED_DATA}")
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    items = (SEED_DATA / "item_inventory.csv").read_text().splitlines()
    planted = "X" + ESCAPES + "," + items[1].split(",", 1)[1]  # at 3200, without forecast rows
    (tmp_path / "items.csv").write_text("\n".join([*items, planted]) + "\n")
    result = run(tmp_path, *IMPORT_SEED)
    assert "X\\x1b]0;PWN\\x07\\x1b[2J@3200" in result.stderr, result.stderr
    assert "\x1b" not in result.stderr + result.stdout and "\x07" not in result.stderr


def test_a_sku_named_na_is_an_id_from_data_to_recommendation(base: Path, tmp_path: Path) -> None:
    """NA, nan and null are legal ids; pandas reads them as missing unless told (e15, e21)."""
    project = Path(shutil.copytree(base, tmp_path / "project"))
    _replace_in_data("SKU001,", "NA,")(project)
    _params("  policy: best ", "  policy: order_up_to ")(project)
    for args in (("validate",), ("forecast",), ("recommend",)):
        result = run(project, *args)
        assert result.returncode == 0, (args, result.stderr)
    assert "| NA |" in (project / "reports" / "recommendation.md").read_text()
