"""The ``infvideo memory-bench`` command (registered by ``infvideo.cli.main.build_parser``)."""

from __future__ import annotations

import argparse

DEFAULT_GRID = "memory_bench/default"  # shipped in infvideo/configs/


def _memory_bench(args: argparse.Namespace) -> int:
    from infvideo.cli.main import show_progress

    from .figures import write_report
    from .grid import load_grid, pending_cells, results_path, run_grid

    grid = load_grid(args.grid, seeds=args.seeds)  # the whole file is checked before any cell runs
    if args.dry_run:
        pending = len(pending_cells(grid, args.output_dir))
        print(f"{len(grid.cells())} cells ({len(grid.variants)} variants), {pending} not yet in {results_path(args.output_dir)}")
        return 0
    records = run_grid(grid, args.output_dir, progress=show_progress(args))
    report = write_report(records, args.output_dir)
    print(report.summary)
    print("wrote " + ", ".join(str(p) for p in [results_path(args.output_dir), *report.paths]))
    return 0


def add_memory_bench_command(commands) -> None:
    bench = commands.add_parser(
        "memory-bench",
        help="needle-in-a-video-haystack for the memories alone: results.jsonl, a table, heat maps",
        description="Run a grid of needle-in-a-haystack cells (memory variants × video lengths × needle depths × needle "
        "widths × seeds) through the memories alone, one line per cell in <output-dir>/results.jsonl (a rerun "
        "computes only the missing cells), then write memory_bench.md, heat maps (depth × length, one per "
        "variant) and retention_vs_length.png. The grid format is described in the default grid's comments.",
    )
    bench.add_argument(
        "grid", nargs="?", default=DEFAULT_GRID, help="a grid file, or a shipped grid's name (default: memory_bench/default)"
    )
    bench.add_argument("--output-dir", default="outputs/memory_bench", help="results.jsonl, the report and the figures")
    bench.add_argument("--seeds", type=int, nargs="+", help="replace the grid's seeds, e.g. --seeds 0 1 2 3 4")
    bench.add_argument("--dry-run", action="store_true", help="count the cells (and those not yet run) and exit")
    bench.set_defaults(run=_memory_bench)
