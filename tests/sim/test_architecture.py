"""The design rules the code must keep: no import cycles among sim/ and keeper/ modules (a
function-level import counts too), and sim/ never imports ape or keeper."""

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]


def _modules() -> dict[str, Path]:
    mods = {}
    for base in ("sim", "keeper"):
        for p in (ROOT / base).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    return mods


def _imports(path: Path) -> set[str]:
    """Every module `path` imports, at any depth of its code."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_no_import_cycles():
    mods = _modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        graph.add_edges_from((name, m) for m in _imports(path) if m in mods)
    assert list(nx.simple_cycles(graph)) == []


def test_sim_never_imports_ape_or_keeper():
    for name, path in _modules().items():
        if name.startswith("sim"):
            bad = {m for m in _imports(path) if m.split(".")[0] in ("ape", "keeper")}
            assert not bad, f"{name} imports {sorted(bad)}"
