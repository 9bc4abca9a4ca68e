"""registry/forms sits below registry/web: no Flask, no web or store imports (werkzeug is fine)."""

import ast
from pathlib import Path

FORMS = Path(__file__).resolve().parents[2] / "registry" / "forms"
BANNED = ("flask", "flask_wtf", "jinja2", "peewee", "playhouse", "registry.web", "registry.store")


def imported_modules(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports stay inside registry/forms)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def banned(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == b or n.startswith(b + ".") for b in BANNED))


def test_forms_modules_import_nothing_from_web_store_or_flask():
    files = sorted(FORMS.rglob("*.py"))
    assert any(f.parent.name == "profile_editor" for f in files)
    offenders = {str(f.relative_to(FORMS)): banned(imported_modules(f)) for f in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_checker_would_catch_a_web_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import flask\nfrom registry.web.pages import bp\nfrom registry.domain import x\n"
    )
    assert banned(imported_modules(bad)) == ["flask", "registry.web.pages"]
