"""Frame tokens written by several processes at once (shards, lmms-eval ranks on one video) stay readable."""

import multiprocessing

import torch

from infvideo.eval.token_cache import TokenCache

KEY = {"video": "same.mp4", "limit": None, "sampling": ["uniform", 4, 2]}


def _write_many(folder: str, seed: int) -> None:
    cache = TokenCache(folder, {"model": "tiny"})
    chunks = [torch.full((4, 8), float(seed)), torch.full((4, 8), float(seed) + 0.5)]
    for _ in range(40):
        cache.save(KEY, chunks, {"indices": [0, 1, 2, 3]})


def test_concurrent_writers_of_one_video_leave_a_complete_file_and_no_temporaries(tmp_path):
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_write_many, args=(str(tmp_path), seed)) for seed in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    assert [writer.exitcode for writer in writers] == [0, 0]
    chunks = TokenCache(tmp_path, {"model": "tiny"}).load(KEY)
    assert len(chunks) == 2 and float(chunks[0][0, 0]) in (1.0, 2.0) and float(chunks[1][0, 0]) == float(chunks[0][0, 0]) + 0.5
    assert not list(tmp_path.rglob("*.tmp"))
