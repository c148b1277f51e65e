"""Input tables, their pandera schemas and lazy validation with one report of every problem.

Raw inputs are CSV files in the data folder, one table per file (README "The data"):

=========================== ==============================================================
``catalog.csv``             sku, location, volume, safety_stock_weeks, lead_time_weeks,
                            ramp_limit, lost_sale_cost, overstock_cost, understock_cost,
                            on_hand, unit_cost, last_order
``demand_history.csv``      sku, location, week, demand (may have no rows)
``forecast.csv``            sku, location, week, forecast
``open_purchase_orders.csv`` po_number, sku, location, week (arrival), units
``warehouse.csv``           location, container_volume, max_containers, container_cost
=========================== ==============================================================

Validation is lazy: :func:`load_tables` reads every file, parses numbers and dates itself
(so text in a numeric column is reported as such and the column's other checks still run),
runs the pandera schema of each table with ``lazy=True``, then the cross-table checks, and
raises one :class:`DataValidationError` listing every failing file, column, check and line.
"""

from __future__ import annotations

import codecs
import dataclasses
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from inventory.identifiers import ID_RULE, is_valid_id

__all__ = [
    "FILES",
    "COLUMNS",
    "Tables",
    "DataValidationError",
    "SCHEMAS",
    "load_tables",
    "read_raw",
    "check_table",
    "check_tables",
    "write_tables",
    "format_failures",
    "ONLY_EMPTY_IS_MISSING",
]

FILES: dict[str, str] = {
    "catalog": "catalog.csv",
    "history": "demand_history.csv",
    "forecast": "forecast.csv",
    "open_pos": "open_purchase_orders.csv",
    "warehouse": "warehouse.csv",
}

# read_csv options under which only an empty cell is missing: NA, nan, null and None are
# legal ids (pandas reads them as missing by default)
ONLY_EMPTY_IS_MISSING: dict[str, Any] = {"keep_default_na": False, "na_values": [""]}

# Column kinds: "id" (non-empty text), "number" (float), "integer", "week" (ISO Monday).
COLUMNS: dict[str, dict[str, str]] = {
    "catalog": {
        "sku": "id",
        "location": "id",
        "volume": "number",
        "safety_stock_weeks": "number",
        "lead_time_weeks": "integer",
        "ramp_limit": "number",
        "lost_sale_cost": "number",
        "overstock_cost": "number",
        "understock_cost": "number",
        "on_hand": "number",
        "unit_cost": "number",
        "last_order": "number",
    },
    "history": {"sku": "id", "location": "id", "week": "week", "demand": "number"},
    "forecast": {"sku": "id", "location": "id", "week": "week", "forecast": "number"},
    "open_pos": {
        "po_number": "id",
        "sku": "id",
        "location": "id",
        "week": "week",
        "units": "number",
    },
    "warehouse": {
        "location": "id",
        "container_volume": "number",
        "max_containers": "integer",
        "container_cost": "number",
    },
}

# Long-format demand by calendar date (``inventory data import-csv``; not a data-folder
# file). Several rows of one SKU and date are allowed (transactions); they are summed.
COLUMNS["demand_by_date"] = {"sku": "id", "location": "id", "date": "date", "demand": "number"}

FAILURE_COLUMNS = ["file", "column", "check", "line", "value"]

# Largest magnitude of an input number: far above any real quantity or cost, and far
# enough below float overflow that sums over SKUs and weeks and the solvers stay finite.
MAX_NUMBER = 1e12
_RANGE = f"must be between -{MAX_NUMBER:g} and {MAX_NUMBER:g}"


# Dates outside this span are typos (1924 for 2024): one such row would add decades of
# zero-demand weeks to the history.
FIRST_DATE, LAST_DATE = pd.Timestamp("1990-01-01"), pd.Timestamp("2100-12-31")


def _sane_date() -> pa.Check:
    return pa.Check(
        lambda s: s.between(FIRST_DATE, LAST_DATE),
        error=f"must be between {FIRST_DATE:%Y-%m-%d} and {LAST_DATE:%Y-%m-%d}",
    )


def _monday() -> pa.Check:
    return pa.Check(
        lambda s: s.dt.dayofweek == 0,
        element_wise=False,
        error="week must be a Monday (ISO week start)",
    )


def _whole() -> pa.Check:
    return pa.Check(lambda s: (s - s.round()).abs() < 1e-9, error="must be a whole number")


def _id() -> pa.Column:
    return pa.Column(str, pa.Check.str_length(min_value=1), nullable=False)


def _name() -> pa.Column:
    """A SKU or location id: it becomes part of file names and report cells, so it must
    follow :data:`inventory.identifiers.ID_RULE`."""
    rule = pa.Check(
        lambda s: s.map(is_valid_id).astype(bool), name="identifier", error=f"must be {ID_RULE}"
    )
    return pa.Column(str, rule, nullable=False)


def _num(*checks: pa.Check) -> pa.Column:
    return pa.Column(float, list(checks), nullable=False)


def _week() -> pa.Column:
    return pa.Column("datetime64[ns]", [_sane_date(), _monday()], nullable=False)


SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "catalog": pa.DataFrameSchema(
        {
            "sku": _name(),
            "location": _name(),
            "volume": _num(pa.Check.gt(0)),
            "safety_stock_weeks": _num(pa.Check.ge(0)),
            "lead_time_weeks": _num(pa.Check.ge(0), pa.Check.le(104), _whole()),
            "ramp_limit": _num(pa.Check.ge(0)),
            "lost_sale_cost": _num(pa.Check.ge(0)),
            "overstock_cost": _num(pa.Check.ge(0)),
            "understock_cost": _num(pa.Check.ge(0)),
            "on_hand": _num(pa.Check.ge(0)),
            "unit_cost": _num(pa.Check.ge(0)),
            "last_order": _num(pa.Check.ge(0)),
        },
        unique=["sku", "location"],
        report_duplicates="all",
    ),
    "history": pa.DataFrameSchema(
        {"sku": _name(), "location": _name(), "week": _week(), "demand": _num(pa.Check.ge(0))},
        unique=["sku", "location", "week"],
        report_duplicates="all",
    ),
    "forecast": pa.DataFrameSchema(
        {"sku": _name(), "location": _name(), "week": _week(), "forecast": _num(pa.Check.ge(0))},
        unique=["sku", "location", "week"],
        report_duplicates="all",
    ),
    "open_pos": pa.DataFrameSchema(
        {
            "po_number": _id(),
            "sku": _name(),
            "location": _name(),
            "week": _week(),
            "units": _num(pa.Check.ge(0)),
        },
    ),
    "warehouse": pa.DataFrameSchema(
        {
            "location": _name(),
            "container_volume": _num(pa.Check.gt(0)),
            "max_containers": _num(pa.Check.ge(1), _whole()),
            "container_cost": _num(pa.Check.ge(0)),
        },
        unique=["location"],
        report_duplicates="all",
    ),
}


SCHEMAS["demand_by_date"] = pa.DataFrameSchema(
    {
        "sku": _name(),
        "location": _name(),
        "date": pa.Column("datetime64[ns]", _sane_date(), nullable=False),
        "demand": _num(pa.Check.ge(0)),
    },
)


@dataclass(frozen=True)
class Tables:
    """The validated input tables (pandas DataFrames, one per file in :data:`FILES`).

    Ids are strings, weeks ``datetime64`` Mondays, quantities floats, and
    ``catalog.lead_time_weeks`` / ``warehouse.max_containers`` int64.
    """

    catalog: pd.DataFrame
    history: pd.DataFrame
    forecast: pd.DataFrame
    open_pos: pd.DataFrame
    warehouse: pd.DataFrame

    def locations(self) -> list[str]:
        """Locations of the catalog, sorted."""
        return sorted(self.catalog["location"].unique())


class DataValidationError(ValueError):
    """Bad input data. ``failures`` holds one row per problem (file, column, check, line,
    value); the message is the same as a readable table."""

    def __init__(self, failures: pd.DataFrame, where: str = "input data") -> None:
        self.failures = failures.reset_index(drop=True)
        super().__init__(
            f"{len(self.failures)} problem(s) in {where}:\n{format_failures(self.failures)}"
        )


def format_failures(failures: pd.DataFrame, max_rows: int = 60) -> str:
    """A readable fixed-width table of failures (at most ``max_rows`` lines)."""
    shown = failures.head(max_rows).map(lambda value: "" if pd.isna(value) else str(value))
    text = shown.to_string(index=False, max_colwidth=120)
    if len(failures) > max_rows:
        text += f"\n... and {len(failures) - max_rows} more (see the JSON report)"
    return text


def _failure(file: str, column: str, check: str, line: object = "", value: object = "") -> dict:
    return {"file": file, "column": column, "check": check, "line": line, "value": value}


# --------------------------------------------------------------------------- reading


def _check_utf8(path: Path) -> None:
    """Raise ValueError naming the first byte of ``path`` that is not UTF-8, with its line
    and offset (a file saved as Latin-1 or Windows-1252 by a spreadsheet)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, line = 0, 1  # of the next block's first byte
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            pending = decoder.getstate()[0]  # an unfinished character: no newline in it
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                seen = pending + block
                where = offset - len(pending) + exc.start
                _not_utf8(path, seen[exc.start], line + seen[: exc.start].count(b"\n"), where)
            offset, line = offset + len(block), line + block.count(b"\n")
        pending = decoder.getstate()[0]
        if pending:  # the file ends inside a character
            _not_utf8(path, pending[0], line, offset - len(pending))


def _not_utf8(path: Path, byte: int, line: int, offset: int) -> None:
    raise ValueError(
        f"{path}: not UTF-8 text (byte 0x{byte:02x} at line {line}, byte offset {offset}); "
        "save the file as UTF-8 (in a spreadsheet: CSV UTF-8)"
    )


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read one CSV file as text columns, or raise ValueError naming the file.

    Only an empty cell is missing: ``NA``, ``null``, ``nan`` and the like are text (legal
    ids), where pandas would read them as missing by default.

    Raises:
        ValueError: missing, empty, UTF-16, binary or unparsable file, or a folder.
    """
    from inventory.io import settle

    path = Path(path)
    settle(path.parent)  # a commit cut short into the folder is finished before reading
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a CSV file")
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    with open(path, "rb") as handle:
        head = handle.read(65536)
    if not head.strip():
        raise ValueError(f"{path}: empty file; expected a CSV header row")
    boms = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
    if head.startswith(boms) or max(head[::2].count(0), head[1::2].count(0)) > len(head) // 4:
        raise ValueError(
            f"{path}: UTF-16 text; save the file as UTF-8 (in a spreadsheet: CSV UTF-8)"
        )
    if b"\x00" in head:
        raise ValueError(f"{path}: not a CSV text file (binary content)")
    _check_utf8(path)
    try:
        frame = pd.read_csv(
            path,
            dtype=str,
            skipinitialspace=True,
            encoding="utf-8-sig",  # a spreadsheet's "CSV UTF-8" starts with a BOM
            **ONLY_EMPTY_IS_MISSING,
        )
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise ValueError(f"{path}: not a valid CSV file: {exc}".splitlines()[0]) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read_table(data_dir: Path, name: str) -> pd.DataFrame:
    path = data_dir / FILES[name]
    frame = read_raw(path)
    expected = COLUMNS[name]
    if not set(expected) & set(frame.columns):
        raise ValueError(
            f"{path}: does not look like {FILES[name]}: header has "
            f"{', '.join(map(str, frame.columns[:8]))}; expected columns {', '.join(expected)}"
        )
    unknown = [str(c) for c in frame.columns if c not in expected]
    if unknown:  # a typo (volme) would otherwise be ignored and its value lost
        raise ValueError(
            f"{path}: unknown column(s) {', '.join(unknown)}; expected columns "
            f"{', '.join(expected)}"
        )
    return frame


# --------------------------------------------------------------------------- parsing


# in a number column these words mean an empty cell (ids keep them: NA may be a SKU)
_MISSING_WORDS = frozenset({"nan", "-nan", "na", "n/a", "#n/a", "<na>", "null", "none"})


def _parse_column(
    file: str, frame: pd.DataFrame, column: str, kind: str, failures: list[dict]
) -> None:
    """Convert one column in place; record values that are text where numbers or dates
    belong (the NaN left behind is then not reported a second time)."""
    raw = frame[column]
    if kind == "id":
        frame[column] = raw.astype("string").str.strip().astype(object).where(raw.notna())
        return
    if kind in ("week", "date"):
        if pd.api.types.is_datetime64_any_dtype(raw):
            return
        parsed = pd.to_datetime(
            raw.astype("string").str.strip(), format="%Y-%m-%d", errors="coerce"
        )
        what = "must be a date YYYY-MM-DD"
    else:
        raw = raw.where(~raw.astype("string").str.strip().str.lower().isin(_MISSING_WORDS))
        parsed = pd.to_numeric(raw, errors="coerce").astype(float)
        huge = parsed.abs() > MAX_NUMBER  # inf, 1e308: they overflow sums and solvers
        failures += [_failure(file, column, _RANGE, int(i) + 2, raw[i]) for i in raw.index[huge]]
        parsed = parsed.where(~huge)
        raw = raw.where(~huge)  # reported once
        what = "must be a number"
    bad = parsed.isna() & raw.notna() & (raw.astype("string").str.strip() != "")
    failures += [_failure(file, column, what, int(i) + 2, raw[i]) for i in raw.index[bad]]
    frame[column] = parsed


def _pandera_failures(
    file: str, schema: pa.DataFrameSchema, frame: pd.DataFrame, skip: set[tuple[str, int]]
) -> list[dict]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    out = []
    for case in cases.itertuples(index=False):
        line = "" if pd.isna(case.index) else int(case.index) + 2
        column = case.column if isinstance(case.column, str) else ""
        check = str(case.check)
        if check == "column_in_dataframe":
            out.append(_failure(file, str(case.failure_case), "column missing"))
            continue
        if check == "not_nullable":
            if (column, line) in skip:
                continue
            check = "missing value (empty or NaN)"
        elif check == "multiple_fields_uniqueness":
            if not set(schema.unique) <= set(frame.columns):
                continue  # a key column is missing: reported as such, no duplicates
            keys = frame.loc[int(case.index), list(schema.unique)]
            out.append(
                _failure(
                    file,
                    ", ".join(schema.unique),
                    "duplicate key",
                    line,
                    " | ".join(str(_show(v)) for v in keys),
                )
            )
            continue
        elif check.startswith("dtype("):
            continue  # follows from a value already reported
        check = _readable_check(check)
        value = "" if check.startswith("missing") else _show(case.failure_case)
        out.append(_failure(file, column, check, line, value))
    return _dedupe(out)


_CHECK_WORDS = {
    "greater_than_or_equal_to": ">=",
    "less_than_or_equal_to": "<=",
    "greater_than": ">",
    "less_than": "<",
}


def _readable_check(check: str) -> str:
    """``greater_than_or_equal_to(0)`` -> ``must be >= 0``."""
    match = re.fullmatch(r"(\w+)\((.*)\)", check)
    if match and match.group(1) in _CHECK_WORDS:
        return f"must be {_CHECK_WORDS[match.group(1)]} {match.group(2)}"
    return check


def _show(value: object) -> object:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return value


def _dedupe(rows: list[dict]) -> list[dict]:
    seen, out = set(), []
    for row in rows:
        key = (row["file"], row["column"], row["check"], row["line"])
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _parse_table(
    name: str, frame: pd.DataFrame, failures: list[dict], file: str | None = None
) -> pd.DataFrame:
    file = file or FILES[name]
    # Line numbers are index + 2 (header on line 1); importers keep the index of the rows
    # they read so problems point into the user's file.
    index_ok = frame.index.is_unique and pd.api.types.is_integer_dtype(frame.index)
    frame = frame.copy() if index_ok else frame.reset_index(drop=True)
    kinds = {c: k for c, k in COLUMNS[name].items() if c in frame.columns}
    local: list[dict] = []
    for column, kind in kinds.items():
        _parse_column(file, frame, column, kind, local)
    skip = {(f["column"], f["line"]) for f in local}
    local += _pandera_failures(file, SCHEMAS[name], frame, skip)
    failures += sorted(local, key=lambda f: (f["line"] == "", f["line"] or 0, f["column"]))
    return frame


def _as_final(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame[list(COLUMNS[name])].reset_index(drop=True)
    for column, kind in COLUMNS[name].items():
        if kind == "integer":
            frame[column] = frame[column].round().astype(np.int64)
        elif kind == "id":
            frame[column] = frame[column].astype(str)
    return frame


# --------------------------------------------------------------------------- cross-table


def _keys(frame: pd.DataFrame) -> list[tuple[int, tuple[str, str]]]:
    """(line, (sku, location)) of rows whose ids are both present."""
    rows = frame[["sku", "location"]]
    ok = rows.notna().all(axis=1).to_numpy()
    pairs = zip(rows["sku"], rows["location"], strict=True)
    lines = (frame.index + 2).tolist()
    return [(line, key) for line, key, good in zip(lines, pairs, ok, strict=True) if good]


def _cross_failures(frames: dict[str, pd.DataFrame], files: dict[str, str]) -> list[dict]:
    """Checks between tables; run even when single-table checks failed, on the rows whose
    key columns exist, so one run lists every problem."""
    needs = {
        "catalog": ["sku", "location"],
        "forecast": ["sku", "location"],
        "history": ["sku", "location"],
        "open_pos": ["sku", "location"],
        "warehouse": ["location"],
    }
    if any(not set(cols) <= set(frames[name].columns) for name, cols in needs.items()):
        return []
    catalog = _keys(frames["catalog"])
    known = {key for _, key in catalog}
    out: list[dict] = []
    for name in ("forecast", "history", "open_pos"):
        out += [
            _failure(
                files[name],
                "sku",
                f"unknown SKU (sku, location not in {files['catalog']})",
                line,
                f"{key[0]} @ {key[1]}",
            )
            for line, key in _keys(frames[name])
            if key not in known
        ]
    has_forecast = {key for _, key in _keys(frames["forecast"])}
    out += [
        _failure(
            files["catalog"],
            "sku",
            f"SKU without forecast rows in {files['forecast']}",
            line,
            f"{key[0]} @ {key[1]}",
        )
        for line, key in catalog
        if key not in has_forecast
    ]
    missing = sorted({key[1] for _, key in catalog} - set(frames["warehouse"]["location"]))
    out += [
        _failure(
            files["warehouse"],
            "location",
            "warehouse row missing for a catalog location",
            "",
            location,
        )
        for location in missing
    ]
    return out


# --------------------------------------------------------------------------- public API


def check_tables(
    frames: dict[str, pd.DataFrame],
    where: str = "input data",
    files: dict[str, str] | None = None,
) -> Tables:
    """Validate in-memory tables (raw text or typed) and return typed :class:`Tables`.

    Args:
        frames: Table name -> DataFrame, one per entry of :data:`FILES`.
        where: What the data is, for the error message.
        files: Optional table name -> file label used in problems (default :data:`FILES`).

    Raises:
        DataValidationError: listing every problem of every table at once.
    """
    return _check_all(frames, [], where, files)


def _check_all(
    frames: dict[str, pd.DataFrame],
    failures: list[dict],
    where: str,
    files: dict[str, str] | None = None,
) -> Tables:
    """Per-table checks of the frames given, cross-table checks when all are present."""
    files = FILES | (files or {})
    parsed = {
        name: _parse_table(name, frame, failures, files[name]) for name, frame in frames.items()
    }
    if set(parsed) == set(FILES):
        failures += _cross_failures(parsed, files)
    _raise_if(failures, where)
    return Tables(**{name: _as_final(name, parsed[name]) for name in FILES})


def check_table(
    name: str, frame: pd.DataFrame, where: str = "input data", file: str | None = None
) -> pd.DataFrame:
    """Validate one table on its own (no cross-table checks) and return it typed.

    Raises:
        DataValidationError: listing every problem of the table.
    """
    failures: list[dict] = []
    parsed = _parse_table(name, frame, failures, file)
    _raise_if(failures, where)
    return _as_final(name, parsed)


def _raise_if(failures: list[dict], where: str) -> None:
    if failures:
        raise DataValidationError(pd.DataFrame(failures, columns=FAILURE_COLUMNS), where)


def load_tables(data_dir: str | Path) -> Tables:
    """Read and validate every input table in ``data_dir``.

    Raises:
        DataValidationError: every unreadable file and every failing column, check and
            line, across all files, in one report.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ValueError(
            f"{data_dir}: data folder not found (run `inventory data generate` or an import)"
        )
    frames: dict[str, pd.DataFrame] = {}
    failures: list[dict] = []
    for name, file in FILES.items():
        try:
            frames[name] = _read_table(data_dir, name)
        except ValueError as exc:
            message = str(exc).removeprefix(f"{data_dir / file}: ")
            failures.append(_failure(file, "", "readable CSV", "", message))
    return _check_all(frames, failures, str(data_dir))


def _to_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[column]):
            frame[column] = frame[column].dt.strftime("%Y-%m-%d")
    return frame


def write_tables(tables: Tables, out_dir: str | Path) -> dict[str, str]:
    """Write every table as CSV into ``out_dir`` (each file atomically).

    Call only with validated tables, so a bad input never reaches the disk.

    Returns:
        Table name -> path written.
    """
    from inventory.io import write_csv

    out_dir = Path(out_dir)
    written = {}
    for field in dataclasses.fields(tables):
        path = out_dir / FILES[field.name]
        write_csv(path, _to_text(getattr(tables, field.name)))
        written[field.name] = str(path)
    return written


def empty_frame(name: str) -> pd.DataFrame:
    """An empty table with the columns of ``name``."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in COLUMNS[name]})


def frames_of(tables: Tables) -> dict[str, pd.DataFrame]:
    """Tables as a name -> DataFrame mapping."""
    return {name: getattr(tables, name) for name in FILES}
