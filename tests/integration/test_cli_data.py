"""The data commands as a user runs them: `python -m inventory ...` in a fresh folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.integration.cli import run_inventory as run

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the shipped params.yaml and the generated default data."""
    folder = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "params.yaml", folder / "params.yaml")
    result = run(folder, "data", "generate")
    assert result.returncode == 0, result.stderr
    return folder


def test_validate_passes_on_default_data(project: Path) -> None:
    result = run(project, "validate")
    assert result.returncode == 0, result.stderr
    report = json.loads((project / "reports" / "validation.json").read_text())
    assert report["valid"] is True
    assert report["rows"]["catalog"] == 25


def test_validate_lists_every_problem_of_a_corrupted_copy(project: Path, tmp_path: Path) -> None:
    shutil.copy(project / "params.yaml", tmp_path / "params.yaml")
    data = Path(shutil.copytree(project / "data", tmp_path / "data"))
    catalog = (data / "catalog.csv").read_text().splitlines()
    catalog[1] = catalog[1].replace("SKU001,L1,", "SKU001,L1,-4", 1)  # volume -4<old>
    catalog[2] = ",".join(["SKU002", "L1", "abc"] + catalog[2].split(",")[3:])
    (data / "catalog.csv").write_text("\n".join(catalog) + "\n")
    with (data / "demand_history.csv").open("a") as handle:
        handle.write("SKU001,L1,2023-04-24,-5\n")
    (data / "open_purchase_orders.csv").write_text(
        "po_number,sku,location,week,units\nX1,GHOST,L1,2023-05-08,3\n"
    )
    result = run(tmp_path, "validate")
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("error: ") and "problem(s) in data" in lines[0]
    assert "Traceback" not in result.stderr
    for needle in ("volume", "abc", "must be >= 0", "duplicate key", "GHOST", "unknown SKU"):
        assert needle in result.stderr, needle
    report = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert report["valid"] is False
    assert report["n_problems"] >= 5


def test_import_csv_bad_input_one_line_error_and_no_output(tmp_path: Path) -> None:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "demand.csv").write_text("sku,week,demand\nA,2024-01-01,-3\nA,2024-01-08,x\n")
    result = run(tmp_path, "data", "import-csv", "demand.csv", "--out", "imported")
    assert result.returncode == 1
    assert result.stderr.startswith("error: 2 problem(s) in demand.csv")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "imported").exists()
    debug = run(tmp_path, "--debug", "data", "import-csv", "demand.csv", "--out", "imported")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_import_csv_then_validate(tmp_path: Path) -> None:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    rows = [
        f"S{i},{day},{(i + n) % 5}"
        for i in range(3)
        for n, day in enumerate(["2024-01-01", "2024-01-09", "2024-01-17"])
    ]
    (tmp_path / "demand.csv").write_text("sku,date,demand\n" + "\n".join(rows) + "\n")
    result = run(tmp_path, "data", "import-csv", "demand.csv")
    assert result.returncode == 0, result.stderr
    assert run(tmp_path, "validate").returncode == 0


def test_import_seed_not_csv_leaves_nothing(tmp_path: Path, seed_data: Path) -> None:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "items.csv").write_bytes(bytes(range(256)))
    result = run(
        tmp_path,
        "data",
        "import-seed",
        "--items",
        "items.csv",
        "--forecast",
        str(seed_data / "demand_forecast.csv"),
        "--open-pos",
        str(seed_data / "open_purchase_orders.csv"),
        "--out",
        "seed",
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: items.csv: not a CSV text file (binary content)"
    assert not (tmp_path / "seed").exists()


def test_import_seed_50_warns_and_imports_8(tmp_path: Path, seed_data: Path) -> None:
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    result = run(
        tmp_path,
        "data",
        "import-seed",
        "--items",
        str(seed_data / "item_inventory_50.csv"),
        "--forecast",
        str(seed_data / "demand_forecast.csv"),
        "--open-pos",
        str(seed_data / "open_purchase_orders.csv"),
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: 42 item-location(s)")
    assert len((tmp_path / "data" / "catalog.csv").read_text().splitlines()) == 1 + 8
    assert run(tmp_path, "validate").returncode == 0


@pytest.mark.parametrize(
    "command", [["data", "generate"], ["data", "import-seed"], ["data", "import-csv"], ["validate"]]
)
def test_help(command: list[str]) -> None:
    result = run(ROOT, *command, "--help")
    assert result.returncode == 0
    assert "Usage" in result.stdout


BAD_DEMAND = {
    "missing column": b"sku,week\nA,2024-01-01\n",
    "negative demand": b"sku,week,demand\nA,2024-01-01,-1\n",
    "NaN": b"sku,week,demand\nA,2024-01-01,NaN\n",
    "duplicate sku week": b"sku,week,demand\nA,2024-01-01,1\nA,2024-01-01,2\n",
    "text in number": b"sku,week,demand\nA,2024-01-01,many\n",
    "empty file": b"",
    "not csv": b"\x7fELF\x02\x01\x01\x00\x00\x00\x00",
}


@pytest.mark.parametrize("case", sorted(BAD_DEMAND))
def test_import_csv_bad_input_writes_nothing(tmp_path: Path, case: str) -> None:
    """In-process (typer's CliRunner) to keep the many cases fast."""
    from typer.testing import CliRunner

    from inventory.cli import app

    (tmp_path / "demand.csv").write_bytes(BAD_DEMAND[case])
    result = CliRunner().invoke(
        app,
        [
            "--params",
            str(ROOT / "params.yaml"),
            "data",
            "import-csv",
            str(tmp_path / "demand.csv"),
            "--out",
            str(tmp_path / "out"),
        ],
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ValueError)
    assert "demand.csv" in str(result.exception)
    assert not (tmp_path / "out").exists()
