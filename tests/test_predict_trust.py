"""`infvideo predict` and `merge` as a user meets them: error lines that can be retried, a summary and
an exit code SLURM can see, shards that own whole videos, one run directory wherever the inputs sit,
and every setting checked before anything is built or written."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from infvideo.cli import main
from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.errors import EXIT_QUESTIONS_ERRORED, EXIT_USER_ERROR
from infvideo.eval import backends
from infvideo.eval.config import config_hash, load_config
from infvideo.eval.predictions import latest_records, read_records
from infvideo.eval.runner import owned_questions, run_directory
from infvideo.eval.runner import read_records as read_questions

REPO = Path(__file__).resolve().parents[1]
SMALL = DemoSettings(seconds=12.0, fps=4, size=32, frames_per_chunk=2, num_chunks=2)
TINY = ["sampling.frames_per_chunk=2", "sampling.num_chunks=2", "generation.max_new_tokens=3", "run.token_cache=null"]


@pytest.fixture
def data(tmp_path):
    """The demo video plus questions on a second video that is not in the folder yet."""
    demo = write_demo_data(tmp_path / "data", SMALL)
    with demo.nextqa.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows += [{**row, "video": "2002", "qid": str(100 + i)} for i, row in enumerate(rows[:2])]
    with demo.nextqa.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return demo


def predict_args(tmp_path, data, *extra):
    return [
        "predict",
        "--config",
        "tiny/nextqa",
        f"data.annotations={data.nextqa}",
        f"data.video_folder={data.folder}",
        f"run.output_dir={tmp_path / 'runs'}",
        *TINY,
        *extra,
        "-q",
    ]


def test_error_lines_give_exit_3_and_a_summary_and_retry_errors_answers_them(tmp_path, data, capsys):
    """Issue: a missing video gave exit 0, and after fixing it the rerun did nothing."""
    args = predict_args(tmp_path, data)
    assert main(args) == EXIT_QUESTIONS_ERRORED
    out, err = capsys.readouterr()
    run_dir = Path(out.strip().splitlines()[-1])
    assert "answered 3, errors 2, already done 0" in err and "--retry-errors" in err
    assert main(args) == EXIT_QUESTIONS_ERRORED  # still there: a rerun without --retry-errors asks nothing
    assert "answered 0, errors 0, already done 5" in capsys.readouterr().err
    shutil.copy(data.video, data.folder / "2002.mp4")  # the user fixes the cause
    assert main([*args, "--retry-errors"]) == 0
    assert "answered 2, errors 0, already done 3" in capsys.readouterr().err
    latest = latest_records(run_dir / "predictions.jsonl")
    assert len(latest) == 5 and not any(r.get("error") for r in latest.values())
    assert len(list(read_records(run_dir / "predictions.jsonl"))) == 7  # the error lines stay, superseded


def test_shards_own_whole_videos_and_skip_what_the_main_file_holds(tmp_path, data, monkeypatch, capsys):
    shutil.copy(data.video, data.folder / "2002.mp4")
    config = load_config("tiny/nextqa", [f"data.annotations={data.nextqa}", f"data.video_folder={data.folder}"])
    questions = read_questions(config)
    for count in (2, 3, 5):
        owners = {}
        for index in range(count):
            config.run.shard = f"{index}/{count}"
            for record in owned_questions(config, questions):
                owners.setdefault(record.video_id, set()).add(index)
        assert all(len(shards) == 1 for shards in owners.values()) and set(owners) == {"1001", "2002"}

    assert main(predict_args(tmp_path, data)) == 0  # unsharded: all 5 answered into predictions.jsonl
    capsys.readouterr()
    monkeypatch.setattr(backends.Backend, "encode_chunk", lambda *a: pytest.fail("a sharded rerun encoded a finished video"))
    for index in range(2):
        assert main(predict_args(tmp_path, data, "--shard", f"{index}/2")) == 0
    err = capsys.readouterr().err
    assert err.count("answered 0, errors 0") == 2


def test_the_run_directory_does_not_depend_on_where_inputs_sit(tmp_path, data):
    """Staging data or checkpoints to node-local storage started a new run and broke resume."""
    checkpoint = tmp_path / "ckpt" / "eva_vit_g.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"weights" * 1000)
    staged = tmp_path / "node-local"
    shutil.copytree(data.folder, staged / "data")
    shutil.copytree(checkpoint.parent, staged / "ckpt")

    def config(data_folder, ckpt_folder, *extra):
        return load_config(
            overrides=[
                f"data.annotations={data_folder / 'questions.csv'}",
                f"data.video_folder={data_folder}",
                f"model.checkpoints.vision={ckpt_folder / 'eva_vit_g.pth'}",
                *extra,
            ]
        )

    here, there = config(data.folder, checkpoint.parent), config(staged / "data", staged / "ckpt")
    assert config_hash(here) == config_hash(there) and run_directory(here) == run_directory(there)
    (staged / "ckpt" / "eva_vit_g.pth").write_bytes(b"other weights" * 1000)  # different content: a different run
    assert config_hash(config(staged / "data", staged / "ckpt")) != config_hash(here)
    with (staged / "data" / "questions.csv").open("a") as handle:
        handle.write("1001,48,32,32,one more?,0,999,DC,a,b,c,d,e\n")
    assert config_hash(config(staged / "data", checkpoint.parent)) != config_hash(here)
    assert config_hash(config(data.folder, checkpoint.parent, "data.limit=3", "data.on_error=skip")) == config_hash(here)


def test_nothing_is_built_or_written_when_a_setting_is_wrong(tmp_path, data, monkeypatch, capsys):
    built = []
    monkeypatch.setattr(backends, "build_backend", lambda config: built.append(config) or pytest.fail("built a model"))
    cases = {
        "memory.tau=1.5": "tau must lie in (0, 1), got 1.5",
        "model.alpha=2": "model.alpha=2.0 must lie in [0, 1]",
        "sampling.num_chunks=0": "sampling.num_chunks=0 must be at least 1",
        "memory.num_basis=0": "num_basis must be positive",
        "model.device=gpu": "model.device='gpu' is not auto, cpu",
        "model.dtype=fp8": "model.dtype='fp8' is not one of float16, bfloat16, float32",
        f"data.video_folder={tmp_path / 'nowhere'}": "nowhere is not a directory",
        "sampling.rule=random": "sampling.rule='random' is not one of",
        "--shard=3/2": "invalid shard 3/2",
    }
    for override, message in cases.items():
        assert main([*predict_args(tmp_path, data), override]) == EXIT_USER_ERROR, override
        err = capsys.readouterr().err
        assert err.startswith("infvideo: error: ") and message in err and err.count("\n") == 1, (override, err)
    no_chunks = [arg for arg in predict_args(tmp_path, data) if not arg.startswith("sampling.num_chunks")]
    assert main([*no_chunks, "--num_samples", "0"]) == EXIT_USER_ERROR  # the reference flag: exited 0 before
    assert "sampling.num_chunks=0 must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists() and not built


def test_every_checkpoint_is_checked_before_the_llm_loads(tmp_path, data, monkeypatch, capsys):
    """A typo in the vision checkpoint path surfaced only after the 7B LLM had loaded."""
    from infvideo.models.video_llama import convert as pretrained

    monkeypatch.setattr(pretrained, "load_llama_folder", lambda *a: pytest.fail("the LLM was loaded"))
    llm = tmp_path / "llama"
    llm.mkdir()
    blip2 = tmp_path / "blip2.pth"
    blip2.write_bytes(b"x")
    args = [
        *predict_args(tmp_path, data),
        "model.preset=full",
        f"model.checkpoints.llm={llm}",
        f"model.checkpoints.blip2={llm}",
        f"model.checkpoints.vision={tmp_path / 'eva_vit_g.pht'}",
        f"model.checkpoints.finetun={blip2}",
    ]
    assert main(args) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "model.checkpoints.vision: " in err and "eva_vit_g.pht does not exist" in err
    assert "model.checkpoints.blip2: " in err and "should be a file" in err
    assert "model.checkpoints.finetune is not set" in err and "finetun is not a video_llama checkpoint role" in err
    assert not (tmp_path / "runs").exists()


def test_user_errors_are_one_line_and_debug_shows_the_traceback(tmp_path, data, capsys):
    assert main(["predict", "-q"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert "data.annotations is not set" in err and "annotation file is a directory" not in err
    assert main([*predict_args(tmp_path, data), "model.dtyp=fp16"]) == EXIT_USER_ERROR
    assert "dtyp" in capsys.readouterr().err
    assert main(["predict", "--config", str(tmp_path / "missing.yaml")]) == EXIT_USER_ERROR
    assert "missing.yaml does not exist" in capsys.readouterr().err
    with pytest.raises(Exception, match="does not exist"):
        main(["predict", "--config", str(tmp_path / "missing.yaml"), "--debug"])
    assert main(["merge", str(tmp_path)]) == EXIT_USER_ERROR
    assert "no shard files" in capsys.readouterr().err


def test_dtype_aliases_name_one_run(tmp_path):
    assert load_config(overrides=["model.dtype=fp16"]).model.dtype == "float16"
    assert load_config(overrides=["model.dtype=bf16"]).model.dtype == "bfloat16"
    assert config_hash(load_config(overrides=["model.dtype=fp32"])) == config_hash(load_config(overrides=["model.dtype=float32"]))


def test_print_config_version_and_every_flag_has_help(tmp_path, data, capsys):
    from infvideo.cli.main import build_parser

    assert main([*predict_args(tmp_path, data), "--tau", "0.25", "--print-config"]) == 0
    out = capsys.readouterr().out
    assert "tau: 0.25" in out and "protocol:" in out and not (tmp_path / "runs").exists()
    with pytest.raises(SystemExit) as version:
        main(["--version"])
    assert version.value.code == 0 and capsys.readouterr().out.startswith("infvideo ")
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    for name in ("predict", "extract"):
        for action in commands[name]._actions:
            if action.option_strings:
                assert action.help and len(action.help) > 10, (name, action.option_strings)
    flags = {s for a in commands["predict"]._actions for s in a.option_strings}
    assert {"--device", "--dtype", "--retry-errors", "--print-config", "-q", "-v", "--debug", "--no-sticky"} <= flags


def test_quiet_hides_progress_and_warnings_go_through_logging(tmp_path, data, capsys):
    """Warnings printed inside progress bars; no way to silence the bars."""
    assert main([arg for arg in predict_args(tmp_path, data) if arg != "-q"]) == EXIT_QUESTIONS_ERRORED
    err = capsys.readouterr().err
    assert "it/s]" in err and "WARNING infvideo.eval.runner: " in err  # a bar, and the missing video as a log line
    assert main([*predict_args(tmp_path, data), "--retry-errors"]) == EXIT_QUESTIONS_ERRORED
    err = capsys.readouterr().err
    assert "it/s]" not in err and "WARNING infvideo.eval.runner: " in err and "2002.mp4" in err


def test_a_closed_pipe_is_not_an_error(tmp_path):
    """`infvideo ... | head` used to end in a BrokenPipeError traceback."""
    command = f"{sys.executable} -m infvideo.cli predict --help | head -n 1"
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("usage:") and "Traceback" not in done.stderr


def test_later_stages_on_the_wrong_kind_of_run_are_one_line(tmp_path, data, capsys):
    shutil.copy(data.video, data.folder / "2002.mp4")
    assert main(predict_args(tmp_path, data)) == 0
    run_dir = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["judge", run_dir, "--base-url", "http://127.0.0.1:9/v1", "-q"]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no open-ended questions" in err and "infvideo match" in err
    assert main(["score", run_dir]) == EXIT_USER_ERROR  # not matched yet: names the command
    assert f"infvideo match {run_dir}" in capsys.readouterr().err


def test_paths_and_yaml_values_are_one_line_errors_too(tmp_path, data, capsys):
    """A missing annotation file, a folder where a file belongs, an unwritable output folder and a
    dotlist value YAML cannot read ended in tracebacks."""
    cases = [
        ([*predict_args(tmp_path, data), f"data.annotations={data.moviechat}"], "annotation file is a directory"),
        ([*predict_args(tmp_path, data), "data.video_pattern={vid}.mp4"], "quote values with braces"),
        ([*predict_args(tmp_path, data), 'data.video_pattern="{vid}.mp4"'], "unknown placeholder(s) {vid}"),
        (["demo-data", str(tmp_path / "data" / "questions.csv" / "below")], "Not a directory"),
        (["score", str(tmp_path / "nowhere")], "does not exist"),
    ]
    for argv, message in cases:
        assert main(argv) == EXIT_USER_ERROR, argv
        err = capsys.readouterr().err
        assert err.startswith("infvideo: error: ") and message in err and err.count("\n") == 1, (argv, err)


def test_a_taken_port_is_a_one_line_error_for_the_judge_server(capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["judge-server", "--port", str(port)]) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert f"cannot serve on 127.0.0.1:{port}" in err and "Traceback" not in err
