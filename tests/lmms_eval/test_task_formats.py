"""lmms-eval's own long-video tasks with our model: each task's real YAML (prompt, generation_kwargs,
doc_to_visual, scoring, aggregation), loaded by lmms-eval, with only its data swapped for a one-question file
written here in the task's own fields and a short synthetic video where the task's ``doc_to_visual`` looks for
it. MovieChat-1K's scoring is a GPT judge, so it runs as lmms-eval's ``predict_only``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import lmms_eval
import pytest
from conftest import TINY_ARGS
from lmms_eval.evaluator import simple_evaluate
from lmms_eval.tasks import TaskManager
from lmms_eval.utils import load_yaml_config

from infvideo.demo.synthetic_data import DemoSettings, write_video
from infvideo.lmms_eval_models import adapter

TASKS_FOLDER = Path(lmms_eval.__file__).parent / "tasks"
FIVE = {f"a{i}": text for i, text in enumerate(["red", "green", "blue", "white", "black"])}
# task -> (its YAML under lmms_eval/tasks, one document in the task's fields, a metric it reports or None: predict only)
TASKS = {
    "egoschema_subset": (
        "egoschema/egoschema_subset.yaml",
        {
            "video_idx": "ego1",
            "question": "What is shown?",
            "option": ["A. red", "B. green", "C. blue", "D. white", "E. black"],
            "answer": 0,
        },
        "score,none",
    ),
    "nextqa_mc_test": (
        "nextqa/nextqa_mc_test.yaml",
        {"video": "4010069381", "question": "what colour?", "answer": 1, **FIVE},
        "exact_match,none",
    ),
    "mlvu_dev": (
        "mlvu/mlvu_dev.yaml",
        {"video_name": "mlvu1.mp4", "question": "What happens?\n(A) a\n(B) b\n(C) c\n(D) d", "answer": "B", "task_type": "count"},
        "mlvu_percetion_score,none",
    ),
    "longvideobench_val_v": (
        "longvideobench/longvideobench_val_v.yaml",
        {
            "video_path": "lvb1.mp4",
            "question": "What colour?",
            **{f"option{i}": text for i, text in enumerate(["red", "green", "blue", "white", "N/A"])},
            "correct_choice": 2,
            "id": "lvb1",
            "duration_group": 600,
            "question_category": "TOS",
            "duration": 8.0,
        },
        "lvb_acc,none",
    ),
    "lvbench": (
        "lvbench/lvbench.yaml",
        {"video_path": "lv1.mp4", "question": "What colour?", "options": ["red", "green", "blue", "white"], "answer": "A", "uid": "1"},
        "lvbench_score,none",
    ),
    "moviechat_global": (
        "moviechat/moviechat_global.yaml",
        {"video_name": "mc1.mp4", "question": "What happens?", "answer": "a square"},
        None,
    ),
    "moviechat_breakpoint": (
        "moviechat/moviechat_breakpoint.yaml",
        {"video_name": "mc2.mp4", "question": "What is on screen now?", "answer": "a square", "time": 10},
        None,
    ),
}


def _local_task(task: str, folder: Path, monkeypatch) -> tuple[str, str]:
    """A task YAML in ``folder`` that includes the real one and swaps its data for a one-document local file;
    the video is written where the task looks for it. Returns (task name, video path)."""
    file, doc, _ = TASKS[task]
    real = load_yaml_config(str(TASKS_FOLDER / file), mode="full")
    with monkeypatch.context() as patch:  # ask the task where the video is, before it exists
        patch.setattr(os.path, "exists", lambda path: True)
        visual = real["doc_to_visual"](doc)[0]
    video = Path(visual["video_path"] if isinstance(visual, dict) else visual)
    video.parent.mkdir(parents=True, exist_ok=True)
    if not video.exists():
        write_video(video, DemoSettings(seconds=8, fps=4, size=64))
    folder.mkdir(exist_ok=True)
    data = folder / f"{task}.jsonl"
    data.write_text(json.dumps(doc) + "\n")
    name = f"{task}_infvideo_local"
    (folder / f"{name}.yaml").write_text(
        f"include: {TASKS_FOLDER / file}\ntask: {name}\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    {real['test_split']}: {data}\n"
    )
    return name, str(video)


@pytest.mark.parametrize("task", list(TASKS))
def test_lmms_eval_task_runs_with_our_model(task, local_task_folder, tmp_path, monkeypatch):
    name, video = _local_task(task, tmp_path / "tasks", monkeypatch)
    seen = []
    chunks = adapter.InfVideoLMM._chunks
    monkeypatch.setattr(adapter.InfVideoLMM, "_chunks", lambda self, record: seen.append(record) or chunks(self, record))
    metric = TASKS[task][2]
    results = simple_evaluate(
        model="infvideo_llama",
        model_args=TINY_ARGS,
        tasks=[name],
        task_manager=TaskManager("WARNING", include_path=str(tmp_path / "tasks"), include_defaults=False),
        bootstrap_iters=0,
        log_samples=True,
        predict_only=metric is None,
    )
    [record] = seen
    assert record.video_path == video
    if task == "moviechat_breakpoint":
        assert (record.mode, record.time) == ("breakpoint", 10)  # the video up to the breakpoint frame
    samples = results["samples"][name]
    assert len(samples) == 1 and isinstance(samples[0]["resps"][0][0], str)
    if metric is not None:
        assert metric in results["results"][name]
