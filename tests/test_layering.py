"""The dependency direction pages -> dq_console -> dq: the library never imports streamlit or the console."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

DQ = Path(__file__).resolve().parent.parent / "dq"
FORBIDDEN = ("streamlit", "dq_console")


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_module_of_dq_imports_streamlit_or_the_console() -> None:
    offenders = {
        str(path.relative_to(DQ.parent)): sorted(m for m in _imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        for path in sorted(DQ.rglob("*.py"))
    }
    assert {k: v for k, v in offenders.items() if v} == {}
    assert len(offenders) > 40  # the scan saw the library


def test_importing_the_library_loads_no_streamlit() -> None:
    code = (
        "import sys, dq, dq.cli, dq.insights, dq.edits, dq.edits.retrain, dq.integrations, dq.insights.cluster_titles; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('streamlit', 'dq_console')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
