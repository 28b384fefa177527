"""A local Video-MME task for lmms-eval, for a smoke run without the hub (the README's tiny command and
tests/lmms_eval): short synthetic videos where lmms-eval's own ``videomme_doc_to_visual`` looks for them
($HF_HOME/videomme/data), questions in Video-MME's fields as a JSON-lines file, and a task YAML that reads it
with lmms-eval's own Video-MME prompt, scoring and aggregation (its ``tasks/videomme/utils.py``).

    python -m infvideo.lmms_eval_models.local_task FOLDER
    HF_HOME=FOLDER/hf lmms-eval --tasks videomme_infvideo_local --include_path FOLDER/tasks ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from infvideo.demo.synthetic_data import DemoSettings, write_video

TASK = "videomme_infvideo_local"
VIDEOS = {"vidA": 6.0, "vidB": 8.0}  # id -> seconds
QUESTIONS = (
    ("vidA", "What colour is the first square?"),
    ("vidA", "What appears in the middle of the video?"),
    ("vidB", "What happens at the end?"),
)
OPTIONS = ("A. red", "B. green", "C. blue", "D. yellow")
MAX_NEW_TOKENS = 6
POST_PROMPT = "\nAnswer with the option's letter from the given choices directly."  # Video-MME's default in lmms-eval

TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_visual: !function utils.videomme_doc_to_visual
doc_to_text: !function utils.videomme_doc_to_text
doc_to_target: answer
generation_kwargs:
  max_new_tokens: {max_new_tokens}
  temperature: 0
  do_sample: false
process_results: !function utils.videomme_process_results
metric_list:
  - metric: videomme_perception_score
    aggregation: !function utils.videomme_aggregate_results
    higher_is_better: true
lmms_eval_specific_kwargs:
  default:
    pre_prompt: ""
    post_prompt: {post_prompt}
"""
UTILS = """from lmms_eval.tasks.videomme.utils import (  # noqa: F401
    videomme_aggregate_results,
    videomme_doc_to_text,
    videomme_doc_to_visual,
    videomme_process_results,
)
"""


def question_docs() -> list[dict]:
    return [
        {
            "videoID": video,
            "question_id": f"{video}-{index}",
            "question": question,
            "options": list(OPTIONS),
            "answer": "A",
            "duration": "short",
            "domain": "Knowledge",
            "sub_category": "Astronomy",
            "task_type": "Temporal Perception",
        }
        for index, (video, question) in enumerate(QUESTIONS)
    ]


def video_path(hf_home: Path, video: str) -> Path:
    return hf_home / "videomme" / "data" / f"{video}.mp4"


def write_local_task(hf_home: Path, tasks: Path) -> Path:
    """The videos under ``hf_home`` (lmms-eval's HF_HOME), the task under ``tasks`` (its --include_path)."""
    for video, seconds in VIDEOS.items():
        path = video_path(hf_home, video)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_video(path, DemoSettings(seconds=seconds, fps=4, size=64))
    tasks.mkdir(parents=True, exist_ok=True)
    data = tasks / "questions.jsonl"
    data.write_text("".join(json.dumps(doc) + "\n" for doc in question_docs()))
    (tasks / "utils.py").write_text(UTILS)
    yaml = TASK_YAML.format(task=TASK, data=data.resolve(), max_new_tokens=MAX_NEW_TOKENS, post_prompt=json.dumps(POST_PROMPT))
    (tasks / f"{TASK}.yaml").write_text(yaml)
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="writes FOLDER/hf (use as HF_HOME) and FOLDER/tasks (use as --include_path)")
    folder = parser.parse_args().folder
    write_local_task(folder / "hf", folder / "tasks")
    print(f"HF_HOME={folder / 'hf'} lmms-eval --tasks {TASK} --include_path {folder / 'tasks'} ...")


if __name__ == "__main__":
    main()
