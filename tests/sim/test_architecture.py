"""The shape the code must keep (see ARCHITECTURE.md).

* No import cycles among sim/ and keeper/ modules. A function-level import counts (it runs),
  and so does importing a submodule's package (Python runs its `__init__` first); imports under
  `if TYPE_CHECKING:` do not (they never run).
* sim/ never imports ape or keeper.
* The models never import the node side: only the node side itself (`sim.chain`, each venue's
  `chain.py`), the command line (`sim.cli`), the run interface (`sim.run`, for chain runs) and a
  venue's spec (`spec.py`, its lazy getter of the chain part) may import `sim.chain`, a venue's chain part
  or a JSON-RPC library.
* Every venue package has the same parts and the registry lists every venue package, once.
* No module is over 600 lines without a reason in its docstring ("Why it is long: ...").
"""

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[2]
VENUE_PARTS = {"__init__", "spec", "config", "twin", "batch", "engine", "exact", "chain"}
NODE_LIBRARIES = {"web3", "eth_abi", "requests", "rlp", "ape"}
MAX_LINES = 600
PENDING_SPLIT: set[str] = set()
"""Long modules whose split is under way on their own branches (this set must end empty)."""


def _modules() -> dict[str, Path]:
    mods = {}
    for base in ("sim", "keeper"):
        for p in (ROOT / base).rglob("*.py"):
            name = ".".join(p.relative_to(ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    return mods


def _type_checking_only(tree: ast.AST) -> set[int]:
    """Line numbers of imports inside `if TYPE_CHECKING:` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def _imports(path: Path) -> set[str]:
    """Every module `path` imports when it runs, at any depth of its code."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def _with_packages(name: str) -> set[str]:
    """A module and every package above it (importing it runs their __init__ first)."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def test_no_import_cycles():
    mods = _modules()
    graph = nx.DiGraph()
    for name, path in mods.items():
        graph.add_node(name)
        for m in _imports(path):
            for target in _with_packages(m):
                if target in mods and target != name and not name.startswith(target + "."):
                    graph.add_edge(name, target)
    assert list(nx.simple_cycles(graph)) == []


def test_sim_never_imports_ape_or_keeper():
    for name, path in _modules().items():
        if name.startswith("sim"):
            bad = {m for m in _imports(path) if m.split(".")[0] in ("ape", "keeper")}
            assert not bad, f"{name} imports {sorted(bad)}"


def _is_node_side(module: str) -> bool:
    parts = module.split(".")
    if parts[0] in NODE_LIBRARIES:
        return True
    if parts[:2] == ["sim", "chain"]:
        return True
    return len(parts) == 4 and parts[:2] == ["sim", "venues"] and parts[3] == "chain"


def _may_import_node_side(module: str) -> bool:
    parts = module.split(".")
    if _is_node_side(module) or module in ("sim.run",) or parts[:2] == ["sim", "cli"]:
        return True
    return len(parts) == 4 and parts[:2] == ["sim", "venues"] and parts[3] == "spec"


def test_models_never_import_the_node_side():
    for name, path in _modules().items():
        if not name.startswith("sim") or _may_import_node_side(name):
            continue
        bad = {m for m in _imports(path) if _is_node_side(m)}
        assert not bad, f"{name} is a model but imports the node side: {sorted(bad)}"


def test_every_venue_package_has_the_same_parts_and_is_registered_once():
    from sim.venues.registry import VENUES

    venues = ROOT / "sim" / "venues"
    packages = sorted(p.name for p in venues.iterdir() if (p / "__init__.py").is_file())
    assert packages, "no venue packages"
    for name in packages:
        parts = {p.stem for p in (venues / name).glob("*.py")}
        missing = VENUE_PARTS - parts
        assert not missing, f"venue package {name} lacks {sorted(missing)}"
    registered = [v.engine.__module__.split(".")[2] for v in VENUES]
    assert sorted(registered) == packages, "the registry must list every venue package once"
    assert len({v.name for v in VENUES}) == len(VENUES)


def test_no_module_is_long_without_saying_why():
    for name, path in _modules().items():
        text = path.read_text()
        if text.count("\n") <= MAX_LINES or name in PENDING_SPLIT:
            continue
        doc = ast.get_docstring(ast.parse(text)) or ""
        assert "Why it is long:" in doc, (
            f"{name} has {text.count(chr(10))} lines: split it, or say in its docstring "
            "'Why it is long: ...'"
        )
