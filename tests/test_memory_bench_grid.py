"""``infvideo memory-bench``: the grid file, the resumable results file, the report and its figures.

The grid mechanics (expansion, validation, resume, report) run against a stand-in ``run_cell`` whose
metrics are a fixed function of the cell, so the tests know every number; the end-to-end and
determinism tests run the real memories on a tiny grid.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from infvideo.cli import main
from infvideo.errors import UserError
from infvideo.memory_bench import cell as cell_module
from infvideo.memory_bench.figures import comparison_pairs, slug, write_report
from infvideo.memory_bench.grid import RESULTS, TIMING_FIELDS, load_grid, run_grid

REPO = Path(__file__).resolve().parents[1]

TINY = """
memories:
  - {name: uniform τ0.75 N16, memory: continuous, options: {sticky: false, tau: 0.75, num_basis: 16}}
  - {name: sticky τ0.75 N16, memory: continuous, options: {sticky: true, tau: 0.75, num_basis: 16}}
  - {name: sticky τ0.5 N16, memory: continuous, options: {sticky: true, tau: 0.5, num_basis: 16}}
  - {name: MovieChat, memory: moviechat}
  - short_term
chunks: [2, 4]
depths: [0, 1]
needle_frames: [2]
seeds: [0, 1]
frames_per_chunk: 4
width: 16
"""
TINY_CELLS = 5 * 2 * 2 * 2  # variants x chunks x depths x seeds


def write_grid(tmp_path: Path, text: str = TINY, name: str = "grid.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def stand_in_metrics(cell) -> dict:
    """Metrics fixed by the cell: sticky finds the needle in long videos where uniform does not, every
    memory finds it at depth 1 (the last frames), and the rest is seeded noise."""
    noise = random.Random(cell.key())
    options = dict(cell.options)
    retrieved = cell.depth == 1 or cell.chunks <= 2 or bool(options.get("sticky"))
    return {
        "retrieved": retrieved,
        "recall": float(retrieved),
        "rank": 0 if retrieved else 3,
        "margin": (0.5 if retrieved else -0.5) + noise.uniform(-0.1, 0.1),
        "localisation_error": None,
        "reconstruction_error": noise.uniform(0, 1) if cell.memory == "continuous" else None,
        "seconds_per_chunk": noise.uniform(1e-4, 2e-4),
        "state_bytes": 1024 if cell.memory != "full" else 64 * cell.chunks,
        "state_bytes_max": 1024,
    }


@pytest.fixture
def counted(monkeypatch):
    """``run_cell`` replaced by ``stand_in_metrics``; the list holds the keys of the cells it ran."""
    calls: list[str] = []

    def run_cell(cell, projections=None):
        calls.append(cell.key())
        return stand_in_metrics(cell)

    monkeypatch.setattr(cell_module, "run_cell", run_cell)
    return calls


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --- the grid file --------------------------------------------------------------------------------


def test_a_grid_expands_to_the_product_shortest_videos_first(tmp_path):
    grid = load_grid(write_grid(tmp_path))
    cells = grid.cells()
    assert len(cells) == TINY_CELLS
    assert len({c.key for c in cells}) == TINY_CELLS
    assert [c.cell.chunks for c in cells] == [2] * (TINY_CELLS // 2) + [4] * (TINY_CELLS // 2)
    assert [v.name for v in grid.variants] == ["uniform τ0.75 N16", "sticky τ0.75 N16", "sticky τ0.5 N16", "MovieChat", "short_term"]
    first = cells[0].cell
    assert first.options == (("num_basis", 16), ("sticky", False), ("tau", 0.75))  # sorted, as Cell wants
    assert (first.frames_per_chunk, first.width, first.needle_frames, first.needles) == (4, 16, 2, 1)
    assert len(load_grid(write_grid(tmp_path), seeds=[0, 1, 2, 3]).cells()) == TINY_CELLS * 2  # --seeds


def test_the_default_and_full_grids_are_valid():
    default = load_grid("memory_bench/default")
    full = load_grid(REPO / "benchmarks/memory_bench_full.yaml")
    assert max(default.axes["chunks"]) <= 256 and max(full.axes["chunks"]) == 1024
    assert set(default.axes["depths"]) >= {0, 1} and len(default.axes["seeds"]) >= 3
    for grid in (default, full):  # every comparison the report states has its pairs
        options = {k for v in grid.variants for k, _ in v.options}
        assert {"sticky", "tau", "num_basis"} <= options
        assert {v.memory for v in grid.variants} == {"continuous", "moviechat", "malmm", "short_term", "full"}


BAD_GRIDS = [
    ("chunks: [8]\ndepths: [0]\nmemory: []\n", "unknown grid keys \\['memory'\\]"),
    (TINY.replace("- short_term", "- {name: x, memory: lstm}"), "unknown memory 'lstm'"),
    (TINY.replace("depths: [0, 1]", "depths: [0, 1.5]"), r"depths must lie in \[0, 1\]"),
    (TINY.replace("depths: [0, 1]", "depths: [-0.1]"), r"depths must lie in \[0, 1\]"),
    (TINY.replace("chunks: [2, 4]", "chunks: [0, 4]"), "chunks must be positive integers"),
    (TINY.replace("seeds: [0, 1]", "seeds: [0, 0]"), "seeds lists a value twice"),
    (TINY.replace("- short_term", "- {name: MovieChat, memory: short_term}"), "two memory variants are named 'MovieChat'"),
    (TINY.replace("- short_term", "- {name: MC again, memory: moviechat}"), "'MovieChat' and 'MC again' are the same memory"),
    (TINY.replace("tau: 0.5", "tau: 1.5"), r"'sticky τ0.5 N16' \(continuous\): tau must lie in \(0, 1\)"),
    (
        TINY.replace("sticky: false, tau: 0.75, num_basis: 16}", "sticky: false, tau: 0.75, num_basis: 16, colour: 3}"),
        r"'uniform τ0.75 N16' \(continuous\): .*unexpected keyword argument 'colour'",
    ),
    (TINY.replace("- short_term", "- {name: s, memory: short_term, options: {size: 3}}"), "ShortTermMemory takes no options"),
    (TINY.replace("- short_term", "- {name: s, memory: short_term, colour: red}"), r"unknown keys \['colour'\]"),
    (TINY.replace("needle_frames: [2]", "needle_frames: [9]"), "do not fit in the shortest video"),
    (TINY.replace("width: 16", "width: [16, 32]"), "width takes one value"),
    (TINY + "source: /no/such/cache\n", "source must be 'synthetic' or an existing token-cache folder"),
    ("memories: [short_term]\nchunks: [8]\n", "missing depths"),
    ("memories: [\n", "not valid YAML"),
    ("- a list\n", "a grid file is a mapping"),
]


@pytest.mark.parametrize("text, message", BAD_GRIDS)
def test_a_bad_grid_is_one_user_error_before_any_cell_runs(tmp_path, capsys, counted, text, message):
    path = write_grid(tmp_path, text)
    with pytest.raises(UserError, match=message) as caught:
        load_grid(path)
    assert "\n" not in str(caught.value) and str(caught.value).startswith(str(path))
    assert main(["memory-bench", str(path), "--output-dir", str(tmp_path / "out"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infvideo: error:") and err.count("\n") == 1
    assert counted == [] and not (tmp_path / "out").exists()


def test_a_missing_grid_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_grid(tmp_path / "nope.yaml")


# --- running and resuming --------------------------------------------------------------------------


def test_one_line_per_cell_with_its_fields_and_metrics(tmp_path, counted):
    grid = load_grid(write_grid(tmp_path))
    records = run_grid(grid, tmp_path / "out", progress=False)
    written = lines(tmp_path / "out" / RESULTS)
    assert len(written) == len(records) == TINY_CELLS == len(counted)
    assert [r["id"] for r in written] == [c.key for c in grid.cells()]
    first = written[0]
    assert first["variant"] == "uniform τ0.75 N16" and first["memory"] == "continuous"
    assert {"chunks", "depth", "seed", "needle_frames", "needles", "retrieved", "margin", "state_bytes", "seconds_per_chunk"} <= set(first)


def test_a_second_run_computes_nothing_and_an_interrupted_one_resumes(tmp_path, counted, monkeypatch):
    grid = load_grid(write_grid(tmp_path))
    out = tmp_path / "out"

    def dies_after_seven(cell, projections=None, calls=counted):
        if len(calls) == 7:
            raise KeyboardInterrupt  # the run is killed while computing the eighth cell
        calls.append(cell.key())
        return stand_in_metrics(cell)

    monkeypatch.setattr(cell_module, "run_cell", dies_after_seven)
    with pytest.raises(KeyboardInterrupt):
        run_grid(grid, out, progress=False)
    assert len(lines(out / RESULTS)) == 7
    monkeypatch.setattr(cell_module, "run_cell", lambda cell, projections=None: (counted.append(cell.key()), stand_in_metrics(cell))[1])
    counted.clear()
    run_grid(grid, out, progress=False)
    assert len(counted) == TINY_CELLS - 7  # only the missing cells
    assert [r["id"] for r in lines(out / RESULTS)] == [c.key for c in grid.cells()]  # each once, in order
    counted.clear()
    again = run_grid(grid, out, progress=False)
    assert counted == [] and len(again) == TINY_CELLS
    # More seeds: only the new seed's cells run; the report covers the grid asked for.
    more = run_grid(load_grid(write_grid(tmp_path), seeds=[0, 1, 2]), out, progress=False)
    assert len(counted) == TINY_CELLS // 2 and len(more) == TINY_CELLS * 3 // 2
    assert len(run_grid(grid, out, progress=False)) == TINY_CELLS  # the old grid still sees only its cells


def test_a_renamed_variant_reuses_its_cells_under_the_new_name(tmp_path, counted):
    run_grid(load_grid(write_grid(tmp_path)), tmp_path / "out", progress=False)
    counted.clear()
    renamed = load_grid(write_grid(tmp_path, TINY.replace("MovieChat", "MovieChat (defaults)")))
    records = run_grid(renamed, tmp_path / "out", progress=False)
    assert counted == []
    assert "MovieChat (defaults)" in {r["variant"] for r in records} and "MovieChat" not in {r["variant"] for r in records}


# --- the report --------------------------------------------------------------------------------------


def test_the_report_writes_every_figure_and_section(tmp_path, counted, capsys):
    path = write_grid(tmp_path)
    out = tmp_path / "out"
    assert main(["memory-bench", str(path), "--output-dir", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    names = ["uniform τ0.75 N16", "sticky τ0.75 N16", "sticky τ0.5 N16", "MovieChat", "short_term"]
    expected = {"results.jsonl", "memory_bench.md", "heatmaps.png", "retention_vs_length.png", *(f"heatmap_{slug(n)}.png" for n in names)}
    assert {p.name for p in out.iterdir()} == expected
    assert slug("sticky τ0.75 N16") == "sticky_tau0.75_n16"
    markdown = (out / "memory_bench.md").read_text(encoding="utf-8")
    for section in (
        "## Retrieval accuracy by video length",
        "## Cost per chunk",
        "## Comparisons",
        "### sticky vs uniform",
        "### τ (contraction)",
        "### N (basis functions)",
        "## Per variant",
        *(f"### {n}" for n in names),
    ):
        assert section in markdown
    assert "| 2 | 4 | all |" in markdown
    assert "## Retrieval accuracy by video length" in printed and "## Per variant" not in printed  # the summary only
    assert "wrote " in printed and str(out / "heatmaps.png") in printed
    # No pair differs only in N here: the report says so rather than leaving the section out.
    assert "No two variants of this grid differ only in `num_basis`" in markdown


def test_the_comparison_is_the_per_seed_paired_difference_with_its_spread(tmp_path, counted):
    records = run_grid(load_grid(write_grid(tmp_path)), tmp_path / "out", progress=False)
    pairs = {(p.option, p.higher, p.lower) for p in comparison_pairs(records)}
    assert pairs == {("sticky", "sticky τ0.75 N16", "uniform τ0.75 N16"), ("tau", "sticky τ0.75 N16", "sticky τ0.5 N16")}
    markdown = write_report(records, tmp_path / "out").markdown
    sticky = markdown.split("### sticky vs uniform")[1].split("###")[0]
    # stand_in_metrics: at 2 chunks both find the needle; at 4, uniform only at depth 1 (1 of 2 depths),
    # in every seed: +0.5 with no spread; over all lengths +0.25.
    assert re.search(r"\| 2 \| \+0\.000 ± 0\.000 \|.*\| 2 \| identical \|", sticky)
    assert re.search(r"\| 4 \| \+0\.500 ± 0\.000 \|.*\| 2 \| higher in every seed \|", sticky)
    assert re.search(r"\| all \| \+0\.250 ± 0\.000 \|", sticky)
    assert (
        "sticky τ0.75 N16 beats uniform τ0.75 N16 at 4 chunks, loses at no length, and shows no consistent difference at 2 chunks" in sticky
    )
    tau = markdown.split("### τ (contraction)")[1].split("###")[0]
    assert "| all | +0.000 ± 0.000 |" in tau and "beats sticky τ0.5 N16 at no length, loses at no length" in tau
    cost = markdown.split("## Cost per chunk")[1].split("## Comparisons")[0]
    assert "| MovieChat |" in cost and "| 1.0 KiB | 1.0 KiB | ×1.00 |" in cost  # a bounded memory: flat


# --- the real memories -------------------------------------------------------------------------------

REAL = """
memories:
  - {name: uniform, memory: continuous, options: {sticky: false, tau: 0.75, num_basis: 16}}
  - {name: sticky, memory: continuous, options: {sticky: true, tau: 0.75, num_basis: 16}}
  - moviechat
  - malmm
  - short_term
  - full
chunks: [2, 4]
depths: [0, 1]
needle_frames: [2]
seeds: [0, 1]
frames_per_chunk: 4
width: 16
"""


def test_a_tiny_grid_end_to_end_with_the_real_memories(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["memory-bench", str(write_grid(tmp_path, REAL)), "--output-dir", str(out), "-q"]) == 0
    records = lines(out / RESULTS)
    assert len(records) == 6 * 2 * 2 * 2
    for record in records:
        assert isinstance(record["retrieved"], bool) and record["seconds_per_chunk"] > 0 and record["state_bytes"] > 0
    full = {r["chunks"]: r["state_bytes"] for r in records if r["memory"] == "full"}
    assert full[4] > full[2]  # the unbounded reference grows with the video
    assert (out / "memory_bench.md").is_file() and (out / "heatmap_sticky.png").is_file()
    assert "## Cost per chunk" in capsys.readouterr().out


def test_the_same_seed_gives_the_same_results_but_for_timing(tmp_path):
    grid = load_grid(write_grid(tmp_path, REAL))
    first = run_grid(grid, tmp_path / "a", progress=False)
    second = run_grid(grid, tmp_path / "b", progress=False)

    def without_timing(records):
        return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in records]

    assert without_timing(first) == without_timing(second)
    # The seed does matter: another seed draws another haystack, so the margins differ.
    other = run_grid(load_grid(write_grid(tmp_path, REAL), seeds=[7]), tmp_path / "c", progress=False)
    seed_zero = [r for r in first if r["seed"] == 0]
    assert [r["margin"] for r in other] != [r["margin"] for r in seed_zero]
