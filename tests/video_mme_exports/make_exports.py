"""Writes the Video-MME export fixtures next to this file, with the real writers.

    PYTHONPATH=<a folder with pandas and datasets> python tests/video_mme_exports/make_exports.py

* ``pandas_records.json``: ``DataFrame.to_json(orient="records")``, one JSON list of flat rows
  (pandas escapes "/" as "\\/" and writes non-ASCII text as \\u escapes);
* ``datasets_to_json.json``: ``datasets.Dataset.to_json``, which writes JSON Lines although the
  file is named ``.json``.

The rows are Video-MME's parquet columns; the second question has a non-ASCII character so the
escapes are exercised. The tests compare what these files read as with the same rows as JSONL.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

ROWS = [
    {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
        "videoID": "fFjv93ACGo8",
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "How many colors are there?",
        "options": ["A. Two.", "B. Three.", "C. Four.", "D. Five."],
        "answer": "C",
    },
    {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
        "videoID": "fFjv93ACGo8",
        "question_id": "001-2",
        "task_type": "Information Synopsis",
        "question": "Which café is shown?",
        "options": ["A. Café Central.", "B. Café Sacher.", "C. None.", "D. Two of them."],
        "answer": "B",
    },
    {
        "video_id": "601",
        "duration": "long",
        "domain": "Sports Competition",
        "sub_category": "Football",
        "url": "https://www.youtube.com/watch?v=abcdefghijk",
        "videoID": "abcdefghijk",
        "question_id": "601-3",
        "task_type": "Temporal Reasoning",
        "question": "What happens after the goal?",
        "options": ["A. A red card.", "B. A substitution.", "C. Celebration.", "D. Half time."],
        "answer": "A",
    },
]


def main() -> None:
    import datasets
    import pandas

    (HERE / "rows.json").write_text(json.dumps(ROWS, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    pandas.DataFrame(ROWS).to_json(HERE / "pandas_records.json", orient="records")
    import pyarrow

    # a fixed fingerprint: datasets otherwise hashes the calling module, which fails when run as a script
    table = pyarrow.Table.from_pylist(ROWS)
    datasets.Dataset(table, fingerprint="video-mme-fixture").to_json(HERE / "datasets_to_json.json")


if __name__ == "__main__":
    main()
