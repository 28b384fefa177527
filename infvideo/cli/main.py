"""The ``infvideo`` command line: the parser, the run-side commands (demo, predict, extract, merge, sweep,
check-scoring, configs, inspect, ...), the options they share, and ``guarded``, which turns a user error
into one line and exit 2. The scoring commands are in ``scoring``, the reference's scripts in ``paper``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from tqdm.contrib.logging import logging_redirect_tqdm

from infvideo import __version__
from infvideo.errors import EXIT_FAILED, EXIT_OK, EXIT_QUESTIONS_ERRORED, EXIT_USER_ERROR, UserError
from infvideo.memory_bench.cli import add_memory_bench_command


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


def _configs(args: argparse.Namespace) -> int:
    from infvideo.configs import listing

    print("\n".join(listing()))
    return EXIT_OK


def _inspect(args: argparse.Namespace) -> int:
    from infvideo.models.registry import build_on_meta, family, parameter_table

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


def flag_values(args: argparse.Namespace) -> dict:
    """The reference scripts' flags given on the command line, by name (``FLAG_FIELDS`` says which field each sets)."""
    from infvideo.eval.config import FLAG_FIELDS

    return {name: getattr(args, name) for name in FLAG_FIELDS if getattr(args, name, None) is not None}


def load_run_config(args: argparse.Namespace):
    """The run config a command line of ``add_run_arguments`` stands for (config files, dotlist, flags, ``--shard``)."""
    from infvideo.eval.config import load_config

    config = load_config(args.config, args.overrides, flag_values(args))
    if getattr(args, "shard", None):
        from infvideo.eval.sharding import parse_shard

        parse_shard(args.shard)  # a bad spec is a user error now, not after the model loaded
        config.run.shard = args.shard
    return config


def _predict(args: argparse.Namespace) -> int:
    from infvideo.eval.config import to_yaml
    from infvideo.eval.runner import run_predictions

    config = load_run_config(args)
    if args.print_config:
        print(to_yaml(config), end="")
        return EXIT_OK
    return finish_predict(run_predictions(config, retry_errors=args.retry_errors, progress=show_progress(args)))


def finish_predict(summary) -> int:
    """Print a ``predict`` summary and choose its exit code (3 while any owned question has an error line)."""
    print(summary.line(), file=sys.stderr)
    print(summary.directory)  # alone on the last line of stdout, for scripts: run_dir=$(infvideo predict ... | tail -n 1)
    return EXIT_QUESTIONS_ERRORED if summary.errors_remaining else EXIT_OK


def _extract(args: argparse.Namespace) -> int:
    return run_extract(load_run_config(args))


def run_extract(config) -> int:
    """Cache the frame tokens of ``config``'s videos; print the summary; exit 1 if some videos failed."""
    from infvideo.eval.runner import extract_tokens

    summary = extract_tokens(config)
    print(json.dumps(summary, indent=2))
    return EXIT_FAILED if summary["failures"] else EXIT_OK


def scoring_stage(config) -> str:
    """The command that scores runs of ``config`` after ``predict``: "match" for a benchmark of options,
    "judge" for free-text answers (the task table says which). For "match" the matcher the run's protocol
    names is built now, so a missing key or model stops a script before hours of predicting, not after."""
    from infvideo.eval.tasks import get_task

    if get_task(config.data.benchmark).kind == "judged":
        return "judge"
    from infvideo.eval.match_run import option_matcher

    option_matcher(config.model.name, config.protocol)
    return "match"


def _check_scoring(args: argparse.Namespace) -> int:
    print(scoring_stage(load_run_config(args)))
    return EXIT_OK


def _sweep(args: argparse.Namespace) -> int:
    from infvideo.eval.sweep import expand_sweep, run_sweep

    runs = expand_sweep(args.grid, args.overrides)
    if args.dry_run:
        for run in runs:
            print(f"{run.directory}  {json.dumps(run.settings)}")
        return 0
    errored = 0
    for summary in run_sweep(runs, progress=show_progress(args)):
        print(json.dumps(summary))
        errored += bool(summary.get("errors"))
    if errored:
        print(
            f"infvideo: warning: {errored} runs hold error lines; rerun with `infvideo predict --config ... --retry-errors` per run",
            file=sys.stderr,
        )
    return EXIT_QUESTIONS_ERRORED if errored else EXIT_OK


def _merge(args: argparse.Namespace) -> int:
    from infvideo.eval.predictions import merge_shards

    summary = merge_shards(args.run_dir, shard_count=args.shards, allow_partial=args.allow_partial)
    print(
        f"merged shards {','.join(map(str, summary.merged_shards))} of {summary.shard_count} into {summary.output}: "
        f"{summary.records_after} records (had {summary.records_before}; {summary.added} new, "
        f"{summary.errors_replaced} error lines replaced by answers)"
    )
    if summary.partial:
        print(
            f"infvideo: warning: PARTIAL merge: shards {', '.join(map(str, summary.missing_shards))} of "
            f"{summary.shard_count} are missing; run `infvideo merge {args.run_dir}` again when they finish",
            file=sys.stderr,
        )
    return EXIT_OK


def add_run_arguments(parser: argparse.ArgumentParser, sticky_absent_means_uniform: bool = False) -> None:
    """The run config as files, dotlist overrides and the reference scripts' flags (each flag sets one
    config field; see ``FLAG_FIELDS``). In the reference, ``--sticky`` is a switch whose absence means
    uniform sampling: its scripts (``eval_code/``) keep that; ``infvideo predict`` leaves it to the config
    unless ``--sticky`` or ``--no-sticky`` is given."""
    parser.add_argument("overrides", nargs="*", help="dotlist overrides, e.g. memory.tau=0.5 model.name=videochat2")
    parser.add_argument(
        "--config",
        action="append",
        help="a YAML run config: a path, or a shipped name such as video_llama/nextqa or memory/sticky (`infvideo configs` lists them); repeat to compose, later files win",
    )
    flags = parser.add_argument_group("the reference scripts' flags")
    flags.add_argument("--max_int", type=int, help="frames per chunk (sampling.frames_per_chunk)")
    flags.add_argument("--num_samples", type=int, help="number of chunks (sampling.num_chunks)")
    flags.add_argument("--n_samples", type=int, help="number of chunks, the Video-LLaMA scripts' name (sampling.num_chunks)")
    flags.add_argument("--num_basis", type=int, help="basis functions of the continuous memory (memory.num_basis)")
    flags.add_argument("--tau", type=float, help="share of memory time given to the past, in (0, 1) (memory.tau)")
    flags.add_argument("--alpha", type=float, help="weight of the short-term memory, in [0, 1]; 1 = No LTM (model.alpha)")
    if sticky_absent_means_uniform:
        flags.add_argument(
            "--sticky", action="store_true", default=False, help="sticky memories; absent = uniform, as in the reference (memory.sticky)"
        )
    else:
        flags.add_argument(
            "--sticky",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="sticky (--sticky) or uniform (--no-sticky) memories; absent = the config's memory.sticky",
        )
    flags.add_argument("--num-beams", dest="num_beams", type=int, help="beam search width (generation.num_beams)")
    flags.add_argument("--temperature", type=float, help="sampling temperature (generation.temperature)")
    flags.add_argument("--video-folder", dest="video_folder", help="the folder of the benchmark's videos (data.video_folder)")
    flags.add_argument("--q-folder", dest="q_folder", help="the annotation file (data.annotations)")
    flags.add_argument("--qa-folder", dest="qa_folder", help="MovieChat-1K: the folder of per-video JSONs (data.annotations)")
    flags.add_argument("--a-folder", dest="a_folder", help="EgoSchema: the subset's answers file (data.answers)")
    flags.add_argument("--data_path", help="the annotation file, the VideoChat2 scripts' name (data.annotations)")
    flags.add_argument("--output-dir", dest="output_dir", help="where run directories go (run.output_dir)")
    machine = parser.add_argument_group("machine")
    machine.add_argument("--device", help="auto | cpu | cuda | cuda:N | mps (model.device)")
    machine.add_argument("--dtype", help="float16 | bfloat16 | float32, or fp16 | bf16 | fp32 (model.dtype)")


def common_options() -> argparse.ArgumentParser:
    """The options every command takes: logging verbosity and ``--debug`` (tracebacks for user errors)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="count", default=0, help="more log lines (repeat for debug output)")
    common.add_argument("-q", "--quiet", dest="quiet_level", action="count", default=0, help="warnings and errors only; no progress bars")
    common.add_argument("--debug", action="store_true", help="show the traceback of a user error instead of one line")
    return common


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``-q``."""
    return not getattr(args, "quiet_level", 0)


def _with_parents(common: argparse.ArgumentParser) -> type[argparse.ArgumentParser]:
    """A parser class whose instances all carry ``common``'s options, so each command gets them."""

    class CommandParser(argparse.ArgumentParser):
        def __init__(self, *args, **kwargs) -> None:
            kwargs.setdefault("parents", [common])
            super().__init__(*args, **kwargs)

    return CommandParser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="infvideo", description="The infvideo command line: predict, then match or judge, score and report."
    )
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

    shipped = commands.add_parser("configs", help="list the shipped run configs, sweeps and grids (names for --config)")
    shipped.set_defaults(run=_configs)

    inspect = commands.add_parser("inspect", help="parameters per component of a full-size model (no weights needed)")
    inspect.add_argument("--model", required=True, choices=["video_llama", "videochat2"])
    inspect.set_defaults(run=_inspect)

    predict = commands.add_parser("predict", help="answer a benchmark into a resumable run directory")
    add_run_arguments(predict)
    predict.add_argument("--shard", help="i/n: answer only this shard (also from torchrun or SLURM array variables)")
    predict.add_argument(
        "--retry-errors", action="store_true", help="ask again the questions whose last line is an error (after fixing the cause)"
    )
    predict.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    predict.set_defaults(run=_predict)

    extract = commands.add_parser("extract", help="cache the frame tokens of a benchmark's videos (run.token_cache)")
    add_run_arguments(extract)
    extract.set_defaults(run=_extract)

    check = commands.add_parser(
        "check-scoring",
        help="print the stage that will score a run of this config (match or judge), its matcher checked now",
        description="Print `match` or `judge`: the command that scores a run of this config after predict (the benchmark's "
        "answers are options or free text). For `match`, the matcher of the config's protocol is built first, "
        "so a missing OPENAI_API_KEY or embedding model is an error now, before predicting.",
    )
    add_run_arguments(check)
    check.set_defaults(run=_check_scoring)

    merge = commands.add_parser(
        "merge",
        help="merge a run directory's shard files into its predictions.jsonl",
        description="Merge predictions.shard-<i>-of-<n>.jsonl into predictions.jsonl. Every shard of one n must be "
        "there; what predictions.jsonl holds is kept (an answer is never replaced by an error).",
    )
    merge.add_argument("run_dir")
    merge.add_argument("--shards", type=int, help="the shard count to merge when files of several counts are present")
    merge.add_argument("--allow-partial", action="store_true", help="merge even when some shards are missing (says which)")
    merge.set_defaults(run=_merge)

    sweep = commands.add_parser("sweep", help="predict a YAML grid of memory settings, one run directory each")
    sweep.add_argument("grid", help="a sweep file: a path, or a shipped name such as sweeps/tiny_nextqa")
    sweep.add_argument("overrides", nargs="*", help="dotlist overrides for every run, e.g. data.limit=20")
    sweep.add_argument("--dry-run", action="store_true", help="list the run directories and settings only")
    sweep.set_defaults(run=_sweep)

    from infvideo.cli.scoring import add_scoring_commands  # here: scoring imports this module's shared options

    add_scoring_commands(commands)
    add_memory_bench_command(commands)
    from infvideo.app.cli import add_app_commands  # here: it imports this module's shared options; gradio only when serving

    add_app_commands(commands)
    return parser


def configure_logging(verbosity: int = 0) -> None:
    """INFO by default, ``-v`` (verbosity > 0) DEBUG, ``-q`` (< 0) WARNING (and no progress bars, see ``show_progress``)."""
    level = logging.DEBUG if verbosity > 0 else logging.INFO if verbosity == 0 else logging.WARNING
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger("infvideo").setLevel(level)
    logging.captureWarnings(True)  # warnings.warn (a damaged video) through logging too, so above the bars


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    # Dotlist overrides may come after options too (`predict --config a.yaml -q memory.tau=0.5`), which
    # argparse's one positional list cannot take: collect them here.
    stray = [item for item in extra if item.startswith("-") or "=" not in item or not hasattr(args, "overrides")]
    if stray:
        parser.error(f"unrecognized arguments: {' '.join(stray)}")
    if extra:
        args.overrides = [*args.overrides, *extra]
    configure_logging(getattr(args, "verbose", 0) - getattr(args, "quiet_level", 0))
    return guarded(lambda: args.run(args), debug=args.debug)


def guarded(run, debug: bool = False) -> int:
    """Run an entry point: a user error is one line on stderr and exit 2 (``debug``: the traceback)."""
    try:
        with logging_redirect_tqdm():  # log lines go above a progress bar, never inside it
            return run()
    except BrokenPipeError:
        # ``infvideo ... | head``: the reader left; not an error. Point stdout at devnull so the
        # interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except (UserError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as error:
        # A missing or unwritable path is the user's to fix like a bad value; these cannot be
        # UserErrors themselves (ValueError and OSError do not combine), so they are named here.
        if debug:
            raise
        print(f"infvideo: error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
