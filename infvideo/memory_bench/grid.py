"""``infvideo memory-bench GRID.yaml``: a grid of needle-in-a-haystack cells, one JSON line per cell.

A grid file (the shipped ``memory_bench/default``, ``infvideo/configs/memory_bench/default.yaml``, is a commented example)::

    memories:                 # the memory variants: a display name, a memory kind, its settings
      - {name: uniform τ0.75 N256, memory: continuous, options: {sticky: false, tau: 0.75, num_basis: 256}}
      - {name: sticky τ0.75 N256, memory: continuous, options: {sticky: true, tau: 0.75, num_basis: 256}}
      - {name: MovieChat, memory: moviechat}
    chunks: [8, 16, 32, 64]   # video lengths, in chunks
    depths: [0, 0.5, 1]       # where the needle sits, 0 = first frame ... 1 = last frame
    needle_frames: [2]        # needle widths, in frames
    needles: [1]              # needles per video
    seeds: [0, 1, 2]
    frames_per_chunk: 16      # one value each from here on
    width: 64                 # feature width
    tokens_per_frame: 1
    source: synthetic         # or a token-cache folder
    projections: random       # or a run config (e.g. tiny/nextqa): the key/value of
                              # its model's first memory layer; width then follows that layer

Every list is an axis (a single value is a one-element list); the cells are the product of the axes,
each a ``Cell`` of ``infvideo.memory_bench.cell``. Variant names must be unique, and so must their
(memory, options): two names for one memory would be one cell. The whole file is checked before the
first cell runs; a bad file is one ``UserError``.

``results.jsonl`` gets one line per cell: ``id`` (``Cell.key()``), ``variant``, the cell's fields and
``run_cell``'s metrics. Lines go through the predictions store (``infvideo.eval.predictions``): each is
fsynced before the next cell starts, a torn last line is cut off, and a file lock keeps a second
process out. A cell whose key has a line is never run again, so a killed run resumes where it stopped,
and one results file can hold several grids: the report covers the cells of the grid asked for, named
as that grid names them.
"""

from __future__ import annotations

import itertools
import math
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infvideo.errors import UserError
from infvideo.eval.predictions import PredictionStore, latest_records

RESULTS = "results.jsonl"
# Fields of a result line that measure the machine, not the memory: two runs of one cell agree on
# everything else.
TIMING_FIELDS = ("seconds_per_chunk",)

AXES = ("chunks", "depths", "needle_frames", "needles", "seeds")
SCALARS = ("frames_per_chunk", "width", "tokens_per_frame", "source", "projections")
VARIANT_KEYS = ("name", "memory", "options")


@dataclass(frozen=True)
class Variant:
    name: str
    memory: str
    options: tuple[tuple[str, Any], ...]  # sorted, as ``Cell.options``


@dataclass(frozen=True)
class GridCell:
    variant: Variant
    cell: Any  # a ``Cell``

    @property
    def key(self) -> str:
        return self.cell.key()


@dataclass
class Grid:
    path: Path
    variants: list[Variant]
    axes: dict[str, list]  # AXES -> values, in file order
    scalars: dict[str, Any]  # SCALARS -> value
    projections: Any = None  # a real layer's ``Projections`` once ``use_layer_projections`` loaded them

    def use_layer_projections(self) -> None:
        """Load the real layer a ``projections: CONFIG`` grid names (one model build), and take its label
        and input width into the cells."""
        from .probes import layer_projections

        if self.scalars.get("projections", "random") == "random" or self.projections is not None:
            return
        self.projections, label, width = layer_projections(str(self.scalars["projections"]))
        self.scalars = {**self.scalars, "projections": label, "width": width}

    def cells(self) -> list[GridCell]:
        """Every cell, shortest videos first (so a partial run already covers every variant)."""
        from . import cell as cell_module

        out = []
        for chunks, variant, needle_frames, needles, depth, seed in itertools.product(
            self.axes["chunks"],
            self.variants,
            self.axes["needle_frames"],
            self.axes["needles"],
            self.axes["depths"],
            self.axes["seeds"],
        ):
            out.append(
                GridCell(
                    variant,
                    cell_module.Cell(
                        memory=variant.memory,
                        options=variant.options,
                        chunks=chunks,
                        depth=float(depth),
                        needles=needles,
                        needle_frames=needle_frames,
                        seed=seed,
                        **self.scalars,
                    ),
                )
            )
        return out


def _fail(path: Path, message: str) -> UserError:
    return UserError(f"{path}: {message}")


def _as_list(path: Path, name: str, value: Any) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise _fail(path, f"{name} is empty; give at least one value")
    if len(set(map(repr, values))) != len(values):
        raise _fail(path, f"{name} lists a value twice: {values}")
    return values


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive_ints(path: Path, name: str, values: list) -> list[int]:
    bad = [v for v in values if not _is_int(v) or v < 1]
    if bad:
        raise _fail(path, f"{name} must be positive integers, got {bad}")
    return values


def _check_options(path: Path, name: str, memory: str, options: dict, factory) -> None:
    """Build the variant's memory once, so options it refuses (an unknown name, τ outside (0, 1)) are
    one error now rather than a traceback when its first cell runs; building one is cheap."""
    try:
        factory(dict(options))
    except (TypeError, ValueError) as error:
        raise _fail(path, f"memory variant {name!r} ({memory}): {' '.join(str(error).split())}") from error


def _variants(path: Path, entries: Any) -> list[Variant]:
    from .zoo import MEMORIES

    if not isinstance(entries, list) or not entries:
        raise _fail(path, "memories must be a non-empty list of {name, memory, options}")
    variants, names, settings = [], set(), {}
    for number, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            entry = {"name": entry, "memory": entry}  # `- moviechat`: a memory with its defaults
        if not isinstance(entry, dict):
            raise _fail(path, f"memories entry {number} must be a mapping {{name, memory, options}}, got {entry!r}")
        unknown = sorted(set(entry) - set(VARIANT_KEYS))
        if unknown:
            raise _fail(path, f"memories entry {number}: unknown keys {unknown}; expected {', '.join(VARIANT_KEYS)}")
        memory = entry.get("memory")
        if memory not in MEMORIES:
            raise _fail(path, f"memories entry {number}: unknown memory {memory!r}; expected one of {', '.join(MEMORIES)}")
        name = str(entry.get("name") or memory)
        options = entry.get("options") or {}
        if not isinstance(options, dict):
            raise _fail(path, f"memory variant {name!r}: options must be a mapping, got {options!r}")
        _check_options(path, name, memory, options, MEMORIES[memory])
        if name in names:
            raise _fail(path, f"two memory variants are named {name!r}")
        variant = Variant(name, memory, tuple(sorted(options.items())))
        if (memory, variant.options) in settings:
            raise _fail(
                path, f"memory variants {settings[memory, variant.options]!r} and {name!r} are the same memory with the same options"
            )
        names.add(name)
        settings[memory, variant.options] = name
        variants.append(variant)
    return variants


def load_grid(path: str | Path, seeds: list[int] | None = None) -> Grid:
    """The grid a file describes, checked whole; ``seeds`` replaces the file's seeds."""
    from infvideo.configs import resolve

    path = resolve(path, "grid file")
    try:
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise _fail(path, f"not valid YAML ({' '.join(str(error).split())})") from error
    if not isinstance(spec, dict):
        raise _fail(path, f"a grid file is a mapping with memories, {', '.join(AXES)}, {', '.join(SCALARS)}")
    unknown = sorted(set(spec) - {"memories", *AXES, *SCALARS})
    if unknown:
        raise _fail(path, f"unknown grid keys {unknown}; expected memories, {', '.join(AXES)}, {', '.join(SCALARS)}")
    missing = [name for name in ("memories", "chunks", "depths") if name not in spec]
    if missing:
        raise _fail(path, f"missing {', '.join(missing)}")
    if seeds is not None:
        spec["seeds"] = list(seeds)
    variants = _variants(path, spec["memories"])
    defaults = {"needle_frames": [2], "needles": [1], "seeds": [0]}
    axes = {name: _as_list(path, name, spec.get(name, defaults.get(name))) for name in AXES}
    for name in ("chunks", "needle_frames", "needles"):
        _positive_ints(path, name, axes[name])
    if not all(_is_int(s) and s >= 0 for s in axes["seeds"]):
        raise _fail(path, f"seeds must be integers >= 0, got {axes['seeds']}")
    depths = axes["depths"]
    if not all(isinstance(d, (int, float)) and not isinstance(d, bool) and math.isfinite(d) and 0 <= d <= 1 for d in depths):
        raise _fail(path, f"depths must lie in [0, 1] (0 = the first frame, 1 = the last), got {depths}")
    scalars = {name: spec[name] for name in SCALARS if name in spec}
    for name in ("frames_per_chunk", "width", "tokens_per_frame"):
        if name in scalars:
            if isinstance(scalars[name], list):
                raise _fail(path, f"{name} takes one value, got a list {scalars[name]}; run one grid per value")
            _positive_ints(path, name, [scalars[name]])
    if scalars.get("projections", "random") != "random" and not _config_exists(str(scalars["projections"])):
        raise _fail(path, f"projections must be 'random' or a run config file, got {scalars['projections']!r}")
    if "source" in scalars:
        source = scalars["source"]
        if not isinstance(source, str) or (source != "synthetic" and not Path(source).is_dir()):
            raise _fail(path, f"source must be 'synthetic' or an existing token-cache folder, got {source!r}")
    grid = Grid(path, variants, axes, scalars)
    _check_needles_fit(grid)
    return grid


def _config_exists(name: str) -> bool:
    from infvideo.configs import shipped

    return Path(name).is_file() or shipped(name) is not None


def _check_needles_fit(grid: Grid) -> None:
    from .cell import Cell

    frames_per_chunk = grid.scalars.get("frames_per_chunk", Cell.frames_per_chunk)
    shortest = min(grid.axes["chunks"]) * frames_per_chunk
    longest = max(grid.axes["needle_frames"]) * max(grid.axes["needles"])
    if longest > shortest:
        raise _fail(
            grid.path,
            f"{max(grid.axes['needles'])} needles of {max(grid.axes['needle_frames'])} frames do not fit in "
            f"the shortest video ({min(grid.axes['chunks'])} chunks x {frames_per_chunk} frames)",
        )


def results_path(output_dir: str | Path) -> Path:
    return Path(output_dir) / RESULTS


def pending_cells(grid: Grid, output_dir: str | Path) -> list[GridCell]:
    grid.use_layer_projections()  # the cells' keys name the layer
    done = set(latest_records(results_path(output_dir)))
    return [c for c in grid.cells() if c.key not in done]


def run_grid(grid: Grid, output_dir: str | Path, progress: bool = True) -> list[dict[str, Any]]:
    """Run the cells ``results.jsonl`` lacks; returns the grid's result lines (old and new), in grid
    order, each named by this grid's variant name."""
    from tqdm import tqdm

    from . import cell as cell_module

    grid.use_layer_projections()
    cells = grid.cells()
    with PredictionStore(results_path(output_dir)) as store, _one_thread():
        pending = [c for c in cells if c.key not in store]
        for item in tqdm(pending, desc="memory-bench cells", unit="cell", disable=not progress, dynamic_ncols=True):
            metrics = cell_module.run_cell(item.cell, grid.projections)  # looked up here, so a test can swap it
            store.append(_record(item, metrics))
    return grid_records(grid, output_dir)


@contextmanager
def _one_thread():
    """One torch thread while cells run. A cell's tensors are tiny (a few hundred tokens of width 64),
    so intra-op threads buy nothing, and on cores shared with another process they stall waiting for
    each other: measured 25-50 ms per chunk with torch's default 2 threads next to a busy process,
    against about 1 ms with one thread."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _record(item: GridCell, metrics: dict[str, Any]) -> dict[str, Any]:
    return {"id": item.key, "variant": item.variant.name, **item.cell.as_dict(), **metrics}


def grid_records(grid: Grid, output_dir: str | Path) -> list[dict[str, Any]]:
    """The result lines of ``grid``'s cells that ``results.jsonl`` holds, renamed to this grid's names
    (a line written under an older name of the same memory is the same cell)."""
    latest = latest_records(results_path(output_dir))
    return [{**latest[c.key], "variant": c.variant.name} for c in grid.cells() if c.key in latest]
