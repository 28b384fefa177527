"""Per-chunk cost of the continuous memory: update + read, against the key/value projection floor.

For each setting the memory streams ``--chunks`` chunks (first chunk = fit, later = contraction and
refit) and reads with ``queries`` projected queries through a layer's key/value projections. We print
the median time of one update+read over chunks 2..C, the first chunk's time, the floor (the two
key/value projections of the N coefficients alone, which any memory read through the layer's own
projections must pay), the peak resident-memory increase during the stream, and the state size at
chunk 1 and chunk C.

    python benchmarks/bench_memory.py                 # the full grid of issue #2
    python benchmarks/bench_memory.py --quick         # the target setting only

Peak memory: on CUDA torch's allocator peak; on CPU the kernel's peak-RSS counter (VmHWM), reset
through /proc/self/clear_refs, minus the RSS at the start. On CPU every setting runs in its own forked
process (the parent runs no torch op), so memory freed by an earlier setting cannot hide the next one's.
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import statistics
import time
from pathlib import Path

import torch

from infvideo.memory import ContinuousMemory


def _proc_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class PeakMemory:
    """Peak memory increase over a block, in MiB (CUDA allocator or process RSS)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
        else:
            try:
                Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            except OSError:
                pass
            self.start = _proc_kib("VmRSS") * 1024
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = _proc_kib("VmHWM") * 1024
        self.mib = max(peak - self.start, 0) / 2**20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def make_layer(width: int, device: torch.device) -> tuple[torch.nn.Linear, torch.nn.Linear]:
    key = torch.nn.Linear(width, 768).to(device)
    value = torch.nn.Linear(width, 768).to(device)
    return key, value


def projection_floor(num_basis: int, width: int, device: torch.device, repeats: int = 30) -> float:
    torch.manual_seed(0)
    key, value = make_layer(width, device)
    coefficients = torch.randn(1, num_basis, width, device=device)
    times = []
    with torch.no_grad():
        for _ in range(repeats + 3):
            _sync(device)
            start = time.perf_counter()
            key(coefficients)
            value(coefficients)
            _sync(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[3:])


def bench_setting(length, num_basis, width, queries, compat, sticky, chunks, device) -> dict:
    torch.manual_seed(0)
    key, value = make_layer(width, device)
    memory = ContinuousMemory(
        num_basis=num_basis,
        sticky=sticky,
        reference_compat=compat,
        generator=None if compat else torch.Generator().manual_seed(0),
    )
    x = torch.randn(1, length, width, device=device)
    q = torch.randn(1, queries, 768, device=device)
    times, sizes = [], []
    with torch.no_grad(), PeakMemory(device) as peak:
        for chunk in range(chunks):
            _sync(device)
            start = time.perf_counter()
            memory.update(x)
            memory.read(q, key, value, 12)
            _sync(device)
            times.append(time.perf_counter() - start)
            if chunk in (0, chunks - 1):
                sizes.append(memory.state_numel())
    return {
        "first_ms": times[0] * 1e3,
        "median_ms": statistics.median(times[1:]) * 1e3 if chunks > 1 else times[0] * 1e3,
        "peak_mib": peak.mib,
        "state_first": sizes[0],
        "state_last": sizes[-1],
    }


def _child(queue, fn, args) -> None:
    queue.put(fn(*args))


def isolated(fn, *args):
    """Run ``fn(*args)`` in a forked child on CPU (fresh heap); in-process on CUDA."""
    if args[-1].type == "cuda":
        return fn(*args)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, fn, args))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[16, 64, 256])
    parser.add_argument("--num-basis", type=int, nargs="+", default=[64, 256, 1024])
    parser.add_argument("--widths", type=int, nargs="+", default=[768, 1024])
    parser.add_argument("--queries", type=int, nargs="+", default=[32, 96])
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--sticky", choices=["yes", "no", "both"], default="yes")
    parser.add_argument("--quick", action="store_true", help="only the target setting: L=256 N=256 e=768 q=32 sticky")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.num_basis, args.widths, args.queries = [256], [256], [768], [32]
    device = torch.device(args.device)
    stickies = {"yes": [True], "no": [False], "both": [False, True]}[args.sticky]
    print(f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} chunks={args.chunks}")
    header = (
        f"{'L':>4} {'N':>5} {'e':>5} {'q':>3} {'sampler':>7} | {'floor ms':>8} | "
        f"{'exact ms':>8} {'x floor':>7} {'1st ms':>7} {'MiB':>6} | {'compat ms':>9} {'x exact':>7} {'MiB':>6} | state 1 -> C"
    )
    print(header)
    print("-" * len(header))
    for length, num_basis, width, queries, sticky in itertools.product(args.lengths, args.num_basis, args.widths, args.queries, stickies):
        floor = isolated(projection_floor, num_basis, width, device) * 1e3
        exact = isolated(bench_setting, length, num_basis, width, queries, False, sticky, args.chunks, device)
        compat = isolated(bench_setting, length, num_basis, width, queries, True, sticky, args.chunks, device)
        sampler = "sticky" if sticky else "uniform"
        print(
            f"{length:>4} {num_basis:>5} {width:>5} {queries:>3} {sampler:>7} | {floor:>8.2f} | "
            f"{exact['median_ms']:>8.2f} {exact['median_ms'] / floor:>7.2f} {exact['first_ms']:>7.2f} {exact['peak_mib']:>6.1f} | "
            f"{compat['median_ms']:>9.2f} {compat['median_ms'] / exact['median_ms']:>7.2f} {compat['peak_mib']:>6.1f} | "
            f"{exact['state_first']} -> {exact['state_last']}",
            flush=True,
        )


if __name__ == "__main__":
    main()
