"""No import cycle among the modules of `registry` (import-linter has no contract for that).

The graph is grimp's (the library under import-linter): every import, relative and inside
functions too, since a lazy import is still a dependency that ties two modules together.
"""

from __future__ import annotations

import grimp

# The one allowed cycle set, empty: add nothing here, break the cycle instead.
ALLOWED: list[set[str]] = []


def cycles(graph: grimp.ImportGraph, prefix: str) -> list[set[str]]:
    """The import cycles (strongly connected components of two or more modules) among the
    modules under `prefix`, following only imports between those modules."""
    modules = {m for m in graph.modules if m == prefix or m.startswith(prefix + ".")}
    reach = {m: _reachable(graph, m, modules) for m in modules}
    components: list[set[str]] = []
    seen: set[str] = set()
    for m in sorted(modules):
        if m in seen:
            continue
        component = {m} | {n for n in reach[m] if m in reach[n]}
        seen |= component
        if len(component) > 1:
            components.append(component)
    return components


def _reachable(graph: grimp.ImportGraph, start: str, modules: set[str]) -> set[str]:
    found: set[str] = set()
    todo = [start]
    while todo:
        for n in graph.find_modules_directly_imported_by(todo.pop()) & modules:
            if n not in found:
                found.add(n)
                todo.append(n)
    return found


def test_registry_web_has_no_import_cycle():
    graph = grimp.build_graph("registry")
    assert len([m for m in graph.modules if m.startswith("registry.web.")]) > 15
    assert cycles(graph, "registry.web") == ALLOWED


def test_registry_has_no_import_cycle():
    assert cycles(grimp.build_graph("registry"), "registry") == ALLOWED


def test_the_check_finds_a_cycle_through_a_package_and_a_lazy_import():
    graph = grimp.ImportGraph()
    for m in ("pkg", "pkg.routes", "pkg.errors", "pkg.ui", "pkg.leaf", "other"):
        graph.add_module(m)
    graph.add_import(importer="pkg.routes", imported="pkg")  # `from .. import bp`
    graph.add_import(importer="pkg", imported="pkg.routes")  # routes imported at the bottom
    graph.add_import(importer="pkg.errors", imported="pkg.ui")
    graph.add_import(importer="pkg.ui", imported="pkg.errors")
    graph.add_import(importer="pkg.ui", imported="pkg.leaf")
    graph.add_import(importer="pkg.leaf", imported="other")
    graph.add_import(importer="other", imported="pkg.ui")  # outside pkg: not followed
    assert sorted(map(sorted, cycles(graph, "pkg"))) == [
        ["pkg", "pkg.routes"],
        ["pkg.errors", "pkg.ui"],
    ]
