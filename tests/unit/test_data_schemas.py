"""Bad input never passes: every problem is reported at once, with file, column, check and
line, and nothing is written."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from inventory import stages
from inventory.config import load_config
from inventory.data import DataValidationError, load_tables
from inventory.data.importers import import_demand_csv

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("clean")
    stages.generate(load_config(ROOT / "params.yaml"), folder)
    return folder


@pytest.fixture
def data(clean: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(clean, tmp_path / "data"))


def _edit(folder: Path, file: str, change: Callable[[pd.DataFrame], pd.DataFrame]) -> None:
    frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
    change(frame).to_csv(folder / file, index=False)


def _set(column: str, value: str, row: int = 0) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame.loc[row, column] = value
        return frame

    return change


def _problems(folder: Path) -> pd.DataFrame:
    with pytest.raises(DataValidationError) as info:
        load_tables(folder)
    return info.value.failures


def _has(failures: pd.DataFrame, file: str, column: str, check: str, line: object = None) -> bool:
    rows = failures[
        (failures["file"] == file)
        & (failures["column"] == column)
        & failures["check"].str.contains(check, regex=False)
    ]
    return len(rows) > 0 and (line is None or line in set(rows["line"]))


def test_clean_data_loads_with_types(clean: Path) -> None:
    tables = load_tables(clean)
    assert tables.catalog["lead_time_weeks"].dtype == "int64"
    assert pd.api.types.is_datetime64_any_dtype(tables.history["week"])
    assert tables.catalog["sku"].map(type).eq(str).all()


@pytest.mark.parametrize(
    ("file", "change", "column", "check", "line"),
    [
        ("demand_history.csv", _set("demand", "-3", 4), "demand", "must be >= 0", 6),
        ("demand_history.csv", _set("demand", "", 2), "demand", "missing value", 4),
        ("demand_history.csv", _set("demand", "NaN", 2), "demand", "missing value", 4),
        ("catalog.csv", _set("volume", "lots", 1), "volume", "must be a number", 3),
        ("catalog.csv", _set("volume", "0", 0), "volume", "must be > 0", 2),
        ("catalog.csv", _set("volume", "-2.5", 3), "volume", "must be > 0", 5),
        ("catalog.csv", _set("lead_time_weeks", "-1", 2), "lead_time_weeks", "must be >= 0", 4),
        ("catalog.csv", _set("lead_time_weeks", "2.5", 2), "lead_time_weeks", "whole number", 4),
        ("forecast.csv", _set("week", "2023-05-03", 0), "week", "Monday", 2),
        ("forecast.csv", _set("week", "May 1st", 0), "week", "YYYY-MM-DD", 2),
        ("open_purchase_orders.csv", _set("sku", "NOPE", 0), "sku", "unknown SKU", 2),
        ("forecast.csv", _set("sku", "NOPE", 0), "sku", "unknown SKU", 2),
        ("warehouse.csv", _set("location", "L9", 0), "location", "warehouse row missing", ""),
        ("catalog.csv", lambda f: f.drop(columns="on_hand"), "on_hand", "column missing", ""),
    ],
)
def test_each_bad_value_is_reported_with_file_column_and_line(
    data: Path, file: str, change: Callable, column: str, check: str, line: object
) -> None:
    _edit(data, file, change)
    failures = _problems(data)
    assert _has(failures, file, column, check, line), failures.to_string()


def test_duplicate_sku_week_lists_both_lines(data: Path) -> None:
    _edit(data, "demand_history.csv", lambda f: pd.concat([f, f.iloc[[5]]], ignore_index=True))
    failures = _problems(data)
    dupes = failures[failures["check"] == "duplicate key"]
    assert set(dupes["line"]) == {7, 3902}
    assert (dupes["column"] == "sku, location, week").all()


def test_sku_without_forecast_rows(data: Path) -> None:
    _edit(data, "forecast.csv", lambda f: f[f["sku"] != "SKU003"])
    failures = _problems(data)
    assert _has(failures, "catalog.csv", "sku", "without forecast rows", 4)


def test_every_problem_in_one_run(data: Path) -> None:
    _edit(data, "catalog.csv", _set("volume", "0", 0))
    _edit(data, "catalog.csv", _set("lead_time_weeks", "-2", 1))
    _edit(data, "demand_history.csv", _set("demand", "-1", 0))
    _edit(data, "demand_history.csv", _set("demand", "abc", 1))
    _edit(data, "forecast.csv", _set("forecast", "", 0))
    with pytest.raises(DataValidationError) as info:
        load_tables(data)
    failures = info.value.failures
    assert len(failures) == 5
    message = str(info.value)
    assert message.startswith("5 problem(s)")
    for word in ("catalog.csv", "demand_history.csv", "forecast.csv", "lead_time_weeks", "abc"):
        assert word in message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"   \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        (bytes(range(256)) * 4, "binary"),
        (b"capacity_volume\n1\xe9\n", "not UTF-8 text (byte 0xe9 at line 2, byte offset 17)"),
        (b"Lorem ipsum dolor sit amet.\nConsectetur adipiscing elit.\n", "does not look like"),
    ],
)
def test_unreadable_files_are_named(data: Path, content: bytes, message: str) -> None:
    (data / "warehouse.csv").write_bytes(content)
    failures = _problems(data)
    assert len(failures) == 1
    assert failures.loc[0, "file"] == "warehouse.csv"
    assert message in failures.loc[0, "value"]


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data folder not found"):
        load_tables(tmp_path / "nowhere")


def _config(tmp_path: Path):  # noqa: ANN202
    config = load_config(ROOT / "params.yaml")
    return config.data.model_copy(update={"dir": str(tmp_path / "out")})


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("sku,week,demand\nA,2024-01-01,-4\n", "must be >= 0"),
        ("sku,week,demand\nA,2024-01-01,\n", "missing value"),
        ("sku,date,demand\nA,2024-01-03,-1\nA,2024-01-04,2\n", "must be >= 0"),
        ("sku,date,demand\nA,03/01/2024,1\n", "must be a date YYYY-MM-DD"),
        ("sku,week,demand\nA,2024-01-01,ten\n", "must be a number"),
        ("sku,week,demand\nA,2024-01-01,3\nA,2024-01-01,4\n", "duplicate key"),
        ("sku,week,demand\nA,2024-01-03,3\n", "Monday"),
        ("sku,demand\nA,3\n", "missing column(s) week or date"),
    ],
)
def test_import_csv_rejects_bad_rows(tmp_path: Path, rows: str, message: str) -> None:
    path = tmp_path / "demand.csv"
    path.write_text(rows)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_demand_csv(path, _config(tmp_path))


def test_unreadable_file_does_not_hide_problems_of_the_others(data: Path) -> None:
    (data / "catalog.csv").write_text("sku;location;volume\nA;L1;1\n")
    _edit(data, "demand_history.csv", lambda f: f.drop(columns="sku"))
    failures = _problems(data)
    assert failures[["file", "column", "check"]].values.tolist() == [
        ["catalog.csv", "", "readable CSV"],
        ["demand_history.csv", "sku", "column missing"],
    ]
    assert "does not look like catalog.csv" in failures.loc[0, "value"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("\ufeffcapacity_volume\n1\n".encode("utf-16"), "UTF-16 text; save the file as UTF-8"),
        ("location,container_volume\nL1,1\n".encode("utf-16-le"), "UTF-16 text; save the file"),
    ],
)
def test_utf16_is_named_as_such(data: Path, content: bytes, message: str) -> None:
    (data / "warehouse.csv").write_bytes(content)
    failures = _problems(data)
    assert message in failures.loc[0, "value"]


def test_a_folder_in_place_of_a_csv_is_named(tmp_path: Path) -> None:
    (tmp_path / "demand.csv").mkdir()
    with pytest.raises(ValueError, match=r"demand.csv: is a folder, not a CSV file"):
        import_demand_csv(tmp_path / "demand.csv", _config(tmp_path))


@pytest.mark.parametrize("sku", ["NA", "nan", "null", "None", "NULL"])
def test_ids_that_pandas_would_read_as_missing_are_ids(data: Path, sku: str) -> None:
    for path in data.glob("*.csv"):
        path.write_text(path.read_text().replace("SKU001,", f"{sku},"))
    tables = load_tables(data)
    assert sku in set(tables.catalog["sku"]) and sku in set(tables.history["sku"])


def test_an_empty_id_cell_is_still_missing(data: Path) -> None:
    _edit(data, "catalog.csv", _set("sku", ""))
    assert _has(_problems(data), "catalog.csv", "sku", "missing value", 2)
