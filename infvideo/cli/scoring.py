"""The ``infvideo`` commands after ``predict``: match, judge, judge-server, score, report.

Each stage has a public function with plain arguments (``match_runs``, ``judge_runs``, ``score_runs``)
that its command and the reference's scripts (``paper``) both call."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from infvideo.cli.main import show_progress
from infvideo.errors import EXIT_OK, UserError


def match_runs(
    run_dirs: list[str],
    embedder: str | None = None,
    first_four: bool | None = None,
    base_url: str | None = None,
    embedding_fallback: bool | None = None,
    progress: bool = True,
) -> int:
    """Letters for the answers of each run (None: the run's protocol decides); one JSON summary line per run."""
    from infvideo.eval.match_run import match_run

    for run_dir in run_dirs:
        summary = match_run(run_dir, embedder, first_four, base_url, embedding_fallback, progress=progress)
        print(json.dumps({"run_dir": run_dir, **summary}))
    return EXIT_OK


def _match(args: argparse.Namespace) -> int:
    return match_runs(args.run_dirs, args.embedder, args.first_four, args.base_url, args.embedding_fallback, progress=show_progress(args))


def judge_runs(run_dirs: list[str], settings, progress: bool = True, allow_errors: bool = False) -> int:
    """Judge each run with ``settings`` (a ``JudgeSettings``); one JSON summary line per run. Exit 1 when some
    answers could not be judged, unless ``allow_errors``."""
    from infvideo.eval.judge import judge_run

    failed = 0
    for run_dir in run_dirs:
        # An unreachable server raises a UserError (one line, exit 2) after writing what was judged.
        summary = judge_run(run_dir, settings, progress=progress)
        failed += summary["errors"]
        print(json.dumps({"run_dir": run_dir, **summary}))
    return 0 if failed == 0 or allow_errors else 1


def _judge(args: argparse.Namespace) -> int:
    from infvideo.eval.judge import JudgeSettings, default_cache_dir

    settings = JudgeSettings(
        model=args.model,
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        temperature=args.temperature,
        max_tokens=args.max_tokens,
        timeout=args.timeout,
        max_retries=args.max_retries,
        reasks=args.reasks,
        concurrency=args.concurrency,
        cache_dir=None if args.no_cache else args.cache_dir or default_cache_dir(),
        metrics=tuple(args.metrics.split(",")),
        max_consecutive_connection_errors=args.max_consecutive_connection_errors,
    )
    return judge_runs(args.run_dirs, settings, progress=show_progress(args), allow_errors=args.allow_errors)


def _skip_or_raise(run_dirs: list[str], skipped: list[tuple[str, Exception]], stage: str) -> None:
    """``score``/``report`` over a glob: the directories that could not be used go to stderr with
    the reason, and only an empty result is an error (one directory: its own reason)."""
    if len(skipped) == len(run_dirs) == 1:
        raise skipped[0][1]
    for run_dir, error in skipped:
        print(f"skipped {run_dir}: {str(error).removeprefix(f'{run_dir}: ')}", file=sys.stderr)
    if len(skipped) == len(run_dirs):
        raise UserError(f"nothing to {stage}: all {len(skipped)} directories were skipped (reasons above)")


def score_runs(run_dirs: list[str], annotations: str | None = None, scoring: str | None = None, judge_score: str | None = None) -> int:
    """metrics.json and metrics.md for each run (None: the run's protocol decides); each table printed."""
    from infvideo.eval.metrics.score import score_run
    from infvideo.eval.metrics.tables import metrics_markdown

    skipped = []
    for run_dir in run_dirs:
        try:
            metrics = score_run(run_dir, annotations=annotations, scoring=scoring, judge_score=judge_score)
        except UserError as error:  # not a finished run (or stale): the others are still scored
            skipped.append((run_dir, error))
            continue
        print(f"## {Path(run_dir).name}\n\n{metrics_markdown(metrics)}")
    _skip_or_raise(run_dirs, skipped, "score")
    return EXIT_OK


def _score(args: argparse.Namespace) -> int:
    return score_runs(args.run_dirs, annotations=args.annotations, scoring=args.scoring, judge_score=args.judge_score)


def _report(args: argparse.Namespace) -> int:
    from infvideo.eval.plots import PARAMETERS, attention_figure, plot_accuracy_against
    from infvideo.eval.report import comparison_table, load_finished, write_runs_csv
    from infvideo.eval.run_files import load_run_records

    results, skipped = load_finished(args.run_dirs)
    _skip_or_raise(args.run_dirs, skipped, "report")
    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    table = comparison_table(results)
    (output / "report.md").write_text(table, encoding="utf-8")
    written = [output / "report.md", write_runs_csv(results, output / "runs.csv")]
    for parameter in PARAMETERS:
        if (path := plot_accuracy_against(results, parameter, output / f"accuracy_vs_{parameter}.png")) is not None:
            written.append(path)
    if args.attention:
        for result in results:
            if result.config.memory.kind == "continuous" and result.config.model.alpha < 1:
                record = load_run_records(result.directory)[0]
                written.append(attention_figure(result, record, output / f"attention_{result.directory.name}.png"))
    print(table)
    print("wrote " + ", ".join(str(p) for p in written))
    return 0


def _judge_server(args: argparse.Namespace) -> int:
    import time

    from infvideo.eval.matching import minilm_embedder
    from infvideo.eval.stand_in_server import base_url, start_server

    minilm_embedder()  # load the model before accepting connections
    try:
        server = start_server(args.host, args.port)
    except OSError as error:  # port taken, or an address this machine does not have
        raise UserError(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}; choose another --port") from error
    print(f"stand-in judge and embeddings (MiniLM similarity, not an LLM) at {base_url(server)}; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def add_scoring_commands(commands) -> None:
    match = commands.add_parser(
        "match",
        help="map free-text answers of multiple-choice runs to option letters (matches.jsonl)",
        description="Letters for every answer of a multiple-choice run into <run_dir>/matches.jsonl: a letter the backbone "
        "gave is kept; Video-LLaMA's free text goes to the nearest option by embeddings; a VideoChat2 answer "
        "without a letter stays without one (counted wrong) unless embedding fallback is on. Each setting "
        "defaults to the run's config.yaml protocol section (the package's default: MiniLM over every "
        "option; protocol/paper, composed into the paper's rows: OpenAI "
        "text-embedding-ada-002 over options A-D); the flags below override it.",
    )
    match.add_argument("run_dirs", nargs="+")
    match.add_argument(
        "--embedder",
        help="minilm (offline) | openai:<model> (an OpenAI-compatible /v1/embeddings; the key in "
        "OPENAI_API_KEY, none needed for a server on this machine). Default: the run's protocol.matcher",
    )
    match.add_argument("--base-url", help="the embeddings server for openai:<model> (default: OPENAI_BASE_URL, else OpenAI's)")
    options = match.add_mutually_exclusive_group()
    options.add_argument(
        "--reference-compat",
        dest="first_four",
        action="store_const",
        const=True,
        default=None,
        help="only options A-D, as the reference's matcher (an answer E is unreachable)",
    )
    options.add_argument(
        "--all-options",
        dest="first_four",
        action="store_const",
        const=False,
        help="every option. Default for both: the run's protocol.match_first_four",
    )
    match.add_argument(
        "--embedding-fallback",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="VideoChat2: match an answer with no parsable letter by embeddings instead of counting it "
        "wrong. Default: the run's protocol.embedding_fallback",
    )
    match.set_defaults(run=_match)

    judge = commands.add_parser(
        "judge",
        help="score open-ended answers with an LLM judge (judgments.jsonl)",
        description="Score open-ended answers with an LLM judge into <run_dir>/judgments.jsonl. A re-run asks only for "
        "missing or failed judgments (and those whose prediction or judge settings changed); a failure never "
        "replaces a good judgment. Exit status: 0 done, 1 some answers could not be judged (see --allow-errors), "
        "2 the judge server is unreachable (good judgments are kept; run again once it is up) or another user error.",
    )
    judge.add_argument("run_dirs", nargs="+")
    judge.add_argument("--model", default="gpt-3.5-turbo", help="the judge model name as the server knows it")
    judge.add_argument(
        "--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM), :8080/v1 (llama.cpp), :11434/v1 (Ollama)"
    )
    judge.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="the environment variable that holds the key (never pass keys on the command line)"
    )
    judge.add_argument("--metrics", default="GEN,CI,DO,CU", help="comma-separated: GEN (correctness yes/no + score), CI, DO, CU")
    judge.add_argument("--temperature", type=float, default=0.0)
    judge.add_argument("--max-tokens", type=int, default=64)
    judge.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    judge.add_argument("--max-retries", type=int, default=4, help="retries with backoff on 429, 5xx and connection errors")
    judge.add_argument("--reasks", type=int, default=2, help="re-asks after an unparseable reply")
    judge.add_argument("--concurrency", type=int, default=8)
    judge.add_argument(
        "--cache-dir",
        help="replies cached by (judge model, prompt): a re-run never pays twice. Default: "
        "$INFVIDEO_CACHE_DIR/judge when that variable is set, else <run_dir>/judge_cache; '{run_dir}' in "
        "the path stands for each run directory",
    )
    judge.add_argument("--no-cache", action="store_true")
    judge.add_argument(
        "--max-consecutive-connection-errors",
        type=int,
        default=5,
        metavar="N",
        help="after N requests in a row failed to connect (each after its retries), stop: the server is "
        "unreachable; exit 2 with one message (default 5; 0: never stop)",
    )
    judge.add_argument("--allow-errors", action="store_true", help="exit 0 even when some samples could not be judged")
    judge.set_defaults(run=_judge)

    server = commands.add_parser("judge-server", help="an offline OpenAI-compatible stand-in judge (MiniLM similarity) for smoke runs")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8765)
    server.set_defaults(run=_judge_server)

    score = commands.add_parser(
        "score",
        help="benchmark metrics of a run (metrics.json, metrics.md)",
        description="Accuracy in percent over every annotated question (one never predicted counts as wrong; the run is "
        "marked partial). Directories that are not finished runs, or whose matches/judgments are older than "
        "their predictions, are skipped and listed on stderr with the command to run; the exit status is 2 "
        "only when nothing could be scored.",
    )
    score.add_argument("run_dirs", nargs="+", help="run directories (a glob such as outputs/runs/nextqa/* is fine)")
    score.add_argument("--annotations", help="read the questions from here instead of the run's config (e.g. after moving the data)")
    score.add_argument(
        "--scoring",
        choices=("lenient", "reference"),
        help="overrides the run's protocol.scoring (config.yaml): lenient = letters from matches.jsonl; "
        "reference = VideoChat2 answers by the reference scripts' own checks of the text, and "
        "Video-LLaMA's Video-MME durations over valid answers only",
    )
    score.add_argument(
        "--judge-score",
        choices=("keep", "truncate"),
        help="overrides the run's protocol.judge_score (config.yaml): keep the judge's 0-5 scores as "
        "given, or truncate them with int() as the reference",
    )
    score.set_defaults(run=_score)

    report = commands.add_parser(
        "report",
        help="compare scored runs in a paper-style table, with plots",
        description="One row per distinct setting (seeds of one setting aggregate to mean ± std, n seeds), accuracy in "
        "percent, partial runs marked. Directories without an up-to-date metrics.json are skipped and listed "
        "on stderr; the exit status is 2 only when nothing could be reported.",
    )
    report.add_argument("run_dirs", nargs="+", help="scored run directories (a glob such as outputs/runs/*/* is fine)")
    report.add_argument("--output-dir", default="outputs/report")
    report.add_argument(
        "--attention",
        action="store_true",
        help="also draw each memory run's attention density over video time (re-runs the model on one video)",
    )
    report.set_defaults(run=_report)
