"""The data layer: input tables and their schemas, the synthetic generator, the seed-format
and long-format CSV importers, and the instance builder.

Others call :func:`load_tables`, :func:`build_instance` and :func:`load_instance`.
"""

from inventory.data.generate import generate_tables
from inventory.data.instance import build_instance, load_instance, planning_weeks
from inventory.data.schemas import (
    COLUMNS,
    FILES,
    DataValidationError,
    Tables,
    check_tables,
    format_failures,
    load_tables,
    write_tables,
)

__all__ = [
    "COLUMNS",
    "FILES",
    "DataValidationError",
    "Tables",
    "build_instance",
    "check_tables",
    "format_failures",
    "generate_tables",
    "load_instance",
    "load_tables",
    "planning_weeks",
    "write_tables",
]
