"""Dependencies point inward (STYLE.md): the domain imports only the standard
library; services import only the domain and the ports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "hubbub"


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_the_domain_imports_only_the_standard_library() -> None:
    for path in (PACKAGE / "domain").glob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith("hubbub.domain"), (
                f"{path.name} imports {name}"
            )


def test_services_depend_only_on_the_domain_and_the_ports() -> None:
    allowed = ("hubbub.domain", "hubbub.ports", "hubbub.services")
    for path in (PACKAGE / "services").glob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            assert top in sys.stdlib_module_names or name.startswith(allowed), (
                f"services/{path.name} imports {name}"
            )


def test_only_the_composition_root_and_entry_points_choose_adapters() -> None:
    entry_points = {"bootstrap.py"}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in {"adapters", "server"} or relative.name in entry_points:
            continue
        for name in imports_of(path):
            assert not name.startswith("hubbub.adapters"), f"{relative} imports {name}"
