"""The house rules of the package (docs/architecture.md): the import contracts in pyproject.toml hold (run by
``lint-imports``), the import graph of ``hoi_sim`` has no cycle, and docs/architecture.md draws the same layers.

Each check is shown to be able to fail: lint-imports reports a contract the package breaks, and the cycle finder
finds a planted cycle.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import grimp

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "hoi_sim"


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _lint_imports(*args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("lint-imports")
    cmd = str(exe) if exe.is_file() else shutil.which("lint-imports")
    assert cmd, "lint-imports is not installed (pip install -e '.[dev]')"
    return subprocess.run([cmd, "--no-cache", "--no-logo", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every group of modules that import each other in a circle: the strongly connected components of the direct
    import graph with more than one module, and modules that import themselves (Tarjan, iterative)."""
    modules = sorted(graph.modules)
    succ = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(succ[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, it = work[-1]
            nxt = next(it, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1 or node in succ[node]:
                    cycles.append(sorted(comp))
    return sorted(cycles)


def test_import_contracts_hold() -> None:
    """lint-imports passes every contract of pyproject.toml (layers, independence, forbidden imports)."""
    result = _lint_imports()
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    n = len(_config()["contracts"])
    assert f"Contracts: {n} kept, 0 broken." in out, out  # every contract was read and checked


def test_lint_imports_reports_a_broken_contract(tmp_path: Path) -> None:
    """The same checker fails on a contract the package breaks (the face imports eval, so eval may not sit below it),
    so the check above is not vacuous."""
    cfg = tmp_path / "broken.toml"
    cfg.write_text(f'[tool.importlinter]\nroot_package = "{PACKAGE}"\n\n[[tool.importlinter.contracts]]\n'
                   'name = "inverted on purpose"\ntype = "layers"\n'
                   f'layers = ["{PACKAGE}.eval", "{PACKAGE}.commands"]\n')
    result = _lint_imports("--config", str(cfg))
    out = result.stdout + result.stderr
    assert result.returncode != 0, out
    assert "BROKEN" in out and f"{PACKAGE}.commands is not allowed to import {PACKAGE}.eval" in out, out


def test_import_graph_has_no_cycle() -> None:
    graph = grimp.build_graph(PACKAGE, cache_dir=None)
    assert len(graph.modules) > 100  # the whole package was read
    cycles = import_cycles(graph)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_finds_planted_cycles() -> None:
    graph = grimp.ImportGraph()
    for a, b in [("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a"), ("p.c", "p.d"), ("p.e", "p.e"), ("p.f", "p.d")]:
        graph.add_import(importer=a, imported=b)
    assert import_cycles(graph) == [["p.a", "p.b", "p.c"], ["p.e"]]


def _layers() -> list[str]:
    (layers,) = [c["layers"] for c in _config()["contracts"] if c["type"] == "layers"]
    return layers


def doc_problems(doc: str, layers: list[str], contract_ids: list[str]) -> list[str]:
    """What docs/architecture.md (text ``doc``) gets wrong about the contracts: a layer missing from its first
    ```text diagram or drawn out of order (top first, one line per layer, starting with the layer as written in
    pyproject.toml), or a contract id (in backquotes) it never names."""
    block = re.search(r"```text\n(.*?)```", doc, re.S)
    if not block:
        return ["no ```text diagram"]
    lines = [" ".join(line.split()) for line in block.group(1).splitlines()]
    problems, pos = [], []
    for layer in layers:
        want = " ".join(layer.split())
        found = [i for i, line in enumerate(lines) if line == want or line.startswith(want + " ")]
        if not found:
            problems.append(f"layer {want!r} is not drawn")
        else:
            pos.append(found[0])
    if pos != sorted(pos):
        problems.append("the layers are drawn in another order than in pyproject.toml")
    problems += [f"contract {c!r} is not named" for c in contract_ids if f"`{c}`" not in doc]
    return problems


def test_architecture_doc_draws_the_contracts() -> None:
    """docs/architecture.md draws the layers of the layers contract in the same order and names every contract."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    ids = [c["id"] for c in _config()["contracts"]]
    assert doc_problems(doc, _layers(), ids) == []


def test_doc_check_can_fail() -> None:
    """The doc check sees a missing layer, a swapped order and an unnamed contract."""
    layers = ["a", "b | c", "d"]
    good = "```text\na        top\nb | c    middle\nd\n```\n`one`"
    assert doc_problems(good, layers, ["one"]) == []
    assert doc_problems(good.replace("b | c", "b"), layers, ["one"]) == ["layer 'b | c' is not drawn"]
    swapped = "```text\nd\nb | c\na\n```\n`one`"
    assert doc_problems(swapped, layers, ["one"]) == ["the layers are drawn in another order than in pyproject.toml"]
    assert doc_problems(good, layers, ["one", "two"]) == ["contract 'two' is not named"]
