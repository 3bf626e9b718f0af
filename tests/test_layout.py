"""The package layout is the pipeline: each stage imports only the stages before it.

Imports are read with `ast` (module level and inside functions alike), so a lazy import
cannot hide a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "pipeline"
# Shared helpers every stage may use: exceptions, progress display, forked workers, the
# garbage collector's setting.
COMMON = {"pipeline.errors", "pipeline.progress", "pipeline.parallel", "pipeline.garbage"}
# The stages each stage may import, besides itself and COMMON. Only `pipeline.cli` and
# `pipeline.bench` (top level) import across all of them.
ALLOWED = {
    "anthology": set(),
    "resolve": {"anthology"},
    "export": {"anthology"},
    "evaluate": {"anthology", "resolve"},
    "review": {"anthology", "export"},
    "gephi": {"anthology"},
    "nightly": {"anthology", "resolve", "export"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, module: str) -> set[str]:
    """Absolute names of the `pipeline` modules (or packages) that a file imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("pipeline"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("pipeline"):
                found.add(name)
                found.update(f"{name}.{a.name}" for a in node.names
                             if f"{name}.{a.name}" in MODULES)
    return found


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in ALLOWED else None


def _violations(module: str, imports: set[str]) -> list[str]:
    stage = _stage(module)
    if stage is None:
        return []
    allowed = ALLOWED[stage] | {stage}
    return sorted(f"{module} imports {name}" for name in imports
                  if name not in COMMON and _stage(name) not in allowed)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if _stage(m) is not None))
def test_stage_imports_only_earlier_stages(module: str) -> None:
    assert _violations(module, _imports(MODULES[module], module)) == []


def test_only_cli_and_bench_sit_above_the_stages() -> None:
    top_level = {m for m, path in MODULES.items()
                 if m.count(".") == 1 and path.name != "__init__.py"} - COMMON
    assert top_level == {"pipeline.cli", "pipeline.bench"}
    for module in COMMON:
        assert not _imports(MODULES[module], module) - COMMON, \
            f"{module} must import no stage of the pipeline"


def _import_graph(modules: set[str]) -> dict[str, list[str]]:
    return {m: sorted(_imports(MODULES[m], m) & modules - {m}) for m in modules}


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    cycles: list[list[str]] = []
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in graph[node]:
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_registry_has_no_import_cycle() -> None:
    registry = {m for m in MODULES if m.startswith("pipeline.anthology.registry.")}
    assert {"pipeline.anthology.registry.model", "pipeline.anthology.registry.rules"} <= registry
    assert _cycles(_import_graph(registry)) == []
    model = "pipeline.anthology.registry.model"
    assert not {m for m in _imports(MODULES[model], model)
                if m.startswith("pipeline.anthology.registry")}


def test_no_module_import_cycle() -> None:
    # Packages' __init__ files only re-export their own submodules; leave them out.
    modules = {m for m, path in MODULES.items() if path.name != "__init__.py"}
    assert _cycles(_import_graph(modules)) == []


def test_checker_catches_a_lazy_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ..export import entries\n")
    imports = _imports(bad, "pipeline.resolve.bad")
    assert "pipeline.export.entries" in imports
    assert _violations("pipeline.resolve.bad", imports) == [
        "pipeline.resolve.bad imports pipeline.export",
        "pipeline.resolve.bad imports pipeline.export.entries"]


def test_checker_finds_a_cycle() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert _cycles(graph) == [["a", "b", "c", "a"]]
    assert _cycles({"a": ["b"], "b": []}) == []


@pytest.mark.parametrize(("modules", "absent"), [
    # An unchanged night reads only the manifest: it must not wait for the models' libraries.
    (("pipeline.cli", "pipeline.nightly.run"), ("sklearn", "igraph", "pipeline.resolve.run")),
    # `resolve` and the night do not wait for what only the Gephi files or review pages use.
    (("pipeline.cli", "pipeline.nightly.night", "pipeline.resolve.run"),
     ("networkx", "jinja2")),
])
def test_a_command_does_not_import_what_it_does_not_use(modules: tuple[str, ...],
                                                         absent: tuple[str, ...]) -> None:
    code = (f"import sys\nimport {', '.join(modules)}\n"
            f"print(sorted(m for m in {absent!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=PACKAGE.parent)
    assert out.stdout.strip() == "[]"
