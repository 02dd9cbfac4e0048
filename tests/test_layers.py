"""The package's import graph: no module imports itself around a loop (issue 12).

The layers themselves (cli → report → planning → engines → analysis | scenario → priors → model
→ core) are checked by import-linter in ``.ci/run`` (contract in pyproject.toml); a layers
contract allows loops *inside* a layer, which this test forbids. Imports inside functions count;
imports under ``if TYPE_CHECKING:`` do not (annotations only).
"""

from __future__ import annotations

import pytest

grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the test extra)")


def strongly_connected(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the components of more than one module (each one a loop)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in adjacency[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(adjacency):
        if v not in index:
            visit(v)
    return found


def test_tarjan_finds_a_loop():
    """The checker itself can fail: a → b → c → a is one component; d alone is none."""
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": []}
    assert strongly_connected(graph) == [["a", "b", "c"]]


def test_no_import_cycles():
    graph = grimp.build_graph("simtrial", exclude_type_checking_imports=True)
    adjacency = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert len(adjacency) > 50  # the whole package was seen
    assert strongly_connected(adjacency) == []


def test_analysis_never_sees_a_scenario():
    """``analysis`` is NumPy/SciPy only: nothing in it imports the scenario schema, not even
    for annotations."""
    graph = grimp.build_graph("simtrial", exclude_type_checking_imports=False)
    chains = graph.find_shortest_chains(importer="simtrial.analysis", imported="simtrial.scenario")
    assert not chains
