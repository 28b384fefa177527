"""The reference's script interfaces on top of the package, so a command line copied from the
paper's README runs here. ``eval_code/`` holds one three-line file per script; this is the only module that
knows the reference's flags. Each script calls the functions its ``infvideo`` command calls (``main``,
``scoring``), and the benchmark names it accepts are the task table's (``infvideo.eval.tasks``).

Flags keep the reference's names and meanings — including ``--sticky``, a switch whose absence
means uniform memories, whatever the YAML config says; what the reference ignored or hard-coded is
mapped explicitly: ``--cfg-path`` becomes a config file composed after the (model x benchmark) one,
``--options`` takes dotlist overrides, ``--baseline`` (VideoChat2) means one chunk of ``max_int``
frames with no memory, ``--task video_llama`` means No LTM.
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

from infvideo.cli.main import add_run_arguments, configure_logging, finish_predict, flag_values, guarded, run_extract
from infvideo.cli.scoring import judge_runs, match_runs, score_runs
from infvideo.configs import resolve
from infvideo.errors import UserError
from infvideo.eval.tasks import get_task, task_names


def _config_file(model: str, benchmark: str) -> Path:
    return resolve(f"{model}/{benchmark}")


def inference_parser(model: str, benchmark: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=f"∞-Video {model} inference on {benchmark} (reference flags; see infvideo/configs/{model}/{benchmark}.yaml)"
    )
    add_run_arguments(parser, sticky_absent_means_uniform=True)
    parser.add_argument("--cfg-path", dest="cfg_path", help="an extra run config composed after the default one")
    parser.add_argument("--options", nargs="*", default=[], help="dotlist overrides, e.g. model.preset=tiny")
    parser.add_argument("--task", help="inf_video_llama (default) | video_llama (No LTM)")
    parser.add_argument("--baseline", action="store_true", help="VideoChat2 without memory: one chunk of max_int frames")
    parser.add_argument("--event", action="store_true", help="accepted for compatibility; unused, as in the reference")
    parser.add_argument("--shard", help="i/n: answer only this shard")
    return parser


def entry_point(main):
    """A script's main with the CLI's logging (INFO lines above the progress bars) and handling of user
    errors: one line, exit 2."""

    @functools.wraps(main)
    def guarded_main(*args, **kwargs) -> int:
        configure_logging()
        return guarded(lambda: main(*args, **kwargs))

    return guarded_main


@entry_point
def run_inference(model: str, benchmark: str, argv: list[str] | None = None) -> int:
    from infvideo.eval.runner import run_predictions

    return finish_predict(run_predictions(inference_config(model, benchmark, argv)))


def inference_config(model: str, benchmark: str, argv: list[str] | None = None):
    """The run config a reference-style command line stands for."""
    args = inference_parser(model, benchmark).parse_args(argv)  # before the heavy imports: --help stays fast
    from infvideo.eval.config import load_config

    # The reference's scripts scored their runs the reference's way: so do these (later files may override).
    files = [
        _config_file(model, benchmark),
        _config_file("protocol", "paper"),
        *(args.config or []),
        *([args.cfg_path] if args.cfg_path else []),
    ]
    overrides = list(args.overrides) + list(args.options)
    if args.task == "video_llama" or args.baseline:
        overrides.append("model.alpha=1.0")
    if args.baseline:
        overrides.append("sampling.num_chunks=1")
    config = load_config(files, overrides, flag_values(args))
    if args.shard:
        config.run.shard = args.shard
    return config


def _run_dir(path: str) -> str:
    """The reference passes a predictions file; a run directory or any file inside it works here."""
    return str(Path(path).parent if Path(path).is_file() else Path(path))


@entry_point
def matching_main(argv: list[str] | None = None) -> int:
    """validate/run_eval_langchain.py: free-text answers -> option letters.

    Its defaults are the run's own protocol (config.yaml), as for ``infvideo match``: a run made by
    this directory's inference scripts carries the shipped protocol/paper config, so it is matched
    the reference's way (OpenAI text-embedding-ada-002 over options A-D) unless a flag says otherwise."""
    parser = argparse.ArgumentParser(
        description="map free-text predictions to the nearest option (infvideo match); every default is the run's "
        "config.yaml protocol (the reference's: text-embedding-ada-002 over options A-D)"
    )
    parser.add_argument("--pred_path", required=True, help="a run directory (or its predictions.jsonl)")
    parser.add_argument("--embedder", help="minilm (offline) | openai:<model> (OPENAI_API_KEY, OPENAI_BASE_URL); default: the run's")
    parser.add_argument("--base-url", dest="base_url")
    options = parser.add_mutually_exclusive_group()
    options.add_argument(
        "--reference-compat", dest="first_four", action="store_const", const=True, help="only options A-D, as the reference"
    )
    options.add_argument("--all-options", dest="first_four", action="store_const", const=False, help="every option")
    parser.add_argument("--num_tasks", type=int, help="accepted for compatibility; matching runs in one process here")
    args = parser.parse_args(argv)
    return match_runs([_run_dir(args.pred_path)], args.embedder, args.first_four, args.base_url)


@entry_point
def judging_main(argv: list[str] | None = None) -> int:
    """validate/run_eval_qa_chatgpt.py: the Video-ChatGPT judge metrics (GEN, CI, DO, CU)."""
    parser = argparse.ArgumentParser(description="judge open-ended predictions (infvideo judge)")
    parser.add_argument("--pred_path", required=True, help="a run directory (or its predictions.jsonl)")
    parser.add_argument("--num_tasks", type=int, default=8, help="concurrent requests")
    parser.add_argument("--model", default="gpt-3.5-turbo")
    parser.add_argument("--base-url", dest="base_url")
    parser.add_argument("--api-key-env", dest="api_key_env", default="OPENAI_API_KEY")
    args = parser.parse_args(argv)
    from infvideo.eval.judge import JudgeSettings

    run_dir = _run_dir(args.pred_path)
    settings = JudgeSettings(model=args.model, base_url=args.base_url, api_key_env=args.api_key_env, concurrency=args.num_tasks)
    return judge_runs([run_dir], settings) or score_runs([run_dir])


@entry_point
def accuracy_main(argv: list[str] | None = None) -> int:
    """validate/run_eval.py: accuracy per benchmark (the run's own annotation file, not a hard-coded one)."""
    parser = argparse.ArgumentParser(description="benchmark metrics of a run (infvideo score)")
    parser.add_argument("--input_path", required=True, help="a run directory (or a file inside it)")
    parser.add_argument("--dataset", choices=task_names(aliases=True))
    parser.add_argument("--annotations", help="score against this annotation file instead of the run's")
    args = parser.parse_args(argv)
    from infvideo.eval.run_files import load_run_config

    run_dir = _run_dir(args.input_path)
    benchmark = load_run_config(run_dir).data.benchmark
    if args.dataset and get_task(args.dataset).name != benchmark:
        raise UserError(f"{run_dir} is a {benchmark} run, not {args.dataset}")
    return score_runs([run_dir], annotations=args.annotations)


EGOSCHEMA_SERVER = "https://validation-server.onrender.com/api/upload/"


@entry_point
def egoschema_submit_main(argv: list[str] | None = None) -> int:
    """validate/egoschema_acc.py: POST {q_uid: option index} to the EgoSchema validation server.
    A run directory is converted first (the reference had no converter from its predictions)."""
    import json
    import urllib.request

    parser = argparse.ArgumentParser(description="send an EgoSchema submission to the public validation server")
    parser.add_argument("--f", required=True, help="egoschema_submission.json, or a scored EgoSchema run directory")
    parser.add_argument("--url", default=EGOSCHEMA_SERVER)
    args = parser.parse_args(argv)
    path = Path(args.f)
    if path.is_dir():
        path = path / "egoschema_submission.json"
        if not path.exists():
            raise UserError(f"{path} is missing; run `infvideo score {args.f}` first")
    request = urllib.request.Request(args.url, data=path.read_bytes(), headers={"Content-Type": "application/json"}, method="POST")
    json.loads(path.read_text())  # refuse to send a file that is not JSON
    with urllib.request.urlopen(request, timeout=120) as response:
        print(f"Response Status Code: {response.status}")
        print(f"Response Content:\n{response.read().decode(errors='replace')}")
    return 0


@entry_point
def extract_main(argv: list[str] | None = None) -> int:
    """eval/extract_features.py: cache frame tokens once for every later memory setting.

    The reference wrote resized JPEGs that its inference scripts never read; here the frames go through the
    model's vision stage into the token cache that ``predict`` and ``sweep`` read."""
    parser = argparse.ArgumentParser(description="decode and encode a benchmark's videos into the token cache (infvideo extract)")
    parser.add_argument("--model", default="video_llama", choices=["video_llama", "videochat2"])
    parser.add_argument("--benchmark", default="nextqa", choices=task_names())
    parser.add_argument("--input_path", "--video-folder", dest="video_folder", required=True, help="the folder of videos")
    parser.add_argument("--q-folder", dest="q_folder", help="the annotation file (default: the config's)")
    parser.add_argument("--output_path", required=True, help="the token cache folder")
    parser.add_argument("--max_int", type=int)
    parser.add_argument("--num_samples", type=int)
    parser.add_argument("--options", nargs="*", default=[], help="dotlist overrides, e.g. model.preset=tiny")
    args = parser.parse_args(argv)
    from infvideo.eval.config import load_config

    given = {"video_folder": args.video_folder, "q_folder": args.q_folder, "max_int": args.max_int, "num_samples": args.num_samples}
    flags = {name: value for name, value in given.items() if value is not None}
    overrides = [f"run.token_cache={args.output_path}", *args.options]
    return run_extract(load_config([_config_file(args.model, args.benchmark)], overrides, flags))
