"""The import contracts of pyproject.toml hold (layers; no web framework in services, queries and
models), and no module imports itself through others (docs/architecture.md, "Layers")."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.core.settings import ROOT


def test_import_contracts_are_kept():
    lint = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def _cycles(graph) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


# Modules that are web by nature; every other module (services, queries, models, jobs, the CLI's
# helpers) must not reach Litestar, not even through another module.
WEB_MODULES = {"app.main", "app.cli", "app.__main__", "app.core.web", "app.core.kept_pages", "app.core.static",
               "app.core.health", "app.notify.fake_gateway", "app.notify.fake_tencent"}


def _is_web(module: str) -> bool:
    return module in WEB_MODULES or module.rsplit(".", 1)[-1].endswith(("routes", "access"))


def test_only_routes_and_access_modules_reach_the_web_framework():
    import grimp

    graph = grimp.build_graph("app", "litestar", cache_dir=None)
    reaching = {m: graph.find_shortest_chain(importer=m, imported="litestar")
                for m in sorted(graph.modules) if m.startswith("app.") and not _is_web(m)
                and graph.chain_exists(importer=m, imported="litestar")}
    assert reaching == {}


def test_no_module_imports_itself_through_others():
    import grimp

    graph = grimp.build_graph("app", cache_dir=None)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    class Graph:
        modules = {"a", "b", "c", "d"}
        edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

        def find_modules_directly_imported_by(self, module):
            return self.edges[module]

    assert _cycles(Graph()) == [["a", "b", "c"]]
