"""EgoSchema subset as IG-VLM's EgoSchema.csv (what ∞-VideoChat2's --data_path reads)."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from infvideo.data.egoschema import read_egoschema
from infvideo.data.record import DuplicateIdError, MalformedRow, QuestionRecord
from infvideo.eval.tasks import read_benchmark

IGVLM_HEADER = ["", "video_name", "question_id", "question", "answer", "a0", "a1", "a2", "a3", "a4"]
EGOSCHEMA_HEADER = ["", "q_uid", "google_drive_id", "question", "answer", *(f"option {i}" for i in range(5))]
UIDS = ["0074f737-11cb-497d-8d07-77c3a8127391", "00b9a0de-c59e-49cb-a127-6081e2fb8c8e", "00f93e1e-cf4e-4835-88b4-4ad68216e86f"]


def row(n: int, answer_at: int) -> list[str]:
    # commas and quotes inside the texts: the public file quotes such fields
    options = [f'option {n}.{i}, said "c"' for i in range(5)]
    return [str(n + 1), UIDS[n], f"drive-{n}", f"What is c doing, {n}?", options[answer_at], *options]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


@pytest.fixture
def rows() -> list[list[str]]:
    return [row(0, 3), row(1, 0), row(2, 4)]


def test_igvlm_layout_field_by_field(tmp_path: Path, rows: list[list[str]]) -> None:
    result = read_egoschema(write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows), tmp_path / "videos")
    assert result.problems == []
    assert [r.id for r in result.records] == UIDS
    assert [r.answer for r in result.records] == [3, 0, 4]
    assert result.records[0] == QuestionRecord(
        id=UIDS[0],
        dataset="egoschema",
        video_id=UIDS[0],
        video_path=os.path.join(str(tmp_path / "videos"), f"{UIDS[0]}.mp4"),
        question="What is c doing, 0?",
        options=tuple(f'option 0.{i}, said "c"' for i in range(5)),
        answer=3,
        extra={"google_drive_id": "drive-0"},  # IG-VLM's "question_id" column holds the Drive id
    )


def test_egoschema_names_and_positional_layouts_read_alike(tmp_path: Path, rows: list[list[str]]) -> None:
    igvlm = read_egoschema(write_csv(tmp_path / "igvlm.csv", IGVLM_HEADER, rows), "/v").records
    named = read_egoschema(write_csv(tmp_path / "named.csv", EGOSCHEMA_HEADER, rows), "/v").records
    unknown_header = ["idx", "uid", "x", "q", "a", "c0", "c1", "c2", "c3", "c4"]
    positional = read_egoschema(write_csv(tmp_path / "positional.csv", unknown_header, rows), "/v").records
    assert named == igvlm
    # read by position as the reference does: same records, but column 2 is not known to be the Drive id
    assert positional == [QuestionRecord(**{**r.to_dict(), "options": r.options, "extra": {}}) for r in igvlm]


def test_named_columns_may_come_in_any_order(tmp_path: Path, rows: list[list[str]]) -> None:
    order = [9, 4, 1, 3, 0, 5, 6, 7, 8, 2]  # a4 first, answer before video_name, ...
    shuffled = write_csv(tmp_path / "EgoSchema.csv", [IGVLM_HEADER[i] for i in order], [[r[i] for i in order] for r in rows])
    records = read_egoschema(shuffled, "/v").records
    assert [(r.id, r.answer, r.options[r.answer]) for r in records] == [
        (UIDS[0], 3, 'option 0.3, said "c"'),
        (UIDS[1], 0, 'option 1.0, said "c"'),
        (UIDS[2], 4, 'option 2.4, said "c"'),
    ]


def test_video_pattern_is_respected(tmp_path: Path, rows: list[list[str]]) -> None:
    (first, *_) = read_egoschema(
        write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows), tmp_path, video_pattern="{video}/{video}.pt"
    ).records
    assert first.video_path == os.path.join(str(tmp_path), f"{UIDS[0]}/{UIDS[0]}.pt")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda r: r.__setitem__(4, "c does something else"), "answer text 'c does something else' equals no option; expected exactly one"),
        # exact comparison, as the reference's ==: a trailing space is a different text
        (lambda r: r.__setitem__(4, r[4] + " "), "equals no option"),
        (lambda r: r.__setitem__(5, r[6]), "equals options 0, 1; expected exactly one"),
        (lambda r: r.__setitem__(7, "  "), "'a2' is empty"),
        (lambda r: r.pop(), "9 fields, but the header has 10 columns"),
    ],
)
def test_malformed_row_raises_naming_file_and_row(tmp_path: Path, change, reason: str) -> None:
    rows = [row(0, 0), row(1, 1), row(2, 2)]
    change(rows[1])
    csv_file = write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows)
    with pytest.raises(MalformedRow) as caught:
        read_egoschema(csv_file, tmp_path)
    assert f"{csv_file}, line 3" in str(caught.value) and reason in str(caught.value)


def test_skip_mode_leaves_out_and_lists_the_bad_row(tmp_path: Path, rows: list[list[str]]) -> None:
    rows[1][4] = "matches nothing"
    csv_file = write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows)
    result = read_egoschema(csv_file, tmp_path, on_error="skip")
    assert [r.id for r in result.records] == [UIDS[0], UIDS[2]]
    (problem,) = result.problems
    assert (problem.source, problem.row) == (str(csv_file), f"line 3 (q_uid={UIDS[1]})")
    assert problem.reason == "answer text 'matches nothing' equals no option; expected exactly one"


def test_repeated_q_uid_is_refused_even_when_skipping(tmp_path: Path, rows: list[list[str]]) -> None:
    csv_file = write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, [*rows, row(0, 1)])
    with pytest.raises(DuplicateIdError, match=UIDS[0]):
        read_egoschema(csv_file, tmp_path, on_error="skip")


def test_unknown_header_of_the_wrong_width_is_refused(tmp_path: Path, rows: list[list[str]]) -> None:
    csv_file = write_csv(tmp_path / "EgoSchema.csv", ["", "uid", "q", "a", "c0", "c1", "c2", "c3", "c4"], [r[:2] + r[3:] for r in rows])
    with pytest.raises(MalformedRow, match=r"EgoSchema\.csv, line 1 \(header\): unknown column names and 9 columns"):
        read_egoschema(csv_file, tmp_path, on_error="skip")


def test_read_benchmark_dispatches_on_the_suffix(tmp_path: Path, rows: list[list[str]]) -> None:
    csv_file = write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows)
    records = read_benchmark("egoschema", csv_file, tmp_path / "videos")
    assert [(r.id, r.answer_letter) for r in records] == [(UIDS[0], "D"), (UIDS[1], "A"), (UIDS[2], "E")]
    upper = write_csv(tmp_path / "EGOSCHEMA.CSV", IGVLM_HEADER, rows)
    assert read_benchmark("egoschema", upper, tmp_path / "videos") == records


def test_csv_with_answers_path_or_unknown_suffix_is_refused(tmp_path: Path, rows: list[list[str]]) -> None:
    csv_file = write_csv(tmp_path / "EgoSchema.csv", IGVLM_HEADER, rows)
    with pytest.raises(ValueError, match="carries its answers"):
        read_egoschema(csv_file, tmp_path, answers_path=tmp_path / "subset_answers.json")
    other = write_csv(tmp_path / "EgoSchema.tsv", IGVLM_HEADER, rows)
    with pytest.raises(ValueError, match=r"suffix '\.tsv'; expected \.json .* or \.csv"):
        read_egoschema(other, tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.csv"):
        read_egoschema(tmp_path / "missing.csv", tmp_path)
