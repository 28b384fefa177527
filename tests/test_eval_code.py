"""The paper-style scripts in eval_code/: every one answers --help, and a tiny run goes through them."""

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from infvideo.cli.paper import (
    accuracy_main,
    egoschema_submit_main,
    extract_main,
    judging_main,
    matching_main,
    run_inference,
)
from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.eval import backends
from infvideo.eval.predictions import read_records
from infvideo.eval.stand_in_server import base_url, start_server

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((REPO / "eval_code").rglob("*.py"))
SMALL = DemoSettings(seconds=20.0, fps=4, size=32, frames_per_chunk=4, num_chunks=3)
TINY = ["model.preset=tiny", "model.device=cpu", "sampling.backend=pyav", "generation.max_new_tokens=4"]


def test_there_is_a_script_per_model_and_benchmark():
    names = {path.name for path in SCRIPTS}
    for benchmark in ("nextqa", "nextoe", "egoschema", "moviechat", "video_mme"):
        assert f"run_inference_inf_video_llama_{benchmark}.py" in names
    assert {"run_nextqa_mistral.py", "run_egoschema_mistral.py", "run_moviechat_mistral.py", "run_videomme_mistral.py"} <= names
    assert {"extract_features.py", "run_eval_langchain.py", "run_eval_qa_chatgpt.py", "run_eval.py", "egoschema_acc.py"} <= names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_answers_help(script):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage:")
    if script.parent.name == "eval" and script.name != "extract_features.py":
        for flag in (
            "--max_int",
            "--num_samples",
            "--num_basis",
            "--tau",
            "--alpha",
            "--sticky",
            "--num-beams",
            "--temperature",
            "--video-folder",
            "--output-dir",
        ):
            assert flag in done.stdout, (script.name, flag)


def test_multiple_choice_through_the_reference_scripts(tmp_path, monkeypatch, capsys):
    data = write_demo_data(tmp_path / "data", SMALL)
    tokens = tmp_path / "tokens"
    common = ["--max_int", "4", "--num_samples", "3"]
    assert (
        extract_main(
            [
                "--model",
                "video_llama",
                "--benchmark",
                "nextqa",
                "--input_path",
                str(data.folder),
                "--q-folder",
                str(data.nextqa),
                "--output_path",
                str(tokens),
                *common,
                "--options",
                *TINY,
            ]
        )
        == 0
    )
    encoded = []
    original = backends.Backend.encode_chunk
    monkeypatch.setattr(backends.Backend, "encode_chunk", lambda self, frames: encoded.append(1) or original(self, frames))
    flags = [
        "--q-folder",
        str(data.nextqa),
        "--video-folder",
        str(data.folder),
        "--output-dir",
        str(tmp_path / "runs"),
        *common,
        "--num_basis",
        "16",
        "--tau",
        "0.5",
        "--alpha",
        "0.5",
        "--sticky",
        "--num-beams",
        "1",
        "--temperature",
        "1",
        "--options",
        *TINY,
        f"run.token_cache={tokens}",
    ]
    assert run_inference("video_llama", "nextqa", flags) == 0
    assert encoded == []  # the frame tokens came from extract_features' cache
    (run_dir,) = (tmp_path / "runs" / "nextqa").iterdir()
    assert "nbasis_16_sticky_tau_0.5_alpha_0.5" in run_dir.name
    # the run carries the paper's protocol (OpenAI ada-002 over A-D); offline, MiniLM over A-D
    assert matching_main(["--pred_path", str(run_dir / "predictions.jsonl"), "--embedder", "minilm"]) == 0
    assert {line["embedder"] for line in read_records(run_dir / "matches.jsonl")} == {"minilm"}
    assert accuracy_main(["--input_path", str(run_dir), "--dataset", "nextqa"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["overall"]["total"] == 3 and set(metrics["breakdowns"]["type"]) == {"DC", "TC", "TN"}
    assert accuracy_main(["--input_path", str(run_dir), "--dataset", "egoschema"]) == 2
    assert "is a nextqa run, not egoschema" in capsys.readouterr().err


def test_videochat2_baseline_flag_means_one_chunk_without_memory(tmp_path):
    data = write_demo_data(tmp_path / "data", SMALL)
    flags = [
        "--data_path",
        str(data.nextqa),
        "--video-folder",
        str(data.folder),
        "--output-dir",
        str(tmp_path / "runs"),
        "--max_int",
        "4",
        "--num_samples",
        "3",
        "--baseline",
        "--options",
        *TINY,
    ]
    assert run_inference("videochat2", "nextqa", flags) == 0
    (run_dir,) = (tmp_path / "runs" / "nextqa").iterdir()
    assert run_dir.name.startswith("videochat2_nframes_4_nchunks_1_alpha_1_")
    lines = list(read_records(run_dir / "predictions.jsonl"))
    assert len(lines) == 3 and all("error" not in line for line in lines)


def test_open_ended_through_the_judge_script_and_the_stand_in_server(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = write_demo_data(tmp_path / "data", SMALL)
    flags = [
        "--qa-folder",
        str(data.moviechat),
        "--video-folder",
        str(data.folder),
        "--output-dir",
        str(tmp_path / "runs"),
        "--max_int",
        "4",
        "--num_samples",
        "3",
        "--num_basis",
        "16",
        "--options",
        *TINY,
    ]
    assert run_inference("videochat2", "moviechat", flags) == 0
    (run_dir,) = (tmp_path / "runs" / "moviechat").iterdir()
    server = start_server()
    monkeypatch.chdir(tmp_path)  # nothing the scripts write may land in the repository
    try:
        assert judging_main(["--pred_path", str(run_dir), "--num_tasks", "2", "--model", "stand-in", "--base-url", base_url(server)]) == 0
    finally:
        server.shutdown()
    judgments = list(read_records(run_dir / "judgments.jsonl"))
    assert len(judgments) == 3 * 4 and all(j["error"] is None for j in judgments)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["overall"]["judged"] == 3 and 0 <= metrics["overall"]["score"] <= 5


def test_egoschema_submission_is_posted_as_json(tmp_path):
    received = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received["body"] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received["type"] = self.headers["Content-Type"]
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"accuracy": 0.5}')

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    submission = tmp_path / "egoschema_submission.json"
    submission.write_text(json.dumps({"q1": 2, "q2": -1}))
    try:
        assert egoschema_submit_main(["--f", str(tmp_path), "--url", f"http://127.0.0.1:{server.server_address[1]}/api/upload/"]) == 0
    finally:
        server.shutdown()
    assert received == {"body": {"q1": 2, "q2": -1}, "type": "application/json"}
