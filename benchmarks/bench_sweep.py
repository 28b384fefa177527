"""A memory sweep with the shared token cache and one reconfigured model, against the naive way
(every run builds its model and decodes + encodes its videos again).

The tiny ∞-Video-LLaMA on the synthetic demo video (CPU): a grid of tau x {uniform, sticky} plus
No LTM. Prints wall time, vision-encoder chunk calls and model builds per strategy, and checks that
both strategies wrote identical predictions.

    python benchmarks/bench_sweep.py                 # 5 runs, 8 chunks x 16 frames
    python benchmarks/bench_sweep.py --taus 0.25 0.5 0.75 0.9 --chunks 16
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.eval import backends, runner, sweep
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import run_predictions
from infvideo.eval.sweep import expand_sweep, run_sweep

REPO = Path(__file__).resolve().parents[1]


def counting(calls: dict) -> None:
    encode, build = backends.Backend.encode_chunk, sweep.build_backend

    def encode_counted(self, frames):
        calls["encode"] += 1
        return encode(self, frames)

    def build_counted(config):
        calls["build"] += 1
        return build(config)

    backends.Backend.encode_chunk = encode_counted
    sweep.build_backend = build_counted
    runner.build_backend = build_counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--taus", type=float, nargs="+", default=[0.5, 0.75])
    parser.add_argument("--chunks", type=int, default=8)
    parser.add_argument("--frames", type=int, default=16)
    args = parser.parse_args()
    calls = {"encode": 0, "build": 0}
    counting(calls)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        data = write_demo_data(root / "data", DemoSettings())
        grid = root / "sweep.yaml"
        grid.write_text(
            f"base: [{REPO / 'infvideo/configs/tiny/nextqa.yaml'}]\n"
            f"grid:\n  memory.tau: {args.taus}\n  memory.sticky: [false, true]\nruns:\n  - {{model.alpha: 1.0}}\n"
        )
        common = [
            f"data.annotations={data.nextqa}",
            f"data.video_folder={data.folder}",
            f"sampling.num_chunks={args.chunks}",
            f"sampling.frames_per_chunk={args.frames}",
        ]
        results = {}
        # Warm-up (imports, first model build, first decode), so neither strategy pays it.
        warm = expand_sweep(grid, [*common, f"run.output_dir={root / 'warm'}"])[0]
        warm.config.run.token_cache = None
        run_predictions(warm.config, progress=False)
        for strategy in ("naive", "sweep"):
            calls.update(encode=0, build=0)
            runs = expand_sweep(grid, [*common, f"run.output_dir={root / strategy}", f"run.token_cache={root / strategy / 'tokens'}"])
            start = time.perf_counter()
            if strategy == "sweep":
                run_sweep(runs, progress=False)
            else:
                for run in runs:
                    run.config.run.token_cache = None
                    run_predictions(run.config, progress=False)  # its own model, its own decoding
            seconds = time.perf_counter() - start
            answers = [[line["prediction"] for line in read_records(run.directory / "predictions.jsonl")] for run in runs]
            results[strategy] = (seconds, dict(calls), answers, len(runs))
    print(f"tiny ∞-Video-LLaMA, 1 video, {args.chunks} chunks x {args.frames} frames, 3 questions per run")
    print(f"{'strategy':<8} {'runs':>4} {'wall s':>8} {'encoder chunk calls':>20} {'model builds':>13}")
    for strategy, (seconds, counts, _, runs) in results.items():
        print(f"{strategy:<8} {runs:>4} {seconds:>8.2f} {counts['encode']:>20} {counts['build']:>13}")
    same = results["sweep"][2] == results["naive"][2]
    print(f"identical predictions: {same}")
    if not same:
        raise SystemExit("the sweep's reused model answered differently from fresh models")


if __name__ == "__main__":
    main()
