"""The ``infvideo`` command line."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from tqdm.contrib.logging import logging_redirect_tqdm

from infvideo import __version__
from infvideo.cli_scoring import add_scoring_commands
from infvideo.errors import EXIT_OK, EXIT_USER_ERROR, UserError


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


def _demo(args: argparse.Namespace) -> int:
    from infvideo.demo.pipeline_demo import run_demo

    summary = run_demo(args.output_dir)
    print(json.dumps(summary, indent=2))
    print(f"wrote {summary['run_dir']}/predictions.jsonl, matches.jsonl, metrics.json, metrics.md, attention_density.png")
    return 0


def _demo_data(args: argparse.Namespace) -> int:
    from infvideo.demo.synthetic_data import write_demo_data

    data = write_demo_data(args.output_dir)
    print(f"video {data.video}\nNExT-QA csv {data.nextqa}\nMovieChat-1K folder {data.moviechat}")
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


def _paper_flags(args: argparse.Namespace) -> dict:
    from infvideo.eval.config import PAPER_FLAGS

    return {name: getattr(args, name) for name in PAPER_FLAGS if getattr(args, name, None) is not None}


def _predict(args: argparse.Namespace) -> int:
    from infvideo.eval.config import load_config
    from infvideo.eval.runner import run_predictions

    config = load_config(args.config, args.overrides, _paper_flags(args))
    if args.shard:
        config.run.shard = args.shard
    print(run_predictions(config))
    return 0


def _extract(args: argparse.Namespace) -> int:
    from infvideo.eval.config import load_config
    from infvideo.eval.runner import extract_tokens

    summary = extract_tokens(load_config(args.config, args.overrides, _paper_flags(args)))
    print(json.dumps(summary, indent=2))
    return 1 if summary["failures"] else 0


def _merge(args: argparse.Namespace) -> int:
    from pathlib import Path

    from infvideo.eval.predictions import merge_predictions

    directory = Path(args.run_dir)
    parts = sorted(directory.glob("predictions.shard-*-of-*.jsonl"))
    if not parts:
        raise SystemExit(f"no shard files (predictions.shard-*-of-*.jsonl) in {directory}")
    print(f"merged {merge_predictions(parts, directory / 'predictions.jsonl')} records from {len(parts)} shards")
    return 0


def _add_run_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. memory.tau=0.5 model.name=videochat2")
    parser.add_argument("--config", action="append", help="a YAML run config (see eval_configs/); repeat to compose, later files win")
    # The reference scripts' flags (reference-spec §4.2), mapped onto the config.
    parser.add_argument("--max_int", type=int)
    parser.add_argument("--num_samples", type=int)
    parser.add_argument("--n_samples", type=int)
    parser.add_argument("--num_basis", type=int)
    parser.add_argument("--tau", type=float)
    parser.add_argument("--alpha", type=float)
    parser.add_argument("--sticky", action="store_true", default=None)
    parser.add_argument("--num-beams", dest="num_beams", type=int)
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--video-folder", dest="video_folder")
    parser.add_argument("--q-folder", dest="q_folder")
    parser.add_argument("--qa-folder", dest="qa_folder", help="MovieChat-1K: the folder of per-video JSONs")
    parser.add_argument("--a-folder", dest="a_folder", help="EgoSchema: the subset's answers file")
    parser.add_argument("--data_path")
    parser.add_argument("--output-dir", dest="output_dir")


def common_options() -> argparse.ArgumentParser:
    """The options every command takes: logging verbosity and ``--debug`` (tracebacks for user errors)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (repeat for debug output)")
    common.add_argument("-q", "--quiet", dest="quiet_level", action="count", default=0, help="warnings and errors only; no progress bars")
    common.add_argument("--debug", action="store_true", help="show the traceback of a user error instead of one line")
    return common


def _with_parents(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """A parser class whose instances all carry ``common``'s options, so each command gets them."""

    class CommandParser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("parents", [common])
            super().__init__(*args, **kwargs)

    return CommandParser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="infvideo", description=__doc__)
    parser.add_argument("--version", action="version", version=f"infvideo {__version__}")
    common = common_options()
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_with_parents(common))

    full_demo = commands.add_parser("demo", help="the whole pipeline on a synthetic long video with the tiny model")
    full_demo.add_argument("--output-dir", default="outputs/demo")
    full_demo.set_defaults(run=_demo)

    demo_data = commands.add_parser("demo-data", help="write the synthetic video and its NExT-QA and MovieChat-1K questions")
    demo_data.add_argument("output_dir", nargs="?", default="outputs/tiny/data")
    demo_data.set_defaults(run=_demo_data)

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

    predict = commands.add_parser("predict", help="answer a benchmark into a resumable run directory")
    _add_run_arguments(predict)
    predict.add_argument("--shard", help="i/n: answer only this shard (also from torchrun or SLURM array variables)")
    predict.set_defaults(run=_predict)

    extract = commands.add_parser("extract", help="cache the frame tokens of a benchmark's videos (run.token_cache)")
    _add_run_arguments(extract)
    extract.set_defaults(run=_extract)

    merge = commands.add_parser("merge", help="merge a run directory's shard files into predictions.jsonl")
    merge.add_argument("run_dir")
    merge.set_defaults(run=_merge)

    add_scoring_commands(commands)
    return parser


def _configure_logging(args: argparse.Namespace) -> None:
    """INFO by default, ``-v`` DEBUG, ``-q`` WARNING (and no progress bars, see ``show_progress``)."""
    verbosity = getattr(args, "verbose", 0) - getattr(args, "quiet_level", 0)
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("infvideo").setLevel(level)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args)
    try:
        with logging_redirect_tqdm():  # log lines go above a progress bar, never inside it
            return args.run(args)
    except UserError as error:
        if getattr(args, "debug", False):
            raise
        print(f"infvideo: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:
        # ``infvideo ... | head``: the reader left; not an error. Point stdout at devnull so the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
