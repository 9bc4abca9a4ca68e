"""`RegistryService` is the only door to the domain: the web layer, the CLI, the server, the
benchmark and the app factory never reach the service's store (`service._store`, formerly
`service.store`); every use case they need is a named service method."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE_THE_DOMAIN = [
    *sorted((ROOT / "registry" / "web").rglob("*.py")),
    ROOT / "registry" / "cli.py",
    ROOT / "registry" / "serve.py",
    *sorted((ROOT / "registry" / "bench").rglob("*.py")),
    ROOT / "app.py",
]
STORE_NAMES = {"store", "_store"}


def store_reaches(source: str) -> list[int]:
    """Lines where `source` reads an attribute named `store`/`_store`, directly or with
    `getattr(x, "_store")`. Local variables named `store` (an app factory opening one) are
    names, not attributes, and stay allowed."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source)) if _reaches(node))


def _reaches(node: ast.AST) -> bool:
    if isinstance(node, ast.Attribute):
        return node.attr in STORE_NAMES
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("getattr", "setattr", "hasattr")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
        and node.args[1].value in STORE_NAMES
    )


def test_the_scan_finds_every_way_of_reaching_the_store():
    source = (
        "a = service._store.get_profile('r', 'p')\n"
        "b = app.extensions['registry'].store\n"
        "c = getattr(service, '_store')\n"
        "store = open_store(url)\n"  # a name, not a reach through the service
        "from registry.store import open_store\n"
    )
    assert store_reaches(source) == [1, 2, 3]


def test_nothing_outside_the_domain_reaches_the_services_store():
    assert len(OUTSIDE_THE_DOMAIN) > 10  # the web package was found
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in OUTSIDE_THE_DOMAIN
        for line in store_reaches(path.read_text(encoding="utf-8"))
    }
    assert not found, f"use a service method instead of its store: {sorted(found)}"


def test_the_store_is_private(service):
    assert not hasattr(service, "store")
