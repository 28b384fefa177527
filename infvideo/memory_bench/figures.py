"""The memory bench's report, from its result lines: ``memory_bench.md``, V-NIAH-style heat maps and
retention against video length.

- ``memory_bench.md``: retrieval accuracy per variant and length; the cost of each memory (seconds and
  state bytes per chunk, at the shortest and the longest video, and how much they grow); the paired
  comparisons (sticky vs uniform, τ, N: variants equal in all but one option), each as the per-seed
  difference in retrieval and margin, mean ± std over seeds, per length; one table per variant.
- ``heatmap_<variant>.png``: retrieval accuracy (mean over seeds, needle widths and counts) by needle
  depth (rows, 0 = first frame at the top) and video length (columns), one per variant, all on the same
  0–1 colour scale; ``heatmaps.png`` holds them side by side.
- ``retention_vs_length.png``: retrieval accuracy against length (log x), one line per variant, error
  bars the std over seeds.

"Retrieval accuracy" is the share of cells whose ``retrieved`` is true; every mean here is over the
cells a record set holds (a partial run reports what it has).
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; no display on a cluster node
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPORT = "memory_bench.md"
RETENTION = "retention_vs_length.png"
ALL_HEATMAPS = "heatmaps.png"
# The options whose effect the report always states, even when the grid cannot measure it; any other
# option that two variants differ in alone is compared too, under its own name.
NAMED_COMPARISONS = {"sticky": "sticky vs uniform", "tau": "τ (contraction)", "num_basis": "N (basis functions)"}
# Where a needle sits and which video it is in: two variants' cells that agree on these are paired.
PAIRING_FIELDS = ("chunks", "depth", "needle_frames", "needles", "seed")
SUMMARY_END = "<!-- per-variant tables below -->"


@dataclass
class Report:
    markdown: str
    summary: str  # the markdown above the per-variant tables: what the command prints
    paths: list[Path]


# --- small helpers -----------------------------------------------------------------------------


def _mean(values: Iterable[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.fmean(present) if present else None


def _std(values: list[float]) -> float | None:
    return statistics.stdev(values) if len(values) > 1 else None


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _fmt_signed(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "—"
    return f"{mean:+.3f} ± {std:.3f}" if std is not None else f"{mean:+.3f} (one seed)"


def _bytes(value: float | None) -> str:
    if value is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.2f}"


def _growth(first: float | None, last: float | None) -> str:
    if first is None or last is None or first <= 0:
        return "—"
    return f"×{last / first:.2f}"


def _options(record: dict[str, Any]) -> dict[str, Any]:
    """A record's memory options as a dict (``Cell.as_dict`` may give a mapping or (key, value) pairs)."""
    options = record.get("options") or {}
    return dict(options) if not isinstance(options, dict) else options


def _retrieved(record: dict[str, Any]) -> float:
    return float(bool(record["retrieved"]))


def slug(name: str) -> str:
    """A file-name part for a variant name: ``sticky τ0.75 N256`` -> ``sticky_tau0.75_n256``."""
    text = name.replace("τ", "tau").replace("α", "alpha")
    return re.sub(r"[^a-z0-9.+-]+", "_", text.lower()).strip("_") or "variant"


def variant_order(records: list[dict[str, Any]]) -> list[str]:
    return list(dict.fromkeys(r["variant"] for r in records))


def _by(records: Iterable[dict[str, Any]], *fields: str) -> dict[tuple, list[dict[str, Any]]]:
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        groups[tuple(record[f] for f in fields)].append(record)
    return groups


def _per_seed(records: list[dict[str, Any]], value: Callable[[dict[str, Any]], float | None]) -> dict[int, float]:
    """The mean of ``value`` per seed (seeds without a value left out)."""
    out = {}
    for (seed,), group in sorted(_by(records, "seed").items()):
        if (mean := _mean(value(r) for r in group)) is not None:
            out[seed] = mean
    return out


# --- tables ------------------------------------------------------------------------------------


def _header(records: list[dict[str, Any]]) -> str:
    def values(field):
        return ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in sorted(set(r[field] for r in records)))

    first = records[0]
    return (
        f"{len(records)} cells: {len(variant_order(records))} memory variants × lengths {values('chunks')} chunks "
        f"of {first.get('frames_per_chunk', '?')} frames × depths {values('depth')} × needle widths "
        f"{values('needle_frames')} frames × {values('needles')} needle(s) × seeds {values('seed')}; "
        f"feature width {first.get('width', '?')}, source {first.get('source', '?')}."
    )


def retrieval_table(records: list[dict[str, Any]]) -> str:
    """Variants × lengths: retrieval accuracy, mean over depths, needle widths and seeds."""
    lengths = sorted(set(r["chunks"] for r in records))
    cells = _by(records, "variant", "chunks")
    lines = ["| variant | " + " | ".join(str(n) for n in lengths) + " | all |", "|---" * (len(lengths) + 2) + "|"]
    for name in variant_order(records):
        row = [_fmt(_mean(map(_retrieved, cells.get((name, n), [])))) for n in lengths]
        overall = _mean(_retrieved(r) for r in records if r["variant"] == name)
        lines.append(f"| {name} | " + " | ".join(row) + f" | {_fmt(overall)} |")
    return "\n".join(lines)


def width_table(records: list[dict[str, Any]]) -> str | None:
    """Variants × (needle width, needle count): only when the grid has more than one."""
    kinds = sorted(set((r["needle_frames"], r["needles"]) for r in records))
    if len(kinds) < 2:
        return None
    cells = _by(records, "variant", "needle_frames", "needles")
    lines = ["| variant | " + " | ".join(f"{w} fr × {n}" for w, n in kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    for name in variant_order(records):
        lines.append(f"| {name} | " + " | ".join(_fmt(_mean(map(_retrieved, cells.get((name, w, n), [])))) for w, n in kinds) + " |")
    return "\n".join(lines)


def cost_table(records: list[dict[str, Any]]) -> str:
    """Seconds and state per chunk at the shortest and the longest length, and their growth: a bounded
    memory's state stays flat (×1.00) however long the video."""
    lengths = sorted(set(r["chunks"] for r in records))
    short, long = lengths[0], lengths[-1]
    cells = _by(records, "variant", "chunks")
    lines = [
        f"| variant | ms/chunk @{short} | ms/chunk @{long} | growth | state @{short} | state @{long} | growth | peak state @{long} |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in variant_order(records):

        def at(n, field, name=name):  # used at once, in this iteration
            return _mean(r.get(field) for r in cells.get((name, n), []))

        lines.append(
            f"| {name} | {_ms(at(short, 'seconds_per_chunk'))} | {_ms(at(long, 'seconds_per_chunk'))} | "
            f"{_growth(at(short, 'seconds_per_chunk'), at(long, 'seconds_per_chunk'))} | {_bytes(at(short, 'state_bytes'))} | "
            f"{_bytes(at(long, 'state_bytes'))} | {_growth(at(short, 'state_bytes'), at(long, 'state_bytes'))} | "
            f"{_bytes(at(long, 'state_bytes_max'))} |"
        )
    return "\n".join(lines)


def variant_table(records: list[dict[str, Any]]) -> str:
    """One variant's records by length: every metric, and the cost columns."""
    lines = [
        "| chunks | retrieval | recall | rank | margin | localisation error | reconstruction error | ms/chunk | state | peak state |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (chunks,), group in sorted(_by(records, "chunks").items()):

        def mean(field, group=group):  # used at once, in this iteration
            return _mean(r.get(field) for r in group)

        lines.append(
            f"| {chunks} | {_fmt(_mean(map(_retrieved, group)))} | {_fmt(mean('recall'))} | {_fmt(mean('rank'), 1)} | "
            f"{_fmt(mean('margin'), 3)} | {_fmt(mean('localisation_error'), 3)} | {_fmt(mean('reconstruction_error'), 3)} | "
            f"{_ms(mean('seconds_per_chunk'))} | {_bytes(mean('state_bytes'))} | {_bytes(mean('state_bytes_max'))} |"
        )
    return "\n".join(lines)


# --- paired comparisons ----------------------------------------------------------------------------


@dataclass
class Pair:
    option: str
    higher: str  # the variant with the higher (or true) value of ``option``: differences are higher − lower
    lower: str


def comparison_pairs(records: list[dict[str, Any]]) -> list[Pair]:
    """Pairs of variants of one memory equal in every option but one, adjacent in that option's values
    (τ 0.5 vs 0.75, 0.75 vs 0.9; uniform vs sticky), higher value first."""
    settings: dict[str, tuple[str, dict[str, Any]]] = {}
    for record in records:
        settings.setdefault(record["variant"], (record["memory"], _options(record)))
    pairs = []
    keys = sorted(
        {k for _, options in settings.values() for k in options},
        key=lambda k: (k not in NAMED_COMPARISONS, list(NAMED_COMPARISONS).index(k) if k in NAMED_COMPARISONS else 0, k),
    )
    for key in keys:
        groups: dict[tuple, list[tuple[Any, str]]] = defaultdict(list)
        for name, (memory, options) in settings.items():
            if key in options:
                rest = tuple(sorted((k, repr(v)) for k, v in options.items() if k != key))
                groups[memory, rest].append((options[key], name))
        for members in groups.values():
            try:
                members.sort(key=lambda m: m[0])
            except TypeError:
                continue  # values of mixed types have no order to step along
            pairs += [Pair(key, high, low) for (_, low), (_, high) in zip(members, members[1:])]
    return pairs


def _differences(records: list[dict[str, Any]], pair: Pair, value: Callable[[dict[str, Any]], float | None]) -> dict[int, float]:
    """Per seed: the mean over paired cells of value(higher) − value(lower)."""
    higher = {tuple(r[f] for f in PAIRING_FIELDS): r for r in records if r["variant"] == pair.higher}
    per_seed: dict[int, list[float]] = defaultdict(list)
    for record in records:
        if record["variant"] != pair.lower:
            continue
        match = higher.get(tuple(record[f] for f in PAIRING_FIELDS))
        if match is not None and value(match) is not None and value(record) is not None:
            per_seed[record["seed"]].append(value(match) - value(record))
    return {seed: statistics.fmean(d) for seed, d in sorted(per_seed.items())}


def _verdict(per_seed: dict[int, float]) -> str:
    """Plain words: a side wins at a length only when it is ahead in every seed."""
    values = list(per_seed.values())
    if not values:
        return "no paired cells"
    if all(v == 0 for v in values):
        return "identical"
    if all(v > 0 for v in values):
        return "higher in every seed"
    if all(v < 0 for v in values):
        return "lower in every seed"
    return "no consistent difference"


def _lengths(lengths: list[str]) -> str:
    return f"{', '.join(lengths)} chunks" if lengths else "no length"


def _margin(record: dict[str, Any]) -> float | None:
    return record.get("margin")


def comparison_section(records: list[dict[str, Any]]) -> str:
    pairs = comparison_pairs(records)
    lines = [
        "Each row: the difference between two variants that differ in one option, the higher value first "
        "(sticky before uniform), in retrieval accuracy and in margin, averaged over paired cells (same length, "
        'depth, needle and seed) per seed, then mean ± std over seeds. A variant "wins" at a length only '
        "when it is ahead in every seed.",
    ]
    for option in [*NAMED_COMPARISONS, *sorted({p.option for p in pairs} - set(NAMED_COMPARISONS))]:
        title = NAMED_COMPARISONS.get(option, option)
        lines.append(f"\n### {title}\n")
        chosen = [p for p in pairs if p.option == option]
        if not chosen:
            lines.append(f"No two variants of this grid differ only in `{option}`: nothing to compare.")
            continue
        for pair in chosen:
            lines.append(f"**{pair.higher}** − **{pair.lower}**\n")
            lines.append("| chunks | Δ retrieval (mean ± std over seeds) | Δ margin | seeds | verdict (retrieval) |")
            lines.append("|---|---|---|---|---|")
            wins, losses, ties = [], [], []
            for length in [*sorted(set(r["chunks"] for r in records)), "all"]:
                subset = records if length == "all" else [r for r in records if r["chunks"] == length]
                retrieval = _differences(subset, pair, _retrieved)
                margin = _differences(subset, pair, _margin)
                verdict = _verdict(retrieval)
                if length != "all":
                    {"higher in every seed": wins, "lower in every seed": losses}.get(verdict, ties).append(str(length))
                r_values, m_values = list(retrieval.values()), list(margin.values())
                lines.append(
                    f"| {length} | {_fmt_signed(_mean(r_values), _std(r_values))} | {_fmt_signed(_mean(m_values), _std(m_values))} | "
                    f"{len(r_values)} | {verdict} |"
                )
            lines.append(
                f"\n{pair.higher} beats {pair.lower} at {_lengths(wins)}, loses at {_lengths(losses)}, and shows no "
                f"consistent difference at {_lengths(ties)}.\n"
            )
    return "\n".join(lines)


# --- figures -----------------------------------------------------------------------------------


def heat_matrix(records: list[dict[str, Any]], depths: list[float], lengths: list[int]) -> np.ndarray:
    """accuracy[depth, length] of one variant's records on the given axes; NaN where no cell ran."""
    cells = _by(records, "depth", "chunks")
    matrix = np.full((len(depths), len(lengths)), np.nan)
    for i, depth in enumerate(depths):
        for j, length in enumerate(lengths):
            if group := cells.get((depth, length)):
                matrix[i, j] = statistics.fmean(map(_retrieved, group))
    return matrix


def _draw_heatmap(
    ax, records: list[dict[str, Any]], depths: list[float], lengths: list[int], title: str, xlabel: bool = True, ylabel: bool = True
):
    matrix = heat_matrix(records, depths, lengths)  # the grid's axes, so every panel lines up
    # Red = lost, green = found, one 0–1 scale for every memory (as V-NIAH's needle maps).
    image = ax.imshow(np.ma.masked_invalid(matrix), cmap="RdYlGn", vmin=0.0, vmax=1.0, aspect="auto", origin="upper")
    for i in range(len(depths)):
        for j in range(len(lengths)):
            if not math.isnan(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(lengths)), [str(n) for n in lengths])
    ax.set_yticks(range(len(depths)), [f"{d:g}" for d in depths])
    if xlabel:
        ax.set_xlabel("video length (chunks)")
    if ylabel:
        ax.set_ylabel("needle depth (0 = start)")
    ax.set_title(title, fontsize=9)
    return image


def plot_heatmaps(records: list[dict[str, Any]], output_dir: Path) -> list[Path]:
    """``heatmap_<variant>.png`` per variant and ``heatmaps.png`` with every panel."""
    depths = sorted(set(r["depth"] for r in records))
    lengths = sorted(set(r["chunks"] for r in records))
    names = variant_order(records)
    files, used = [], set()
    for name in names:
        stem = slug(name)
        while stem in used:  # two names with one slug (`a b`, `a_b`): keep both files
            stem += "_"
        used.add(stem)
        fig, ax = plt.subplots(figsize=(1.1 + 0.75 * len(lengths), 1.2 + 0.45 * len(depths)))
        image = _draw_heatmap(ax, [r for r in records if r["variant"] == name], depths, lengths, f"{name}: retrieval accuracy")
        fig.colorbar(image, ax=ax, label="retrieval accuracy")
        fig.tight_layout()
        path = output_dir / f"heatmap_{stem}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        files.append(path)
    columns = min(3, len(names))
    rows = math.ceil(len(names) / columns)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(1.5 + columns * (0.9 + 0.6 * len(lengths)), rows * (1.3 + 0.4 * len(depths))),
        squeeze=False,
        layout="constrained",
    )
    for index, (ax, name) in enumerate(zip(axes.flat, names)):
        column = index % columns
        # Axis labels on the outer panels only: every panel shares the axes.
        image = _draw_heatmap(
            ax,
            [r for r in records if r["variant"] == name],
            depths,
            lengths,
            name,
            xlabel=index + columns >= len(names),
            ylabel=column == 0,
        )
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    fig.colorbar(image, ax=axes, label="retrieval accuracy (mean over seeds)", shrink=0.8)
    fig.suptitle("needle retrieval: depth × video length", fontsize=10)
    path = output_dir / ALL_HEATMAPS
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return [*files, path]


def plot_retention(records: list[dict[str, Any]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(9, 4.2))
    lengths = sorted(set(r["chunks"] for r in records))
    names = variant_order(records)
    for number, name in enumerate(names):
        xs, means, stds = [], [], []
        for length in lengths:
            per_seed = list(_per_seed([r for r in records if r["variant"] == name and r["chunks"] == length], _retrieved).values())
            if per_seed:
                xs.append(length)
                means.append(statistics.fmean(per_seed))
                stds.append(_std(per_seed) or 0.0)
        # Dodged a little along x, with their own markers and dashes, so variants that agree (several at
        # 1.0) stay visible on top of each other.
        dodge = 2 ** (0.04 * (number - (len(names) - 1) / 2))
        ax.errorbar(
            [x * dodge for x in xs],
            means,
            yerr=stds if any(stds) else None,
            marker="osD^v<>ph*"[number % 10],
            capsize=3,
            label=name,
            linestyle=("-", "--", ":", "-.")[number % 4],
            markersize=5,
            alpha=0.85,
        )
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("video length (chunks, log scale)")
    ax.set_ylabel("retrieval accuracy")
    ax.set_title("needle retention against video length (error bars: std over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# --- the report ------------------------------------------------------------------------------------


def render_markdown(records: list[dict[str, Any]]) -> str:
    parts = [
        "# Memory bench: a needle in a video haystack, the memory alone",
        _header(records),
        "## Retrieval accuracy by video length (chunks)",
        "Mean over depths, needle widths and seeds; 1 = the needle was retrieved in every cell.",
        retrieval_table(records),
    ]
    if (widths := width_table(records)) is not None:
        parts += ["## Retrieval accuracy by needle (width in frames × count)", widths]
    parts += [
        "## Cost per chunk",
        "Wall time and memory state per chunk of video, at the shortest and the longest length; growth = "
        "longest / shortest (×1.00: flat in video length). Timings are this machine's.",
        cost_table(records),
        "## Comparisons",
        comparison_section(records),
        SUMMARY_END,
        "## Per variant",
    ]
    for name in variant_order(records):
        parts += [f"### {name}", variant_table([r for r in records if r["variant"] == name])]
    return "\n\n".join(parts) + "\n"


def write_report(records: list[dict[str, Any]], output_dir: str | Path) -> Report:
    """``memory_bench.md``, the heat maps and the retention curves into ``output_dir``."""
    if not records:
        raise ValueError("no result lines to report")
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    markdown = render_markdown(records)
    report = output_dir / REPORT
    report.write_text(markdown, encoding="utf-8")
    paths = [report, *plot_heatmaps(records, output_dir), plot_retention(records, output_dir / RETENTION)]
    return Report(markdown, markdown.split(SUMMARY_END)[0].rstrip() + "\n", paths)
