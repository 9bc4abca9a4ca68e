"""registry/domain stays pure Python: no Flask, WTForms, peewee or Jinja imports."""

import ast
from pathlib import Path

BANNED = {"flask", "flask_wtf", "wtforms", "peewee", "playhouse", "jinja2", "htmx_flask"}
DOMAIN = Path(__file__).resolve().parents[2] / "registry" / "domain"


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_domain_modules_import_no_web_or_orm_frameworks():
    files = sorted(DOMAIN.rglob("*.py"))
    assert len(files) > 5
    offenders = {f.name: sorted(imported_roots(f) & BANNED) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_would_catch_a_banned_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom flask import Flask\nfrom peewee import Model\n")
    assert imported_roots(bad) & BANNED == {"flask", "peewee"}
