"""Run a benchmark: ``python -m bench [assign|locate] [options]`` (default: assign)."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "assign": "bench.bench_assign",
    "locate": "bench.bench_locate",
    "hotspots": "bench.bench_hotspots",
    "components": "bench.bench_components",
    "gridgen": "bench.bench_gridgen",
}


def main(argv: list[str]) -> int:
    name = argv[0] if argv and argv[0] in BENCHES else "assign"
    rest = argv[1:] if argv and argv[0] in BENCHES else argv
    if argv and argv[0] in ("-h", "--help"):
        print(__doc__)
        print("benchmarks:", ", ".join(BENCHES))
        return 0
    result = importlib.import_module(BENCHES[name]).main(rest)
    return result if isinstance(result, int) else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
