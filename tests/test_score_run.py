"""``score_run`` end to end on run directories written by hand (no model, no network)."""

import csv
import json

import pytest

from infvideo.data.record import QuestionRecord
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.metrics import score_run
from infvideo.eval.run_files import write_jsonl

# video, question, answer index, qid, type; options o0..o4 (the NExT-QA csv layout)
QUESTIONS = [("v1", "why?", 0, 0, "CW"), ("v1", "after?", 1, 1, "TP"), ("v1", "how many?", 2, 2, "DC"),
             ("v2", "how?", 3, 0, "CH"), ("v2", "what else?", 4, 1, "DO")]


def write_nextqa_run(root, matches):
    data = root / "data"
    data.mkdir()
    annotations = data / "val.csv"
    with annotations.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"])
        for video, question, answer, qid, qtype in QUESTIONS:
            writer.writerow([video, 100, 64, 64, question, answer, qid, qtype, "o0", "o1", "o2", "o3", "o4"])
    config = load_config(overrides=["data.benchmark=nextqa", f"data.annotations={annotations}", f"data.video_folder={data / 'videos'}"])
    run_dir = root / "nextqa_run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(to_yaml(config))
    write_jsonl(run_dir / "predictions.jsonl", [  # v2_1 was never predicted (say, a data.limit=4 run)
        {"id": "v1_0", "video_id": "v1", "question": "why?", "prediction": "(A) o0", "parsed": "A", "answer": "A", "seed": 1, "timings": {}},
        {"id": "v1_1", "video_id": "v1", "question": "after?", "prediction": "o2 it is", "parsed": None, "answer": "B", "seed": 1, "timings": {}},
        {"id": "v1_2", "video_id": "v1", "question": "how many?", "prediction": "o2", "parsed": None, "answer": "C", "seed": 1, "timings": {}},
        {"id": "v2_0", "video_id": "v2", "prediction": None, "error": "VideoDecodeError: broken"},
    ])
    write_jsonl(run_dir / "matches.jsonl", matches)
    return run_dir


MATCHES = [
    {"id": "v1_0", "letter": "A", "method": "parsed", "embedder": None},        # right
    {"id": "v1_1", "letter": "C", "method": "embedding", "embedder": "minilm"},  # wrong
    {"id": "v1_2", "letter": "C", "method": "embedding", "embedder": "minilm"},  # right
    {"id": "v2_0", "letter": None, "method": "none", "embedder": None},          # invalid
]


def cell(correct, total, invalid):
    return {"accuracy": correct / total, "correct": correct, "total": total, "invalid": invalid}


def test_nextqa_run_is_scored_into_metrics_json_and_markdown(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    metrics = score_run(run_dir)
    assert metrics["benchmark"] == "nextqa" and metrics["run"] == "nextqa_run"
    assert metrics["overall"] == cell(2, 4, 1)  # the unpredicted question is not scored ...
    assert metrics["protocol"]["questions_in_annotations"] == 5 and metrics["protocol"]["not_predicted"] == 1  # ... but shown
    assert metrics["breakdowns"]["type"] == {"CW": cell(1, 1, 0), "CH": cell(0, 1, 1), "TN": cell(0, 1, 0), "DC": cell(1, 1, 0)}
    assert metrics["breakdowns"]["group"] == {"C": cell(1, 2, 1), "T": cell(0, 1, 0), "D": cell(1, 1, 0)}
    protocol = metrics["protocol"]
    assert protocol["methods"] == {"parsed": 1, "embedding": 2, "none": 1} and protocol["embedders"] == {"minilm": 2}
    assert protocol["missing"] == 0 and protocol["letters_from"] == "matches.jsonl" and protocol["predictions_without_question"] == 0
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    markdown = (run_dir / "metrics.md").read_text()
    assert markdown.startswith("# nextqa: nextqa_run\n")
    assert "| overall | 50.0 | 2 | 1 | 4 |" in markdown and "| group: C | 50.0 | 1 | 1 | 2 |" in markdown
    assert not list(run_dir.glob("*.tmp")) and not (run_dir / "egoschema_submission.json").exists()


def test_a_predicted_question_missing_from_matches_is_invalid_and_reported(tmp_path):
    run_dir = write_nextqa_run(tmp_path, [m for m in MATCHES if m["id"] != "v1_2"])  # matches.jsonl older than predictions
    metrics = score_run(run_dir)
    assert metrics["overall"] == cell(1, 4, 2)
    assert metrics["protocol"]["missing"] == 1


def test_missing_matches_file_says_to_run_match(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    (run_dir / "matches.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=f"no matches.jsonl; run `infvideo match {run_dir}` first"):
        score_run(run_dir)
    assert not (run_dir / "metrics.json").exists()


def test_unmerged_shards_are_refused_with_the_merge_hint(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    (run_dir / "predictions.jsonl").rename(run_dir / "predictions.shard-0-of-2.jsonl")
    with pytest.raises(FileNotFoundError, match="infvideo merge"):
        score_run(run_dir)


def movie(qid, mode="global"):
    return QuestionRecord(id=qid, dataset="moviechat", video_id="m", video_path="m.mp4", question="?", answer_text="ref", mode=mode)


def judgment(qid, metric, score, pred=None, error=None, model="gpt-3.5-turbo"):
    return {"id": qid, "metric": metric, "pred": pred, "score": score, "raw": None, "error": error, "model": model,
            "prompt_tokens": 0, "completion_tokens": 0, "cached": True, "attempts": 0}


def test_moviechat_records_with_judgments(tmp_path):
    run_dir = tmp_path / "moviechat_run"
    run_dir.mkdir()
    records = [movie("m_global_0"), movie("m_global_1"), movie("m_global_2")]
    write_jsonl(run_dir / "judgments.jsonl", [
        judgment("m_global_0", "GEN", 4, "yes"), judgment("m_global_0", "CI", 3),
        judgment("m_global_1", "GEN", 1, "no"), judgment("m_global_1", "CI", 2, model="qwen"),
        judgment("m_global_2", "GEN", None, error="no prediction"), judgment("m_global_2", "CI", None, error="no prediction"),
    ])
    metrics = score_run(run_dir, records=records)
    assert metrics["benchmark"] == "moviechat" and metrics["run"] == "moviechat_run"
    assert metrics["overall"] == {"accuracy": 1 / 3, "yes": 1, "no": 2, "score": 5 / 3, "CI": 5 / 3, "DO": None, "CU": None,
                                  "judged": 3, "unjudged": 0, "total": 3}  # no prediction = "no", score 0
    assert metrics["breakdowns"] == {"mode": {"global": metrics["overall"]}}
    protocol = metrics["protocol"]
    assert protocol["judge_models"] == {"gpt-3.5-turbo": 5, "qwen": 1} and protocol["metrics"] == ["GEN", "CI"]
    assert protocol["per_metric"]["GEN"]["no_prediction"] == 1 and protocol["not_predicted"] is None
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert "| mode: global | 33.3 | 1.67 | 1.67 | – | – | 1 | 2 | 3 | 0 | 3 |" in (run_dir / "metrics.md").read_text()


def test_missing_judgments_file_says_to_run_judge(tmp_path):
    with pytest.raises(FileNotFoundError, match="run `infvideo judge .*` first"):
        score_run(tmp_path, records=[movie("q")])


def test_egoschema_run_writes_the_server_submission(tmp_path):
    def ego(qid, answer=None):
        return QuestionRecord(id=qid, dataset="egoschema", video_id=qid, video_path=f"{qid}.mp4", question="?",
                              options=("a", "b", "c", "d", "e"), answer=answer)

    write_jsonl(tmp_path / "matches.jsonl", [
        {"id": "u1", "letter": "D", "method": "embedding", "embedder": "openai:text-embedding-ada-002"},
        {"id": "u2", "letter": None, "method": "none", "embedder": None},
    ])
    metrics = score_run(tmp_path, records=[ego("u1"), ego("u2"), ego("u3")])  # the full set: no answers
    assert metrics["overall"] == {"accuracy": None, "correct": 0, "total": 0, "invalid": 0}
    assert metrics["protocol"]["unanswered_in_annotations"] == 3 and metrics["protocol"]["missing"] == 1
    assert metrics["protocol"]["submission"] == {"file": "egoschema_submission.json", "questions": 3, "invalid": 2}
    assert json.loads((tmp_path / "egoschema_submission.json").read_text()) == {"u1": 3, "u2": -1, "u3": -1}
    assert "| overall | – | 0 | 0 | 0 |" in (tmp_path / "metrics.md").read_text()


def test_records_from_two_benchmarks_are_refused(tmp_path):
    other = QuestionRecord(id="n", dataset="nextqa", video_id="v", video_path="v.mp4", question="?", options=("a",), answer=0)
    with pytest.raises(ValueError, match="one benchmark"):
        score_run(tmp_path, records=[movie("q"), other])
