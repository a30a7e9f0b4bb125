"""The domain packages stay pure: no ORM, no web framework, no `lims`."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("sqlmodel", "sqlalchemy", "fastapi", "lims", "starlette", "pydantic")


@pytest.mark.parametrize("package", ["workflows", "labels"])
def test_domain_packages_import_neither_the_orm_nor_the_web_layer_nor_lims(package):
    offenders = []
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
