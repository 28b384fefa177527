"""The ``infvideo`` command line."""

from __future__ import annotations

import argparse
import json
import sys


def _memory_demo(args: argparse.Namespace) -> int:
    from infvideo.demo.memory_demo import DemoConfig, run_memory_demo

    config = DemoConfig(chunks=args.chunks, num_basis=args.num_basis, tau=args.tau, seed=args.seed)
    metrics = run_memory_demo(args.output_dir, config)
    summary = {
        name: {
            "event_attention_mass": round(m["final_event_attention_mass"], 3),
            "event_errors": [round(s["relative_error"], 3) for k, s in m["segments"].items() if k != "background"],
        }
        for name, m in metrics["samplers"].items()
    }
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.output_dir}/attention_density.png, reconstruction_error.png, metrics.json")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from infvideo.models.presets import build_on_meta, family, parameter_table

    model = build_on_meta(args.model)
    rows = parameter_table(model)
    width = max(len(name) for name, _ in rows)
    print(f"{args.model} (full size, meta device)")
    for name, count in rows:
        print(f"  {name:<{width}}  {count:>15,}")
    print(f"  {'total':<{width}}  {sum(c for _, c in rows):>15,}")
    files = family(args.model).checkpoint_files()
    if files:
        print("expected checkpoint files:")
        for entry in files:
            print("  " + ", ".join(f"{k}: {v}" for k, v in entry.items()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infvideo", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("memory-demo", help="stream synthetic features through uniform and sticky memories")
    demo.add_argument("--output-dir", default="outputs/memory-demo")
    demo.add_argument("--chunks", type=int, default=12)
    demo.add_argument("--num-basis", type=int, default=64)
    demo.add_argument("--tau", type=float, default=0.75)
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(run=_memory_demo)

    inspect = commands.add_parser("inspect", help="parameters per component of a full-size model (no weights needed)")
    inspect.add_argument("--model", required=True, choices=["video_llama", "videochat2"])
    inspect.set_defaults(run=_inspect)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
