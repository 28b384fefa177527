"""The ``infvideo`` commands after ``predict``: match, judge, score, report, sweep."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def show_progress(args: argparse.Namespace) -> bool:
    """Progress bars unless ``-q``."""
    return not getattr(args, "quiet_level", 0)


def _match(args: argparse.Namespace) -> int:
    from infvideo.eval.match_run import match_run

    for run_dir in args.run_dirs:
        summary = match_run(run_dir, args.embedder, args.reference_compat, args.base_url, progress=show_progress(args))
        print(json.dumps({"run_dir": run_dir, **summary}))
    return 0


def _judge(args: argparse.Namespace) -> int:
    from infvideo.eval.judge import JudgeSettings, judge_run

    settings = JudgeSettings(
        model=args.model, base_url=args.base_url, api_key_env=args.api_key_env, temperature=args.temperature,
        max_tokens=args.max_tokens, timeout=args.timeout, max_retries=args.max_retries, reasks=args.reasks,
        concurrency=args.concurrency, cache_dir=None if args.no_cache else args.cache_dir, metrics=tuple(args.metrics.split(",")),
    )
    failed = 0
    for run_dir in args.run_dirs:
        summary = judge_run(run_dir, settings, progress=show_progress(args))
        failed += summary["errors"]
        print(json.dumps({"run_dir": run_dir, **summary}))
    return 0 if failed == 0 or args.allow_errors else 1


def _score(args: argparse.Namespace) -> int:
    from infvideo.eval.metrics import metrics_markdown, score_run

    for run_dir in args.run_dirs:
        metrics = score_run(run_dir, annotations=args.annotations)
        print(f"## {Path(run_dir).name}\n\n{metrics_markdown(metrics)}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from infvideo.eval.plots import PARAMETERS, attention_figure, plot_accuracy_against
    from infvideo.eval.report import comparison_table, load_results, write_runs_csv
    from infvideo.eval.run_files import load_run_records

    output = Path(args.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    results = load_results(args.run_dirs)
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


def _sweep(args: argparse.Namespace) -> int:
    from infvideo.eval.sweep import expand_sweep, run_sweep

    runs = expand_sweep(args.grid, args.overrides)
    if args.dry_run:
        for run in runs:
            print(f"{run.directory}  {json.dumps(run.settings)}")
        return 0
    for summary in run_sweep(runs, progress=show_progress(args)):
        print(json.dumps(summary))
    return 0


def _judge_server(args: argparse.Namespace) -> int:
    import time

    from infvideo.eval.matching import minilm_embedder
    from infvideo.eval.stand_in_server import base_url, start_server

    minilm_embedder()  # load the model before accepting connections
    server = start_server(args.host, args.port)
    print(f"stand-in judge and embeddings (MiniLM similarity, not an LLM) at {base_url(server)}; Ctrl-C stops", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def add_scoring_commands(commands) -> None:
    match = commands.add_parser("match", help="map free-text answers of multiple-choice runs to option letters (matches.jsonl)")
    match.add_argument("run_dirs", nargs="+")
    match.add_argument("--embedder", default="minilm", help="minilm (offline, default) | openai:<model> (an OpenAI-compatible /v1/embeddings)")
    match.add_argument("--base-url", help="the embeddings server for openai:<model> (default: OPENAI_BASE_URL or OpenAI)")
    match.add_argument("--reference-compat", action="store_true", help="only the first four options, as the reference's matcher")
    match.set_defaults(run=_match)

    judge = commands.add_parser("judge", help="score open-ended answers with an LLM judge (judgments.jsonl)")
    judge.add_argument("run_dirs", nargs="+")
    judge.add_argument("--model", default="gpt-3.5-turbo", help="the judge model name as the server knows it")
    judge.add_argument("--base-url", help="an OpenAI-compatible server, e.g. http://localhost:8000/v1 (vLLM), :8080/v1 (llama.cpp), :11434/v1 (Ollama)")
    judge.add_argument("--api-key-env", default="OPENAI_API_KEY", help="the environment variable that holds the key (never pass keys on the command line)")
    judge.add_argument("--metrics", default="GEN,CI,DO,CU", help="comma-separated: GEN (correctness yes/no + score), CI, DO, CU")
    judge.add_argument("--temperature", type=float, default=0.0)
    judge.add_argument("--max-tokens", type=int, default=64)
    judge.add_argument("--timeout", type=float, default=60.0, help="seconds per request")
    judge.add_argument("--max-retries", type=int, default=4, help="retries with backoff on 429, 5xx and connection errors")
    judge.add_argument("--reasks", type=int, default=2, help="re-asks after an unparseable reply")
    judge.add_argument("--concurrency", type=int, default=8)
    judge.add_argument("--cache-dir", default="outputs/judge_cache", help="replies cached by (judge model, prompt): a re-run never pays twice")
    judge.add_argument("--no-cache", action="store_true")
    judge.add_argument("--allow-errors", action="store_true", help="exit 0 even when some samples could not be judged")
    judge.set_defaults(run=_judge)

    server = commands.add_parser("judge-server", help="an offline OpenAI-compatible stand-in judge (MiniLM similarity) for smoke runs")
    server.add_argument("--host", default="127.0.0.1")
    server.add_argument("--port", type=int, default=8765)
    server.set_defaults(run=_judge_server)

    score = commands.add_parser("score", help="benchmark metrics of a run (metrics.json, metrics.md)")
    score.add_argument("run_dirs", nargs="+")
    score.add_argument("--annotations", help="read the questions from here instead of the run's config (e.g. after moving the data)")
    score.set_defaults(run=_score)

    report = commands.add_parser("report", help="compare scored runs in a paper-style table, with plots")
    report.add_argument("run_dirs", nargs="+")
    report.add_argument("--output-dir", default="outputs/report")
    report.add_argument("--attention", action="store_true", help="also draw each memory run's attention density over video time (re-runs the model on one video)")
    report.set_defaults(run=_report)

    sweep = commands.add_parser("sweep", help="predict a YAML grid of memory settings, one run directory each")
    sweep.add_argument("grid", help="a sweep file (see eval_configs/sweeps/)")
    sweep.add_argument("overrides", nargs="*", help="dotlist overrides for every run, e.g. data.limit=20")
    sweep.add_argument("--dry-run", action="store_true", help="list the run directories and settings only")
    sweep.set_defaults(run=_sweep)
