"""The layering of CONTRIBUTING.md: dq never imports streamlit or the console; inside dq arrows point one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DQ = Path(__file__).resolve().parent.parent / "dq"
FORBIDDEN = ("streamlit", "dq_console")
#: What each area of dq may import from the rest of dq (beyond itself). An area is ``dq.<name>``.
BASE = {"dq._util", "dq.config", "dq.errors", "dq.splits"}
ALLOWED: dict[str, set[str]] = {
    "dq.config": set(),
    "dq.errors": set(),
    "dq.splits": {"dq.errors"},
    "dq._util": {"dq.config", "dq.errors"},
    "dq.store": BASE,
    "dq.scale": BASE,
    "dq.team": BASE,
    "dq.client": BASE | {"dq.store"},
    "dq.auto": BASE | {"dq.store", "dq.scale", "dq.team"},
    "dq.insights": BASE | {"dq.store", "dq.scale"},
    "dq.edits": BASE | {"dq.store", "dq.insights", "dq.auto", "dq.team"},
    "dq.integrations": BASE | {"dq.store", "dq.client"},
    "dq.cli": BASE | {"dq.store", "dq.insights", "dq.edits", "dq.auto", "dq.scale", "dq.team"},
    "dq.galileo": BASE | {"dq.store", "dq.insights", "dq.auto", "dq.integrations"},
    "dq.__main__": {"dq.cli"},
    "dq": {"dq.client", "dq.config", "dq.errors", "dq.store"},  # the package's face: the client API
}


def _module(path: Path) -> str:
    parts = path.relative_to(DQ.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _area(module: str) -> str:
    return ".".join(module.split(".")[:2])


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            if node.module == "dq":  # `from dq import client` imports the module dq.client
                names.update(f"dq.{alias.name}" for alias in node.names)
    return names


def test_no_module_of_dq_imports_streamlit_or_the_console() -> None:
    offenders = {
        str(path.relative_to(DQ.parent)): sorted(m for m in _imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        for path in sorted(DQ.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) > 40  # the scan saw the library


def test_inside_dq_each_area_imports_only_what_it_may() -> None:
    crossings: dict[str, list[str]] = {}
    for path in sorted(DQ.rglob("*.py")):
        area = _area(_module(path))
        assert area in ALLOWED, f"{area} ({path}) is a new area of dq: add it to ALLOWED and CONTRIBUTING.md"
        imported = {_area(m) for m in _imported_modules(path) if m == "dq" or m.startswith("dq.")}
        wrong = sorted(imported - ALLOWED[area] - {area} - ({"dq"} if area == "dq.integrations" else set()))
        if wrong:
            crossings[str(path.relative_to(DQ.parent))] = wrong
    assert crossings == {}


def test_storage_and_insights_never_reach_up() -> None:
    # The rules the table above encodes, said plainly: storage never imports insights, edits, auto,
    # the client or the CLI; insights never imports the client, the CLI, edits or the console.
    for low, high in (
        ("dq.store", "dq.insights"),
        ("dq.store", "dq.cli"),
        ("dq.insights", "dq.client"),
        ("dq.insights", "dq.cli"),
        ("dq.insights", "dq.edits"),
        ("dq.auto", "dq.insights"),
    ):
        assert high not in ALLOWED[low]
    assert all("dq.cli" not in allowed for area, allowed in ALLOWED.items() if area != "dq.__main__")


def test_importing_the_library_loads_no_streamlit() -> None:
    code = (
        "import sys, dq, dq.cli, dq.insights, dq.edits, dq.edits.retrain, dq.integrations, "
        "dq.insights.cluster_titles; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'dq_console')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
