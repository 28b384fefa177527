"""``score_run`` end to end on run directories written by hand (no model, no network)."""

import csv
import hashlib
import json
import os

import pytest

from infvideo.cli import main
from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.metrics.score import score_run
from infvideo.eval.run_files import write_jsonl

# video, question, answer index, qid, type; options o0..o4 (the NExT-QA csv layout)
QUESTIONS = [
    ("v1", "why?", 0, 0, "CW"),
    ("v1", "after?", 1, 1, "TP"),
    ("v1", "how many?", 2, 2, "DC"),
    ("v2", "how?", 3, 0, "CH"),
    ("v2", "what else?", 4, 1, "DO"),
]


def write_nextqa_run(root, matches, overrides=(), name="nextqa_run"):
    data = root / "data"
    data.mkdir(exist_ok=True)
    annotations = data / "val.csv"
    with annotations.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"])
        for video, question, answer, qid, qtype in QUESTIONS:
            writer.writerow([video, 100, 64, 64, question, answer, qid, qtype, "o0", "o1", "o2", "o3", "o4"])
    config = load_config(
        overrides=["data.benchmark=nextqa", f"data.annotations={annotations}", f"data.video_folder={data / 'videos'}", *overrides]
    )
    run_dir = root / name
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(to_yaml(config))
    write_jsonl(
        run_dir / "predictions.jsonl",
        [  # v2_1 was never predicted (say, a data.limit=4 run)
            {
                "id": "v1_0",
                "video_id": "v1",
                "question": "why?",
                "prediction": "(A) o0",
                "parsed": "A",
                "answer": "A",
                "seed": 1,
                "timings": {},
            },
            {
                "id": "v1_1",
                "video_id": "v1",
                "question": "after?",
                "prediction": "o2 it is",
                "parsed": None,
                "answer": "B",
                "seed": 1,
                "timings": {},
            },
            {
                "id": "v1_2",
                "video_id": "v1",
                "question": "how many?",
                "prediction": "o2",
                "parsed": None,
                "answer": "C",
                "seed": 1,
                "timings": {},
            },
            {"id": "v2_0", "video_id": "v2", "prediction": None, "error": "VideoDecodeError: broken"},
        ],
    )
    write_jsonl(run_dir / "matches.jsonl", matches)
    return run_dir


MATCHES = [
    {"id": "v1_0", "letter": "A", "method": "parsed", "embedder": None},  # right
    {"id": "v1_1", "letter": "C", "method": "embedding", "embedder": "minilm"},  # wrong
    {"id": "v1_2", "letter": "C", "method": "embedding", "embedder": "minilm"},  # right
    {"id": "v2_0", "letter": None, "method": "none", "embedder": None},  # invalid
]


def cell(correct, total, invalid):
    return {"accuracy": 100 * correct / total, "correct": correct, "total": total, "invalid": invalid}


def sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_predictions(run_dir):
    return [json.loads(text) for text in (run_dir / "predictions.jsonl").read_text().splitlines()]


def test_nextqa_run_is_scored_into_metrics_json_and_markdown(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    metrics = score_run(run_dir)
    assert metrics["benchmark"] == "nextqa" and metrics["run"] == "nextqa_run"
    assert metrics["units"]["accuracy"] == "percent"
    # v2_1 (type DO) was never predicted: it is wrong and in the denominator, as in the reference
    assert metrics["overall"] == cell(2, 5, 2)
    assert metrics["breakdowns"]["type"] == {
        "CW": cell(1, 1, 0),
        "CH": cell(0, 1, 1),
        "TN": cell(0, 1, 0),
        "DC": cell(1, 1, 0),
        "DO": cell(0, 1, 1),
    }
    assert metrics["breakdowns"]["group"] == {"C": cell(1, 2, 1), "T": cell(0, 1, 0), "D": cell(1, 2, 1)}
    protocol = metrics["protocol"]
    assert protocol["questions_in_annotations"] == 5 and protocol["questions"] == 5
    assert protocol["predicted"] == 4 and protocol["not_predicted"] == 1 and protocol["partial"] is True and protocol["limited"] is False
    assert protocol["methods"] == {"parsed": 1, "embedding": 2, "none": 1} and protocol["embedders"] == {"minilm": 2}
    assert protocol["missing"] == 1 and protocol["letters_from"] == "matches.jsonl" and protocol["predictions_without_question"] == 0
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    markdown = (run_dir / "metrics.md").read_text()
    assert markdown.startswith("# nextqa: nextqa_run\n")
    assert "| overall | 40.0 | 2 | 2 | 5 |" in markdown and "| group: C | 50.0 | 1 | 1 | 2 |" in markdown
    assert "Accuracy in percent" in markdown and "partial: 4 of 5 questions predicted" in markdown
    assert not list(run_dir.glob("*.tmp")) and not (run_dir / "egoschema_submission.json").exists()


def test_a_partial_run_is_scored_over_all_annotated_questions(tmp_path):
    # 14 of 30 questions predicted, all right: 14/30 = 46.7 %, not 100 %
    data = tmp_path / "data"
    data.mkdir()
    annotations = data / "val.csv"
    with annotations.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"])
        for qid in range(30):
            writer.writerow(["v", 100, 64, 64, "why?", 0, qid, "CW", "o0", "o1", "o2", "o3", "o4"])
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(to_yaml(load_config(overrides=["data.benchmark=nextqa", f"data.annotations={annotations}"])))
    write_jsonl(run_dir / "predictions.jsonl", [{"id": f"v_{i}", "prediction": "(A) o0", "parsed": "A"} for i in range(14)])
    write_jsonl(
        run_dir / "matches.jsonl",
        [{"id": f"v_{i}", "letter": "A", "method": "parsed", "embedder": None, "prediction_sha256": sha256("(A) o0")} for i in range(14)],
    )
    metrics = score_run(run_dir)
    assert metrics["overall"] == cell(14, 30, 16)
    assert metrics["protocol"]["not_predicted"] == 16 and metrics["protocol"]["partial"] is True


def test_a_limited_run_is_scored_over_its_first_questions_and_marked_limited(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES[:2], overrides=["data.limit=3"])
    write_jsonl(run_dir / "predictions.jsonl", [line for line in read_predictions(run_dir) if line["id"] in ("v1_0", "v1_1")])
    write_jsonl(run_dir / "matches.jsonl", MATCHES[:2])
    metrics = score_run(run_dir)
    assert metrics["overall"] == cell(1, 3, 1)  # v1_0 right, v1_1 wrong, v1_2 (third question) not predicted
    protocol = metrics["protocol"]
    assert protocol["limit"] == 3 and protocol["limited"] is True and protocol["questions"] == 3
    assert protocol["questions_in_annotations"] == 5 and protocol["not_predicted"] == 1 and protocol["partial"] is True


def test_a_predicted_question_missing_from_matches_is_a_stale_matches_error(tmp_path):
    run_dir = write_nextqa_run(tmp_path, [m for m in MATCHES if m["id"] != "v1_2"])  # matches.jsonl older than predictions
    with pytest.raises(UserError, match=f"v1_2.*infvideo match {run_dir}"):
        score_run(run_dir)
    assert not (run_dir / "metrics.json").exists()


def test_matches_made_from_other_predictions_are_a_stale_matches_error(tmp_path):
    texts = ["(A) o0", "o2 it is", "o2", ""]  # v2_0 is an error line: no text
    matches = [{**m, "prediction_sha256": sha256(text)} for m, text in zip(MATCHES, texts)]
    run_dir = write_nextqa_run(tmp_path, matches)
    assert score_run(run_dir)["overall"] == cell(2, 5, 2)  # every hash agrees
    matches[1]["prediction_sha256"] = sha256("an older answer")
    write_jsonl(run_dir / "matches.jsonl", matches)
    with pytest.raises(UserError, match=f"v1_1.*infvideo match {run_dir}"):
        score_run(run_dir)


def test_legacy_matches_older_than_predictions_are_a_stale_matches_error(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)  # no prediction_sha256: the modification times decide
    predictions = (run_dir / "predictions.jsonl").stat().st_mtime
    os.utime(run_dir / "matches.jsonl", (predictions - 60, predictions - 60))
    with pytest.raises(UserError, match=f"older than predictions.jsonl.*infvideo match {run_dir}"):
        score_run(run_dir)


def test_missing_matches_file_says_to_run_match(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    (run_dir / "matches.jsonl").unlink()
    with pytest.raises(UserError, match=f"no matches.jsonl; run `infvideo match {run_dir}` first"):
        score_run(run_dir)
    assert not (run_dir / "metrics.json").exists()


def test_missing_predictions_say_to_run_predict(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    (run_dir / "predictions.jsonl").unlink()
    with pytest.raises(UserError, match="no predictions.jsonl.*infvideo predict"):
        score_run(run_dir)


def test_a_missing_directory_or_a_file_is_named_as_such(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        score_run(tmp_path / "nope")
    (tmp_path / "stray.txt").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        score_run(tmp_path / "stray.txt")
    with pytest.raises(UserError, match="no config.yaml"):
        score_run(tmp_path)


def test_unmerged_shards_are_refused_with_the_merge_hint(tmp_path):
    run_dir = write_nextqa_run(tmp_path, MATCHES)
    (run_dir / "predictions.jsonl").rename(run_dir / "predictions.shard-0-of-2.jsonl")
    with pytest.raises(UserError, match="infvideo merge"):
        score_run(run_dir)


def test_score_over_a_glob_skips_and_lists_unfinished_directories(tmp_path, capsys):
    finished = write_nextqa_run(tmp_path, MATCHES)
    unfinished = write_nextqa_run(tmp_path, MATCHES, name="still_predicting")
    (unfinished / "predictions.jsonl").unlink()
    (tmp_path / "notes.txt").write_text("x")
    assert main(["score", str(finished), str(unfinished), str(tmp_path / "notes.txt")]) == 0
    err = capsys.readouterr().err
    assert f"skipped {unfinished}: " in err and "infvideo predict" in err and f"skipped {tmp_path / 'notes.txt'}: " in err
    assert (finished / "metrics.json").exists() and not (unfinished / "metrics.json").exists()
    assert main(["score", str(unfinished), str(tmp_path / "notes.txt")]) == 2  # nothing could be scored
    assert "infvideo: error: nothing to score" in capsys.readouterr().err


def movie(qid, mode="global"):
    return QuestionRecord(id=qid, dataset="moviechat", video_id="m", video_path="m.mp4", question="?", answer_text="ref", mode=mode)


def judgment(qid, metric, score, pred=None, error=None, model="gpt-3.5-turbo"):
    return {
        "id": qid,
        "metric": metric,
        "pred": pred,
        "score": score,
        "raw": None,
        "error": error,
        "model": model,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "cached": True,
        "attempts": 0,
    }


def test_moviechat_records_with_judgments(tmp_path):
    run_dir = tmp_path / "moviechat_run"
    run_dir.mkdir()
    records = [movie("m_global_0"), movie("m_global_1"), movie("m_global_2")]
    write_jsonl(
        run_dir / "judgments.jsonl",
        [
            judgment("m_global_0", "GEN", 4, "yes"),
            judgment("m_global_0", "CI", 3),
            judgment("m_global_1", "GEN", 1, "no"),
            judgment("m_global_1", "CI", 2, model="qwen"),
            judgment("m_global_2", "GEN", None, error="no prediction"),
            judgment("m_global_2", "CI", None, error="no prediction"),
        ],
    )
    metrics = score_run(run_dir, records=records)
    assert metrics["benchmark"] == "moviechat" and metrics["run"] == "moviechat_run"
    assert metrics["overall"] == {
        "accuracy": 100 / 3,
        "yes": 1,
        "no": 2,
        "score": 5 / 3,
        "CI": 5 / 3,
        "DO": None,
        "CU": None,
        "judged": 3,
        "unjudged": 0,
        "total": 3,
    }  # no prediction = "no", score 0
    assert metrics["breakdowns"] == {"mode": {"global": metrics["overall"]}}
    protocol = metrics["protocol"]
    assert protocol["judge_models"] == {"gpt-3.5-turbo": 5, "qwen": 1} and protocol["metrics"] == ["GEN", "CI"]
    assert protocol["per_metric"]["GEN"]["no_prediction"] == 1 and protocol["not_predicted"] is None
    assert json.loads((run_dir / "metrics.json").read_text()) == metrics
    assert "| mode: global | 33.3 | 1.67 | 1.67 | – | – | 1 | 2 | 3 | 0 | 3 |" in (run_dir / "metrics.md").read_text()


def test_missing_judgments_file_says_to_run_judge(tmp_path):
    with pytest.raises(UserError, match="run `infvideo judge .*` first"):
        score_run(tmp_path, records=[movie("q")])


def test_egoschema_run_writes_the_server_submission(tmp_path):
    def ego(qid, answer=None):
        return QuestionRecord(
            id=qid,
            dataset="egoschema",
            video_id=qid,
            video_path=f"{qid}.mp4",
            question="?",
            options=("a", "b", "c", "d", "e"),
            answer=answer,
        )

    write_jsonl(
        tmp_path / "matches.jsonl",
        [
            {"id": "u1", "letter": "D", "method": "embedding", "embedder": "openai:text-embedding-ada-002"},
            {"id": "u2", "letter": None, "method": "none", "embedder": None},
        ],
    )
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


def judged_run(tmp_path, judgments, predictions):
    run_dir = tmp_path / "moviechat_run"
    run_dir.mkdir()
    write_jsonl(run_dir / "predictions.jsonl", predictions)
    write_jsonl(run_dir / "judgments.jsonl", judgments)
    return run_dir


def test_an_unpredicted_open_ended_question_counts_as_wrong(tmp_path):
    records = [movie("m_global_0"), movie("m_global_1"), movie("m_global_2")]
    run_dir = judged_run(
        tmp_path,
        [judgment("m_global_0", "GEN", 4, "yes"), judgment("m_global_1", "GEN", 2, "yes")],
        [{"id": "m_global_0", "prediction": "a"}, {"id": "m_global_1", "prediction": "b"}],
    )
    metrics = score_run(run_dir, records=records)
    assert metrics["overall"]["accuracy"] == 100 * 2 / 3 and metrics["overall"]["score"] == 2.0  # (4 + 2 + 0) / 3
    assert metrics["protocol"]["not_predicted"] == 1 and metrics["protocol"]["partial"] is True


def test_judgments_of_other_predictions_are_a_stale_judgments_error(tmp_path):
    records = [movie("m_global_0")]
    run_dir = judged_run(
        tmp_path,
        [{**judgment("m_global_0", "GEN", 4, "yes"), "prediction_sha256": sha256("old answer")}],
        [{"id": "m_global_0", "prediction": "new answer"}],
    )
    with pytest.raises(UserError, match=f"m_global_0.*infvideo judge {run_dir}"):
        score_run(run_dir, records=records)
    write_jsonl(run_dir / "judgments.jsonl", [{**judgment("m_global_0", "GEN", 4, "yes"), "prediction": "old answer"}])
    with pytest.raises(UserError, match=f"infvideo judge {run_dir}"):
        score_run(run_dir, records=records)
    write_jsonl(run_dir / "judgments.jsonl", [{**judgment("m_global_0", "GEN", 4, "yes"), "prediction_sha256": sha256("new answer")}])
    assert score_run(run_dir, records=records)["overall"]["accuracy"] == 100.0


def test_judgments_not_covering_the_predictions_are_a_stale_judgments_error(tmp_path):
    records = [movie("m_global_0"), movie("m_global_1")]
    predictions = [{"id": "m_global_0", "prediction": "a"}, {"id": "m_global_1", "prediction": "b"}]
    run_dir = judged_run(tmp_path, [judgment("m_global_0", "GEN", 4, "yes")], predictions)  # m_global_1 predicted after judging
    with pytest.raises(UserError, match=f"m_global_1.*infvideo judge {run_dir}"):
        score_run(run_dir, records=records)
    # judged as "no prediction", answered since (predict --retry-errors)
    write_jsonl(
        run_dir / "judgments.jsonl", [judgment("m_global_0", "GEN", 4, "yes"), judgment("m_global_1", "GEN", None, error="no prediction")]
    )
    with pytest.raises(UserError, match=f"m_global_1.*infvideo judge {run_dir}"):
        score_run(run_dir, records=records)


def test_legacy_judgments_older_than_predictions_are_a_stale_judgments_error(tmp_path):
    records = [movie("m_global_0")]
    run_dir = judged_run(tmp_path, [judgment("m_global_0", "GEN", 4, "yes")], [{"id": "m_global_0", "prediction": "a"}])
    assert score_run(run_dir, records=records)["overall"]["accuracy"] == 100.0
    predictions = (run_dir / "predictions.jsonl").stat().st_mtime
    os.utime(run_dir / "judgments.jsonl", (predictions - 60, predictions - 60))
    with pytest.raises(UserError, match=f"older than predictions.jsonl.*infvideo judge {run_dir}"):
        score_run(run_dir, records=records)
