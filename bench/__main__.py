"""`python -m bench`: list the benchmarks; `python -m bench NAME [ARGS...]` runs one."""

from __future__ import annotations

import ast
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def benchmarks() -> dict[str, str]:
    """Each benchmark module of this folder with the first line of its docstring."""
    found = {}
    for path in sorted(HERE.glob("*.py")):
        if path.name.startswith("_"):
            continue
        docstring = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        found[path.stem] = docstring.splitlines()[0] if docstring else ""
    return found


def main() -> int:
    available = benchmarks()
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print("usage: python -m bench NAME [ARGS...]   (NAME --help for its options)\n")
        for name, summary in available.items():
            print(f"  {name:<20} {summary}")
        return 0
    name = sys.argv[1]
    if name not in available:
        print(f"no benchmark {name!r}; expected one of: {', '.join(available)}", file=sys.stderr)
        return 2
    sys.argv = [str(HERE / f"{name}.py"), *sys.argv[2:]]
    runpy.run_path(sys.argv[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
