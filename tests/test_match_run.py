import hashlib
import json

import pytest

from infvideo.data.record import QuestionRecord
from infvideo.eval.match_run import match_run
from infvideo.eval.run_files import MATCHES, read_jsonl

OPTIONS = ("a red square", "a green bar", "a blue square", "nothing", "a circle")


def record(qid: str, options=OPTIONS) -> QuestionRecord:
    return QuestionRecord(id=qid, dataset="nextqa", video_id="v", video_path="v.mp4", question="what?", options=options, answer=1)


def test_each_kind_of_prediction_line_gets_its_letter(tmp_path):
    records = [record(str(i)) for i in range(5)]
    predictions = {
        "0": {"id": "0", "prediction": "I see a green bar moving", "parsed": None},
        "1": {"id": "1", "prediction": "(C) a blue square", "parsed": "C"},  # VideoChat2 gave a letter
        "2": {"id": "2", "prediction": None, "error": "VideoDecodeError: broken"},
        "3": {"id": "3", "prediction": "   ", "parsed": None},
    }  # "4" was never predicted
    summary = match_run(tmp_path, records=records, predictions=predictions, progress=False)
    lines = read_jsonl(tmp_path / MATCHES)
    assert [line["id"] for line in lines] == ["0", "1", "2", "3"]
    assert [(line["letter"], line["method"]) for line in lines] == [("B", "embedding"), ("C", "parsed"), (None, "none"), (None, "none")]
    # the embedder only where it chose the letter; first_four only where a match was restricted to A-D
    assert [line["embedder"] for line in lines] == ["minilm", None, None, None]
    assert [line["first_four"] for line in lines] == [False] * 4
    # what each letter was matched from, so that `infvideo score` can tell a matches.jsonl older than the predictions
    texts = ["I see a green bar moving", "(C) a blue square", "", "   "]
    assert [line["prediction_sha256"] for line in lines] == [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
    assert summary == {
        "matched": 4,
        "not_predicted": 1,
        "methods": {"embedding": 1, "parsed": 1, "none": 2},
        "backbone": "video_llama",
        "embedder": "minilm",
        "first_four": False,
        "embedding_fallback": False,
    }


def test_open_ended_runs_are_refused(tmp_path):
    open_ended = QuestionRecord(id="q", dataset="moviechat", video_id="v", video_path="v.mp4", question="?", answer_text="yes")
    with pytest.raises(ValueError, match="infvideo judge"):
        match_run(tmp_path, records=[open_ended], predictions={}, progress=False)


def test_rerun_replaces_the_file_atomically(tmp_path):
    records = [record("0")]
    (tmp_path / MATCHES).write_text(json.dumps({"id": "old"}) + "\n")
    match_run(tmp_path, records=records, predictions={"0": {"id": "0", "prediction": "nothing at all"}}, progress=False)
    assert [line["id"] for line in read_jsonl(tmp_path / MATCHES)] == ["0"]
    assert not list(tmp_path.glob("*.tmp"))
