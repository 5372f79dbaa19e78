"""The package's layers, read from its source: every import of lab (at module level, in a
function or under TYPE_CHECKING) goes down the layers net/turn/rtc/sfu < contract < runtime <
experiment < cluster < analysis/cli, and no lab modules import each other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

LAB = Path(__file__).resolve().parents[1] / "lab"
LAYERS = (("lab.net", "lab.turn", "lab.rtc", "lab.sfu"), ("lab.contract",), ("lab.runtime",), ("lab.experiment",),
          ("lab.cluster",), ("lab.analysis", "lab.cli"))


def modules() -> dict[str, Path]:
    found = {}
    for path in LAB.rglob("*.py"):
        name = ".".join(path.relative_to(LAB.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in mods:
                    target = target.rpartition(".")[0]
                # a package importing its own submodules is not an arrow between layers
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def layer(module: str) -> int | None:
    for index, group in enumerate(LAYERS):
        if any(module == g or module.startswith(g + ".") for g in group):
            return index
    return None


def test_imports_go_down_the_layers() -> None:
    upward = []
    for module, targets in import_graph().items():
        for target in targets:
            low, high = layer(module), layer(target)
            if low is not None and high is not None and high > low:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports against the layers:\n" + "\n".join(sorted(upward))


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles: list[list[str]] = []
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_lazy_packages_export_what_they_can_load() -> None:
    import importlib

    for name in ("lab", "lab.net", "lab.net.shaping"):
        package = importlib.import_module(name)
        exported = set(package.__all__) - {"__version__"}
        assert exported == set(package._WHERE), name
        for attribute in exported:
            assert getattr(package, attribute) is not None


def _private_names_of_rtc() -> set[str]:
    """Every private method or attribute lab.rtc's own classes define (`def _x`, `self._x = ...`)."""
    names: set[str] = set()
    for path in (LAB / "rtc").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_"):
                names.add(node.name)
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id == "self"):
                names.add(node.attr)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def test_nothing_outside_lab_rtc_touches_its_private_names() -> None:
    """lab.rtc's objects are used through their public API (aiortc's privates live in lab/rtc/compat.py)."""
    private = _private_names_of_rtc()
    assert "_send" in private
    touched = []
    for path in LAB.rglob("*.py"):
        if path.relative_to(LAB).parts[0] == "rtc":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in private
                    and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                    and not (isinstance(node.value, ast.Call) and ast.unparse(node.value.func) == "super")):
                touched.append(f"{path.relative_to(LAB.parent)}:{node.lineno}: {ast.unparse(node)}")
    assert not touched, "lab.rtc privates used outside lab/rtc:\n" + "\n".join(touched)
