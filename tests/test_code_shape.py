"""The house's size rules (issue 14): no module of ``hoi_sim`` over 400 lines and no function over 60 lines.

A function's length runs from its ``def`` line (its first decorator, when it has one) to its last line, docstring,
comments and blank lines included; methods and nested functions count on their own (a nested function also counts
inside the function that holds it). Each rule is shown to be able to fail on a planted file.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "hoi_sim"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60

ALLOWED: dict[str, str] = {}
"""Modules (path) and functions (path::qualified name) still over the limits; each entry must still be over them."""


def _functions(tree: ast.AST) -> list[tuple[str, int]]:
    """(qualified name, lines from the first decorator or ``def`` to the last line) of every function in ``tree``."""
    out: list[tuple[str, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if not isinstance(child, ast.ClassDef):
                    start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    out.append((name, child.end_lineno - start + 1))
                walk(child, name + ".")
            else:
                walk(child, prefix)

    walk(tree, "")
    return out


def oversized(package: Path, root: Path, max_module: int = MAX_MODULE_LINES,
              max_function: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """Every module (relative path) over ``max_module`` lines and every function (``path::name``) over
    ``max_function`` lines below ``package``, with its length."""
    found: dict[str, int] = {}
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        lines = len(text.splitlines())
        if lines > max_module:
            found[rel] = lines
        for name, length in _functions(ast.parse(text, filename=rel)):
            if length > max_function:
                found[f"{rel}::{name}"] = length
    return found


def test_no_module_or_function_over_the_limits() -> None:
    found = oversized(PACKAGE, ROOT)
    new = {k: v for k, v in found.items() if k not in ALLOWED}
    assert not new, ("over the limits (modules ≤ 400 lines, functions ≤ 60 lines; split them): "
                     + ", ".join(f"{k} ({v} lines)" for k, v in sorted(new.items())))
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"within the limits now, remove from ALLOWED in {Path(__file__).name}: {stale}"


def test_the_check_finds_a_long_module_and_long_functions(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    body = "\n".join(f"    x{i} = {i}" for i in range(58))
    (pkg / "ok.py").write_text(f"def fits():\n    '''doc'''\n{body}\n")  # 60 lines: allowed
    (pkg / "long.py").write_text(
        "import functools\n\n\nclass C:\n    @functools.cache\n    def method(self):\n"
        + "\n".join(f"        y{i} = {i}" for i in range(59)) + "\n\n\n"
        + "def outer():\n    def inner():\n" + "\n".join(f"        z{i} = {i}" for i in range(60))
        + "\n    return inner\n"
        + "\n" * 300 + "VALUE = 1\n")
    found = oversized(pkg, tmp_path)
    assert set(found) == {"pkg/long.py", "pkg/long.py::C.method", "pkg/long.py::outer", "pkg/long.py::outer.inner"}
    assert found["pkg/long.py::C.method"] == 61  # decorator + def + 59 lines
    assert found["pkg/long.py::outer.inner"] == 61 and found["pkg/long.py::outer"] == 63
    assert found["pkg/long.py"] > 400
