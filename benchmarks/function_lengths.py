"""Function lengths in the gazelab package: lines of logic per function, longest first.

Lines of logic are the function's source lines less blank lines, comment lines and docstrings
(nested functions count towards their parent as well as on their own).

``--raw`` counts every source line from ``def`` to the end instead (docstring, comments and blank lines
included), as the issue's numbers were counted.

Usage: ``python benchmarks/function_lengths.py [--over N] [--raw] [PATH ...]`` (default: ``gazelab``, N = 80).
The last line is the count of functions over N lines and the longest one.
"""

from __future__ import annotations

import argparse
import ast
import io
import tokenize
from pathlib import Path


def _logic_lines(source: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    doc_lines: set[int] = set()
    for inner in ast.walk(node):  # its own docstring and those of nested functions and classes
        if not isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) or not inner.body:
            continue
        first = inner.body[0]
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            doc_lines |= set(range(first.lineno, first.end_lineno + 1))
    lines = source.splitlines()[node.lineno - 1 : node.end_lineno]
    code_lines: set[int] = set()
    tokens = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    for tok in tokens:
        if tok.type in skip:
            continue
        for row in range(tok.start[0], tok.end[0] + 1):
            code_lines.add(row + node.lineno - 1)
    return len(code_lines - doc_lines)


def function_lengths(paths: list[Path], *, raw: bool = False) -> list[tuple[int, str]]:
    """Return ``(lines, "file:qualname")`` for every function under ``paths``, longest first (lines of
    logic, or with ``raw`` all its source lines)."""
    out: list[tuple[int, str]] = []
    files = [f for p in paths for f in (sorted(p.rglob("*.py")) if p.is_dir() else [p])]
    for path in files:
        source = path.read_text()
        tree = ast.parse(source)
        stack: list[tuple[ast.AST, str]] = [(tree, "")]
        while stack:
            parent, prefix = stack.pop()
            for node in ast.iter_child_nodes(parent):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    name = f"{prefix}{node.name}"
                    if not isinstance(node, ast.ClassDef):
                        n = node.end_lineno - node.lineno + 1 if raw else _logic_lines(source, node)
                        out.append((n, f"{path}:{name}"))
                    stack.append((node, name + "."))
                else:
                    stack.append((node, prefix))
    return sorted(out, reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", default=["gazelab"])
    parser.add_argument("--over", type=int, default=80)
    parser.add_argument("--raw", action="store_true", help="all source lines, not lines of logic")
    args = parser.parse_args()
    lengths = function_lengths([Path(p) for p in args.paths], raw=args.raw)
    over = [(n, name) for n, name in lengths if n > args.over]
    for n, name in over:
        print(f"{n:5d}  {name}")
    longest = f"{lengths[0][1]} ({lengths[0][0]} lines)" if lengths else "none"
    kind = "source lines" if args.raw else "lines of logic"
    print(f"{len(over)} functions over {args.over} {kind} in {len(lengths)}; longest: {longest}")


if __name__ == "__main__":
    main()
