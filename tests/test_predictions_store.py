import json
import os
import subprocess
import sys

import pytest

from infvideo.errors import UserError
from infvideo.eval.predictions import PredictionStore, latest_records, merge_shards, read_records
from infvideo.eval.seeding import question_generator, question_seed
from infvideo.eval.sharding import Shard, parse_shard, shard_from_environment


def test_append_resume_and_torn_last_line(tmp_path):
    path = tmp_path / "predictions.jsonl"
    with PredictionStore(path) as store:
        store.append({"id": "a", "prediction": "x"})
        store.append({"id": "b", "prediction": "y"})
    with path.open("a") as handle:
        handle.write('{"id": "c", "predic')  # a kill in the middle of a line
    with PredictionStore(path) as store:
        assert store.done == {"a", "b"} and "c" not in store
        store.append({"id": "c", "prediction": "z"})
        with pytest.raises(ValueError, match="already"):
            store.append({"id": "a", "prediction": "again"})
    assert [r["id"] for r in read_records(path)] == ["a", "b", "c"]
    assert path.read_text().count("\n") == 3


def test_a_killed_writer_loses_nothing_already_written(tmp_path):
    path = tmp_path / "predictions.jsonl"
    script = (
        "import os, sys\n"
        "from infvideo.eval.predictions import PredictionStore\n"
        f"store = PredictionStore({str(path)!r})\n"
        "for i in range(3):\n"
        "    store.append({'id': str(i), 'prediction': 'p'})\n"
        'store._handle.write(\'{"id": "3", "pre\')\n'
        "store._handle.flush()\n"
        "os._exit(9)\n"  # no clean shutdown
    )
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ})
    assert result.returncode == 9
    assert [r["id"] for r in read_records(path)] == ["0", "1", "2"]
    with PredictionStore(path) as store:
        assert store.done == {"0", "1", "2"}


def _write(path, *records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_merge_of_shards_and_conflicts(tmp_path):
    _write(tmp_path / "predictions.shard-0-of-2.jsonl", {"id": "2", "prediction": "q"}, {"id": "1", "prediction": "p"})
    _write(tmp_path / "predictions.shard-1-of-2.jsonl", {"id": "3", "prediction": "r"})
    summary = merge_shards(tmp_path)
    assert (summary.records_after, summary.added, summary.partial) == (3, 3, False)
    assert sorted(r["id"] for r in read_records(tmp_path / "predictions.jsonl")) == ["1", "2", "3"]
    _write(tmp_path / "predictions.shard-1-of-2.jsonl", {"id": "1", "prediction": "different"})
    before = (tmp_path / "predictions.jsonl").read_bytes()
    with pytest.raises(UserError, match="answered differently.*'1'"):
        merge_shards(tmp_path)
    assert (tmp_path / "predictions.jsonl").read_bytes() == before  # nothing written


def test_merge_with_a_missing_shard_never_shrinks_a_complete_file(tmp_path):
    """Issue: merging only shard 0 of 2 replaced a complete 30-line predictions.jsonl with 14 lines."""
    complete = [{"id": str(i), "prediction": f"p{i}"} for i in range(30)]
    _write(tmp_path / "predictions.jsonl", *complete)
    _write(tmp_path / "predictions.shard-0-of-2.jsonl", *complete[:14])
    with pytest.raises(UserError, match=r"1 of 2 shards missing \(predictions.shard-1-of-2.jsonl\).*--allow-partial"):
        merge_shards(tmp_path)
    summary = merge_shards(tmp_path, allow_partial=True)
    assert summary.partial and summary.missing_shards == [1] and summary.records_after == 30
    assert len(list(read_records(tmp_path / "predictions.jsonl"))) == 30


def test_merge_compares_answers_not_timings_and_picks_one_shard_count(tmp_path):
    """Stale shard files of another count, differing only in timings, gave a false conflict."""
    _write(tmp_path / "predictions.shard-0-of-1.jsonl", {"id": "a", "prediction": "x", "timings": {"encode": 1.0}})
    _write(tmp_path / "predictions.shard-0-of-2.jsonl", {"id": "a", "prediction": "x", "timings": {"encode": 2.5}})
    _write(tmp_path / "predictions.shard-1-of-2.jsonl", {"id": "b", "prediction": "y", "timings": {"encode": 0.1}})
    with pytest.raises(UserError, match="several shard counts: 1 .*2 .*--shards N"):
        merge_shards(tmp_path)
    assert merge_shards(tmp_path, shard_count=2).records_after == 2
    assert merge_shards(tmp_path, shard_count=1).records_after == 2  # same answers: no conflict


def test_merge_keeps_answers_over_errors_and_replaces_errors_with_answers(tmp_path):
    _write(tmp_path / "predictions.jsonl", {"id": "a", "prediction": "x"}, {"id": "b", "prediction": None, "error": "OSError: gone"})
    _write(
        tmp_path / "predictions.shard-0-of-1.jsonl",
        {"id": "a", "prediction": None, "error": "OSError: gone"},
        {"id": "b", "prediction": "y"},
    )
    summary = merge_shards(tmp_path)
    assert summary.errors_replaced == 1
    assert {k: v["prediction"] for k, v in latest_records(tmp_path / "predictions.jsonl").items()} == {"a": "x", "b": "y"}


def test_no_shards_or_no_directory_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no shard files"):
        merge_shards(tmp_path)
    with pytest.raises(UserError, match="not a directory"):
        merge_shards(tmp_path / "nope")


def test_the_last_line_of_an_id_wins_and_retry_errors_reopens_only_errors(tmp_path):
    path = tmp_path / "predictions.jsonl"
    with PredictionStore(path) as store:
        store.append({"id": "a", "prediction": "x"})
        store.append({"id": "b", "prediction": None, "error": "FileNotFoundError: b.mp4"})
        assert store.errors == {"b"} and store.done == {"a", "b"}
    with PredictionStore(path, retry_errors=True) as store:
        assert store.done == {"a"} and store.errors == {"b"}
        with pytest.raises(ValueError, match="already"):
            store.append({"id": "a", "prediction": "again"})
        store.append({"id": "b", "prediction": "y"})
        assert store.errors == set()
    assert latest_records(path)["b"]["prediction"] == "y" and len(list(read_records(path))) == 3


def test_a_second_writer_on_the_same_file_is_refused(tmp_path):
    path = tmp_path / "predictions.jsonl"
    with PredictionStore(path):
        with pytest.raises(UserError, match="another process .* is writing"):
            PredictionStore(path)
    with PredictionStore(path):  # released on close
        pass


def test_shards_partition_the_questions_stably():
    ids = [f"video{i}" for i in range(500)]
    shards = [Shard(i, 4) for i in range(4)]
    owners = [[shard.owns(key) for shard in shards].count(True) for key in ids]
    assert owners == [1] * len(ids)
    sizes = [sum(shard.owns(key) for key in ids) for shard in shards]
    assert min(sizes) > 90  # roughly balanced
    assert parse_shard("1/4") == Shard(1, 4)
    with pytest.raises(UserError, match="invalid shard 4/4"):
        parse_shard("4/4")
    with pytest.raises(UserError, match="i/n"):
        parse_shard("first")


def test_shard_from_flags_torchrun_and_slurm():
    assert shard_from_environment("2/3", {"RANK": "0", "WORLD_SIZE": "2"}) == Shard(2, 3)
    assert shard_from_environment(None, {"RANK": "1", "WORLD_SIZE": "2"}) == Shard(1, 2)
    slurm = {"SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_COUNT": "3"}
    assert shard_from_environment(None, slurm) == Shard(1, 3)
    assert shard_from_environment(None, {}) == Shard(0, 1)


def test_question_seeds_are_stable_and_distinct():
    assert question_seed(42, "q1") == question_seed(42, "q1")
    assert question_seed(42, "q1") != question_seed(42, "q2") != question_seed(43, "q1")
    import torch

    assert torch.equal(torch.rand(3, generator=question_generator(1, "x")), torch.rand(3, generator=question_generator(1, "x")))
