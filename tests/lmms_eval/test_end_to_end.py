"""lmms-eval runs a real video task (lmms-eval's own Video-MME prompt, scoring and aggregation, on the local
data of conftest.py) with our tiny models, through its own entry points: the ``lmms-eval`` command (the
README's), ``simple_evaluate``, and two CPU processes under ``torchrun``. lmms-eval exits 0 even when the
evaluation crashed, so the results file is what is checked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import HF_HOME, TINY_ARGS, video_path
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.tasks import TaskManager
from lmms_eval.tasks.videomme.utils import videomme_doc_to_text

from infvideo.lmms_eval_models import adapter
from infvideo.lmms_eval_models.local_task import MAX_NEW_TOKENS, OPTIONS, POST_PROMPT, QUESTIONS, TASK, question_docs
from infvideo.lmms_eval_models.prompts import VIDEOCHAT2_INSTRUCTION

METRIC = "videomme_perception_score,none"
BIN = Path(sys.executable).parent


def _run(command: list[str], output: Path, extra_env: dict | None = None) -> tuple[dict, list[dict], str]:
    env = {**os.environ, "HF_HOME": str(HF_HOME), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", **(extra_env or {})}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    results = sorted(output.rglob("*_results.json"))
    assert results, f"no results file (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    samples = [json.loads(line) for path in output.rglob("*_samples_*.jsonl") for line in path.read_text().splitlines()]
    return json.loads(results[-1].read_text()), samples, done.stdout + done.stderr


def _cli(model: str, local_task_folder: Path, output: Path) -> list[str]:
    return [
        *("--model", model, "--model_args", TINY_ARGS, "--tasks", TASK),
        *("--include_path", str(local_task_folder), "--output_path", str(output), "--log_samples", "--verbosity", "WARNING"),
    ]


@pytest.mark.parametrize("model", ["infvideo_llama", "infvideo_chat2"])
def test_lmms_eval_command_scores_the_task(model, local_task_folder, tmp_path):
    results, samples, _ = _run([str(BIN / "lmms-eval"), *_cli(model, local_task_folder, tmp_path)], tmp_path)
    assert results["config"]["model_backend"].startswith("infvideo.lmms_eval_models.adapter.")
    assert 0.0 <= results["results"][TASK][METRIC] <= 100.0
    assert sorted(s["doc_id"] for s in samples) == [0, 1, 2]
    assert all(isinstance(s["filtered_resps"], str) for s in samples)


def test_two_cpu_processes_share_the_requests(local_task_folder, tmp_path):
    """lmms-eval's own sharding: rank 0 answers docs 0 and 2, rank 1 doc 1 (accelerate's multi-CPU mode, which
    ``torchrun`` starts with ACCELERATE_USE_CPU; ``accelerate launch --cpu`` starts one process only)."""
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "-m", "lmms_eval"]
    results, samples, log = _run([*command, *_cli("infvideo_llama", local_task_folder, tmp_path)], tmp_path, {"ACCELERATE_USE_CPU": "true"})
    assert 0.0 <= results["results"][TASK][METRIC] <= 100.0
    assert sorted(s["doc_id"] for s in samples) == [0, 1, 2]  # gathered from both processes
    assert re.search(r"infvideo_llama: 100%\|[^|]*\| 2/2", log), log[-2000:]  # rank 0's share (rank 1 shows no bar)


@pytest.mark.parametrize("model", ["infvideo_llama", "infvideo_chat2"])
def test_adapter_receives_each_video_and_the_tasks_prompt(model, local_task_folder, monkeypatch):
    answered, encoded = [], []
    answer_video, chunks = adapter.InfVideoLMM._answer_video, adapter.InfVideoLMM._chunks

    def spy_answer(self, group):
        answers = answer_video(self, group)
        answered.extend(zip(group, answers, strict=True))
        return answers

    def spy_chunks(self, record):
        encoded.append(record.video_path)
        return chunks(self, record)

    monkeypatch.setattr(adapter.InfVideoLMM, "_answer_video", spy_answer)
    monkeypatch.setattr(adapter.InfVideoLMM, "_chunks", spy_chunks)
    results = simple_evaluate(
        model=model,
        model_args=TINY_ARGS,
        tasks=[TASK],
        task_manager=TaskManager("WARNING", include_path=str(local_task_folder), include_defaults=False),
        bootstrap_iters=0,
        log_samples=True,
    )
    assert 0.0 <= results["results"][TASK][METRIC] <= 100.0
    assert sorted(encoded) == [video_path("vidA"), video_path("vidB")]  # vidA's two questions share one encoding

    by_doc = {int(request.record.id.rsplit("/", 1)[-1]): (request, answer) for request, answer in answered}
    assert sorted(by_doc) == [0, 1, 2]
    for doc_id, doc in enumerate(question_docs()):
        request, answer = by_doc[doc_id]
        assert request.record.video_path == video_path(QUESTIONS[doc_id][0])
        context = videomme_doc_to_text(doc, {"pre_prompt": "", "post_prompt": POST_PROMPT})
        assert doc["question"] in context and all(option in context for option in OPTIONS)
        if model == "infvideo_llama":
            assert request.prompt == "###Human: <Video><ImageHere></Video> " + context + "###Assistant:"
        else:
            assert (request.prompt.system, request.prompt.user, request.prompt.answer_prefix) == (VIDEOCHAT2_INSTRUCTION, context, "")
        settings = request.generation.settings
        assert (settings.max_new_tokens, settings.do_sample) == (MAX_NEW_TOKENS, False)  # the task's generation_kwargs
        sample = next(s for s in results["samples"][TASK] if s["doc_id"] == doc_id)
        assert sample["resps"] == [[answer]]  # what lmms-eval scored is what the adapter answered
