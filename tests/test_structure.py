"""The shape of the code a newcomer relies on: rooms per capability, public names, runnable
examples, and a README layout table that matches the tree."""

from __future__ import annotations

import ast
import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import pytest

import gis

ROOT = Path(__file__).resolve().parents[1]
GIS_MODULES = sorted(m.name for m in pkgutil.walk_packages(gis.__path__, "gis."))
# Pure helpers outside gis/ whose docstrings carry examples too.
OTHER_DOCTESTS = ["app.states", "app.db.sql"]


@pytest.mark.parametrize("name", GIS_MODULES + OTHER_DOCTESTS)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), report=True)
    assert result.failed == 0, name


def test_the_examples_are_there() -> None:
    attempted = sum(
        doctest.testmod(importlib.import_module(n), report=False).attempted for n in GIS_MODULES
    )
    assert attempted >= 70  # numpydoc examples across gis/ (79 when written)


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return names


def test_nothing_outside_gis_imports_its_private_modules() -> None:
    found = [
        f"{p.relative_to(ROOT)}: {name}"
        for folder in ("app", "tests", "bench")
        for p in (ROOT / folder).rglob("*.py")
        for name in _imports(p)
        if name.startswith("gis.") and any(part.startswith("_") for part in name.split("."))
    ]
    assert found == []


def test_every_router_module_is_listed() -> None:
    from app.main import _routers

    listed = {
        route.endpoint.__module__
        for router in _routers()
        for route in router.routes
        if hasattr(route, "endpoint")  # not the static files' mount
    }
    files = {
        f"app.api.routes.{m.name}"
        for m in pkgutil.iter_modules([str(ROOT / "app" / "api" / "routes")])
    }
    assert listed == files


def _layout_paths() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Layout", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([^`]+)`", table, re.M)


def test_readme_layout_matches_the_tree() -> None:
    paths = _layout_paths()
    assert paths, "README has a layout table"
    missing = [p for p in paths if not (ROOT / p.rstrip("/")).exists()]
    assert missing == []
    # Every capability package of gis/ and every bounded context of app/ is in the table.
    packages = [
        f"{base}/{d.name}/"
        for base in ("gis", "app/services", "app/db")
        for d in sorted((ROOT / base).iterdir())
        if d.is_dir() and (d / "__init__.py").exists()
    ]
    assert [p for p in packages if p not in paths] == []
