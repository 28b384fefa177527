"""The reference's script interfaces on top of the package, so a command line copied from the
paper's README runs here. ``eval_code/`` holds one three-line file per script.

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

from infvideo.errors import UserError

def _config_file(model: str, benchmark: str) -> Path:
    from infvideo.configs import resolve

    return resolve(f"{model}/{benchmark}")


def inference_parser(model: str, benchmark: str) -> argparse.ArgumentParser:
    from infvideo.cli import _add_run_arguments

    parser = argparse.ArgumentParser(description=f"∞-Video {model} inference on {benchmark} (reference flags; see infvideo/configs/{model}/{benchmark}.yaml)")
    _add_run_arguments(parser, sticky_absent_means_uniform=True)
    parser.add_argument("--cfg-path", dest="cfg_path", help="an extra run config composed after the default one")
    parser.add_argument("--options", nargs="*", default=[], help="dotlist overrides, e.g. model.preset=tiny")
    parser.add_argument("--task", help="inf_video_llama (default) | video_llama (No LTM)")
    parser.add_argument("--baseline", action="store_true", help="VideoChat2 without memory: one chunk of max_int frames")
    parser.add_argument("--event", action="store_true", help="accepted for compatibility; unused, as in the reference")
    parser.add_argument("--shard", help="i/n: answer only this shard")
    return parser


def entry_point(main):
    """A script's main with the CLI's handling of user errors: one line, exit 2."""

    @functools.wraps(main)
    def guarded_main(*args, **kwargs) -> int:
        from infvideo.cli import guarded

        return guarded(lambda: main(*args, **kwargs))

    return guarded_main


@entry_point
def run_inference(model: str, benchmark: str, argv: list[str] | None = None) -> int:
    return _run_inference(model, benchmark, argv)


def inference_config(model: str, benchmark: str, argv: list[str] | None = None):
    """The run config a reference-style command line stands for."""
    args = inference_parser(model, benchmark).parse_args(argv)  # before the heavy imports: --help stays fast
    from infvideo.cli import flag_values
    from infvideo.eval.config import load_config

    # The reference's scripts scored their runs the reference's way: so do these (later files may override).
    files = [_config_file(model, benchmark), _config_file("protocol", "paper"), *(args.config or []),
             *([args.cfg_path] if args.cfg_path else [])]
    overrides = list(args.overrides) + list(args.options)
    if args.task == "video_llama" or args.baseline:
        overrides.append("model.alpha=1.0")
    if args.baseline:
        overrides.append("sampling.num_chunks=1")
    config = load_config(files, overrides, flag_values(args))
    if args.shard:
        config.run.shard = args.shard
    return config


def _run_inference(model: str, benchmark: str, argv: list[str] | None) -> int:
    config = inference_config(model, benchmark, argv)
    from infvideo.cli import finish_predict
    from infvideo.eval.runner import run_predictions

    return finish_predict(run_predictions(config))


def run_cli(argv: list[str]) -> int:
    from infvideo.cli import main

    return main(argv)


def _run_dir(path: str) -> str:
    """The reference passes a predictions file; a run directory or any file inside it works here."""
    return str(Path(path).parent if Path(path).is_file() else Path(path))


def matching_main(argv: list[str] | None = None) -> int:
    """validate/run_eval_langchain.py: free-text answers -> option letters.

    Its defaults are the run's own protocol (config.yaml), as for ``infvideo match``: a run made by
    this directory's inference scripts carries the shipped protocol/paper config, so it is matched
    the reference's way (OpenAI text-embedding-ada-002 over options A-D) unless a flag says otherwise."""
    parser = argparse.ArgumentParser(
        description="map free-text predictions to the nearest option (infvideo match); every default is the run's "
                    "config.yaml protocol (the reference's: text-embedding-ada-002 over options A-D)")
    parser.add_argument("--pred_path", required=True, help="a run directory (or its predictions.jsonl)")
    parser.add_argument("--embedder", help="minilm (offline) | openai:<model> (OPENAI_API_KEY, OPENAI_BASE_URL); default: the run's")
    parser.add_argument("--base-url", dest="base_url")
    options = parser.add_mutually_exclusive_group()
    options.add_argument("--reference-compat", dest="first_four", action="store_const", const=True, help="only options A-D, as the reference")
    options.add_argument("--all-options", dest="first_four", action="store_const", const=False, help="every option")
    parser.add_argument("--num_tasks", type=int, help="accepted for compatibility; matching runs in one process here")
    args = parser.parse_args(argv)
    extra = (["--embedder", args.embedder] if args.embedder else []) + (["--base-url", args.base_url] if args.base_url else [])
    extra += {True: ["--reference-compat"], False: ["--all-options"], None: []}[args.first_four]
    return run_cli(["match", _run_dir(args.pred_path), *extra])


def judging_main(argv: list[str] | None = None) -> int:
    """validate/run_eval_qa_chatgpt.py: the Video-ChatGPT judge metrics (GEN, CI, DO, CU)."""
    parser = argparse.ArgumentParser(description="judge open-ended predictions (infvideo judge)")
    parser.add_argument("--pred_path", required=True, help="a run directory (or its predictions.jsonl)")
    parser.add_argument("--num_tasks", type=int, default=8, help="concurrent requests")
    parser.add_argument("--model", default="gpt-3.5-turbo")
    parser.add_argument("--base-url", dest="base_url")
    parser.add_argument("--api-key-env", dest="api_key_env", default="OPENAI_API_KEY")
    args = parser.parse_args(argv)
    extra = ["--base-url", args.base_url] if args.base_url else []
    code = run_cli(["judge", _run_dir(args.pred_path), "--model", args.model, "--api-key-env", args.api_key_env,
                    "--concurrency", str(args.num_tasks), *extra])
    return code or run_cli(["score", _run_dir(args.pred_path)])


@entry_point
def accuracy_main(argv: list[str] | None = None) -> int:
    """validate/run_eval.py: accuracy per benchmark (the run's own annotation file, not a hard-coded one)."""
    parser = argparse.ArgumentParser(description="benchmark metrics of a run (infvideo score)")
    parser.add_argument("--input_path", required=True, help="a run directory (or a file inside it)")
    parser.add_argument("--dataset", choices=["egoschema", "videomme", "video_mme", "nextqa", "nextoe", "moviechat"])
    parser.add_argument("--annotations", help="score against this annotation file instead of the run's")
    args = parser.parse_args(argv)
    from infvideo.eval.run_files import load_run_config

    run_dir = _run_dir(args.input_path)
    benchmark = load_run_config(run_dir).data.benchmark
    if args.dataset and args.dataset.replace("videomme", "video_mme") != benchmark:
        raise UserError(f"{run_dir} is a {benchmark} run, not {args.dataset}")
    return run_cli(["score", run_dir, *(["--annotations", args.annotations] if args.annotations else [])])


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


def extract_main(argv: list[str] | None = None) -> int:
    """eval/extract_features.py: cache frame tokens once for every later memory setting.

    The reference wrote resized JPEGs that its inference scripts never read; here the frames go through the
    model's vision stage into the token cache that ``predict`` and ``sweep`` read."""
    parser = argparse.ArgumentParser(description="decode and encode a benchmark's videos into the token cache (infvideo extract)")
    parser.add_argument("--model", default="video_llama", choices=["video_llama", "videochat2"])
    parser.add_argument("--benchmark", default="nextqa", choices=["nextqa", "nextoe", "egoschema", "moviechat", "video_mme"])
    parser.add_argument("--input_path", "--video-folder", dest="video_folder", required=True, help="the folder of videos")
    parser.add_argument("--q-folder", dest="q_folder", help="the annotation file (default: the config's)")
    parser.add_argument("--output_path", required=True, help="the token cache folder")
    parser.add_argument("--max_int", type=int)
    parser.add_argument("--num_samples", type=int)
    parser.add_argument("--options", nargs="*", default=[], help="dotlist overrides, e.g. model.preset=tiny")
    args = parser.parse_args(argv)
    command = ["extract", "--config", str(_config_file(args.model, args.benchmark)), "--video-folder", args.video_folder]
    for flag, value in (("--q-folder", args.q_folder), ("--max_int", args.max_int), ("--num_samples", args.num_samples)):
        if value is not None:
            command += [flag, str(value)]
    return run_cli([*command, f"run.token_cache={args.output_path}", *args.options])
