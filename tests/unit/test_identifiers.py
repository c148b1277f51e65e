"""The identifier rule, path confinement and the escaping of ids in every report format,
tested directly with hostile strings."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from inventory.identifiers import (
    check_id,
    csv_cell,
    csv_safe,
    html_text,
    is_valid_id,
    markdown_text,
    script_json,
    terminal_text,
)
from inventory.io import confined, remove_tree
from inventory.report import build_report, markdown_table

SCRIPT = "</script><img src=x onerror=alert(1)>"
FORMULA = "=cmd|' /C calc'!A0"
HOSTILE = [SCRIPT, FORMULA, "+1+2", "-2+3", "@SUM(A1)", "\t=1", "a|b", "[x](javascript:y)"]


@pytest.mark.parametrize("value", ["20080884", "3200", "SKU001", "L1", "a.b_c-d", "x" * 64])
def test_real_ids_are_valid(value: str) -> None:
    assert is_valid_id(value) and check_id(value) == value


@pytest.mark.parametrize(
    "value",
    ["", "x" * 65, "..", "a..b", ".hidden", "-x", "_x", "a/b", "x/../../v", "/etc", "a b", "a\\b"]
    + HOSTILE
    + [None, 3200, float("nan")],
)
def test_path_like_and_hostile_ids_are_invalid(value: object) -> None:
    assert not is_valid_id(value)
    with pytest.raises(ValueError, match="sku .* is not a valid identifier: use 1-64"):
        check_id(value, "sku")


@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_leaves_no_markup(value: str) -> None:
    text = html_text(value)
    assert "<" not in text and ">" not in text and "'" not in text


@pytest.mark.parametrize("value", HOSTILE)
def test_script_json_cannot_close_the_script_block(value: str) -> None:
    text = script_json({"sku": value, "skus": [value]})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"sku": value, "skus": [value]}


def test_markdown_text_escapes_markup_and_keeps_names_readable() -> None:
    assert markdown_text("base_stock") == "base_stock"
    assert markdown_text("a|b") == "a\\|b"
    assert markdown_text(SCRIPT) == "\\</script\\>\\<img src=x onerror=alert(1)\\>"
    assert markdown_text("[x](y) `c` *s* _e_") == "\\[x\\](y) \\`c\\` \\*s\\* \\_e\\_"
    assert markdown_text("two\nlines") == "two lines"


@pytest.mark.parametrize("value", [FORMULA, "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_csv_cells_that_start_a_formula_are_quoted(value: str) -> None:
    assert csv_cell(value) == "'" + value


def test_csv_safe_quotes_text_cells_only(tmp_path: Path) -> None:
    frame = pd.DataFrame({"sku": [FORMULA, "SKU001"], "order": [-3.0, 2.0]})
    safe = csv_safe(frame)
    assert safe["sku"].tolist() == ["'" + FORMULA, "SKU001"]
    assert safe["order"].tolist() == [-3.0, 2.0]
    assert frame["sku"].iloc[0] == FORMULA  # the input is not changed


@pytest.mark.parametrize("part", ["..", "../x", "a/../../x", "/etc", "ppo_x/../../..", "."])
def test_confined_refuses_paths_leaving_the_root(tmp_path: Path, part: str) -> None:
    with pytest.raises(ValueError, match="refusing"):
        confined(tmp_path / "models", part)


def test_confined_refuses_a_symlink_pointing_out(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "link").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="refusing"):
        confined(tmp_path / "models", "link", "x")


def test_confined_keeps_the_path_as_given(tmp_path: Path) -> None:
    assert confined(Path("models"), "ppo_stochastic") == Path("models/ppo_stochastic")
    assert confined(tmp_path, "a", "b.json") == tmp_path / "a" / "b.json"


def test_remove_tree_deletes_inside_only(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("precious")
    root = tmp_path / "project" / "models"
    (root / "ppo_x").mkdir(parents=True)
    (root / "ppo_x" / "model.zip").write_text("old")
    with pytest.raises(ValueError):
        remove_tree(root, "../../victim")
    remove_tree(root, "ppo_x")
    remove_tree(root, "never_there")
    assert not (root / "ppo_x").exists() and (victim / "keep.txt").read_text() == "precious"


def test_model_dir_refuses_path_like_modes_and_locations(tmp_path: Path) -> None:
    from inventory.layout import Layout

    layout = Layout(tmp_path, tmp_path / "data")
    assert layout.model_dir("stochastic", "L1") == tmp_path / "models" / "ppo_stochastic_L1"
    for mode, location in (("stochastic/../..", None), ("stochastic", "x/../../../victim")):
        with pytest.raises(ValueError, match="refusing"):
            layout.model_dir(mode, location)
    for location in ("../victim", "a/b"):
        with pytest.raises(ValueError, match="location"):
            layout.location_root(location)


def test_markdown_table_escapes_hostile_cells() -> None:
    text = markdown_table(pd.DataFrame({"sku": [SCRIPT], "order": [1.0]}))
    assert "<" not in text.replace("\\<", "")
    assert text.splitlines()[2].count(" | ") == 1  # still two cells


def test_report_escapes_drifted_skus_in_markdown_and_html(tmp_path: Path) -> None:
    drift = tmp_path / "drift.json"
    gate = {"decision": "retrain", "reason": f"SKU {SCRIPT} drifted"}
    drift.write_text(json.dumps({"drifted_skus": [SCRIPT, FORMULA], "gate": gate}))
    recommendation = tmp_path / "recommendation.md"
    recommendation.write_text(f"| sku |\n|---|\n| {markdown_text(SCRIPT)} |\n")
    reports = tmp_path / "reports"
    build_report({}, {}, drift, None, None, recommendation, reports)
    summary = (reports / "summary.md").read_text()
    page = (reports / "index.html").read_text()
    assert SCRIPT not in summary and "\\</script\\>" in summary
    assert "<img" not in page and "</script>" not in page and "&lt;/script&gt;" in page


def test_evidently_page_gets_no_raw_script_from_a_sku_name(tmp_path: Path) -> None:
    from inventory.config import load_config
    from inventory.monitoring import _run_report, _save

    drift = load_config(Path(__file__).resolve().parents[2] / "params.yaml").drift
    reference = pd.DataFrame({SCRIPT: [1.0, 2.0, 3.0, 4.0], "ok": [1.0, 1.5, 2.0, 2.5]})
    current = pd.DataFrame({SCRIPT: [5.0, 6.0, 7.0, 8.0], "ok": [1.0, 1.5, 2.0, 2.5]})
    checked = _run_report(reference, current, drift)
    page = _save(checked.snapshot, tmp_path / "skus.html").read_text()
    assert checked.drifted == [SCRIPT]  # verdicts under the original name
    assert SCRIPT not in page and "onerror" in page  # the name is shown, escaped


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("\x1b]0;PWN\x07", "\\x1b]0;PWN\\x07"),
        ("a\rb", "a\\rb"),
        ("\x9b2J", "\\x9b2J"),
        ("left\u202eright", "left\\u202eright"),
        ("line 1\n\tline 2 caf\u00e9", "line 1\n\tline 2 caf\u00e9"),
    ],
)
def test_terminal_text_escapes_control_characters_only(value: str, shown: str) -> None:
    assert terminal_text(value) == shown
