"""Dependencies point one way: flows -> tasks -> inventory <- cli (STYLE.md principle 1)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN_IN_DOMAIN = {"prefect", "dvc", "typer", "click", "tasks", "flows"}


def imported_roots(path: Path) -> list[tuple[str, bool]]:
    """(top-level module, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name.split(".")[0], id(node) in top_level) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.split(".")[0], id(node) in top_level))
    return found


def domain_modules() -> list[Path]:
    return [p for p in (ROOT / "inventory").rglob("*.py") if p.name != "cli.py"]


def test_domain_never_imports_orchestration_or_cli() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in domain_modules()
        for name, _ in imported_roots(path)
        if name in FORBIDDEN_IN_DOMAIN
    ]
    assert not offenders, offenders


def test_only_monitoring_imports_evidently_and_lazily() -> None:
    offenders = []
    for path in (ROOT / "inventory").rglob("*.py"):
        for name, at_top in imported_roots(path):
            if name != "evidently":
                continue
            if path.name != "monitoring.py" or at_top:
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, offenders


def test_importing_the_package_does_not_load_evidently() -> None:
    import subprocess
    import sys

    code = "import sys, inventory.cli, inventory.stages; print('evidently' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
