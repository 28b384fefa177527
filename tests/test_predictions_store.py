import json
import os
import subprocess
import sys

import pytest

from infvideo.eval.predictions import PredictionStore, merge_predictions, read_records
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
        "store._handle.write('{\"id\": \"3\", \"pre')\n"
        "store._handle.flush()\n"
        "os._exit(9)\n"  # no clean shutdown
    )
    result = subprocess.run([sys.executable, "-c", script], env={**os.environ})
    assert result.returncode == 9
    assert [r["id"] for r in read_records(path)] == ["0", "1", "2"]
    with PredictionStore(path) as store:
        assert store.done == {"0", "1", "2"}


def test_merge_of_shards_and_conflicts(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps({"id": "2", "prediction": "q"}) + "\n" + json.dumps({"id": "1", "prediction": "p"}) + "\n")
    b.write_text(json.dumps({"id": "3", "prediction": "r"}) + "\n")
    assert merge_predictions([a, b], tmp_path / "all.jsonl") == 3
    assert [r["id"] for r in read_records(tmp_path / "all.jsonl")] == ["1", "2", "3"]
    b.write_text(json.dumps({"id": "1", "prediction": "different"}) + "\n")
    with pytest.raises(ValueError, match="differs between shards"):
        merge_predictions([a, b], tmp_path / "bad.jsonl")


def test_shards_partition_the_questions_stably():
    ids = [f"video{i}_{i % 7}" for i in range(500)]
    shards = [Shard(i, 4) for i in range(4)]
    owners = [[shard.owns(key) for shard in shards].count(True) for key in ids]
    assert owners == [1] * len(ids)
    sizes = [sum(shard.owns(key) for key in ids) for shard in shards]
    assert min(sizes) > 90  # roughly balanced
    assert parse_shard("1/4") == Shard(1, 4)
    with pytest.raises(ValueError):
        parse_shard("4/4")


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
