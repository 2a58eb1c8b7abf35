"""Dependencies point inward (STYLE.md): the domain imports only the standard
library; services import only the domain and the ports."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "hubbub"


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module `path` imports, relative imports resolved to absolute names, and
    `from package import name` counted as `package.name` (it may be a module)."""
    package = (root.name, *path.relative_to(root).parent.parts)
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_relative_and_from_imports_are_resolved(tmp_path: Path) -> None:
    root = tmp_path / "hubbub"
    (root / "services").mkdir(parents=True)
    module = root / "services" / "sneaky.py"
    module.write_text(
        "from ..adapters.sqlite import SqliteStore\n"
        "from .. import adapters\n"
        "from . import auth\n"
        "from hubbub import bootstrap\n"
        "import json\n"
    )
    assert imports_of(module, root) == {
        "hubbub.adapters.sqlite.SqliteStore",
        "hubbub.adapters",
        "hubbub.services.auth",
        "hubbub.bootstrap",
        "json",
    }


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
    # bootstrap.py, and its Lambda side (hubbub.aws.platform: the SNS publisher and
    # API Gateway's connections, which only Lambda has).
    roots = {Path("bootstrap.py"), Path("aws/platform.py")}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in {"adapters", "server"} or relative in roots:
            continue
        for name in imports_of(path):
            assert not name.startswith("hubbub.adapters"), f"{relative} imports {name}"
