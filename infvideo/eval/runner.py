"""``infvideo predict``: answer a benchmark's questions into a resumable, shardable run directory.

Per video: decode the sampled frames chunk by chunk (never the whole video), encode them to frame
tokens (or reuse cached ones), then per question: run the memory over the chunks with a generator
seeded by (run seed, question id); generate (greedy: the video's questions in one batch, see
``answer_questions``), and append one line per question to ``predictions.jsonl``. A broken video or
question becomes a line with ``error`` and the run goes on.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.video.indices import RULES
from infvideo.video.prefetch import ChunkPlan, PreparedVideo, StageTimes, VideoJob, prefetch_videos

from .backends import Answer, Backend, build_backend
from .config import PredictConfig, run_name, to_yaml
from .environment import environment
from .predictions import PREDICTIONS, PredictionStore, is_error, latest_records
from .run_files import CONFIG, ENVIRONMENT, write_text
from .seeding import question_generator, question_seed
from .sharding import shard_from_environment
from .tasks import get_task, read_benchmark
from .token_cache import TokenCache
from .validation import validate_config

log = logging.getLogger(__name__)


def run_directory(config: PredictConfig) -> Path:
    return Path(config.run.output_dir) / config.data.benchmark / (config.run.name or run_name(config))


def read_records(config: PredictConfig) -> list[QuestionRecord]:
    data = config.data
    return read_benchmark(
        data.benchmark,
        data.annotations,
        data.video_folder,
        on_error=data.on_error,
        video_pattern=data.video_pattern,
        **get_task(data.benchmark).reader_options(data),
    )


def sample_chunks(config: PredictConfig, num_frames: int) -> list[list[int]]:
    """The frame indices of one video, in the chunks the memory reads: the rule picks the frames and
    cuts them as its reference script does (``all_frames``: every frame, chunks of frames_per_chunk)."""
    return _chunk_plan(config).chunks(num_frames)


def _chunk_plan(config: PredictConfig) -> ChunkPlan:
    sampling = config.sampling
    return ChunkPlan(sampling.rule, sampling.frames_per_chunk, sampling.num_chunks)


def _frame_limit(record: QuestionRecord) -> int | None:
    return record.time + 1 if record.mode == "breakpoint" and record.time is not None else None


def _token_key(config: PredictConfig, record: QuestionRecord) -> dict:
    sampling = config.sampling
    rule = RULES.get(sampling.rule)
    # A rule that does not read num_chunks (all_frames) leaves it out, so such runs share their tokens.
    num_chunks = sampling.num_chunks if rule is None or rule.reads_num_chunks else None
    return {"video": record.video_path, "limit": _frame_limit(record), "sampling": [sampling.rule, sampling.frames_per_chunk, num_chunks]}


def video_job(config: PredictConfig, backend: Backend, record: QuestionRecord, preprocess: bool = True) -> VideoJob:
    """What decoding (and, with ``preprocess``, preprocessing) the video of ``record`` takes; it can
    run in another process. Without it the chunks are frames for ``Backend.encode_chunk``."""
    sampling = config.sampling
    preprocessing = (backend.preprocess, backend.image_size) if preprocess else (None, None)
    # without preprocess, frames go to ``Backend.encode_chunk``, which preprocesses them itself
    return VideoJob(
        record.video_path,
        sampling.backend,
        _frame_limit(record),
        _chunk_plan(config),
        *preprocessing,
        parallel_decode=sampling.parallel_decode,
    )


def encode_video(
    config: PredictConfig, backend: Backend, record: QuestionRecord, cache: TokenCache | None, prepared: PreparedVideo | None = None
) -> list[torch.Tensor]:
    """Frame tokens per chunk for the video of ``record`` (up to its breakpoint in breakpoint mode).

    Frames come one chunk at a time (decoded here, or ahead of time by ``prepared``'s workers) and
    are encoded as they come, so pixel memory stays bounded however long the video (``all_frames``
    reads every frame); the tokens are kept."""
    key = _token_key(config, record)
    if cache is not None and (cached := cache.load(key)) is not None:
        return cached
    if prepared is None:
        prepared = next(prefetch_videos([video_job(config, backend, record, preprocess=False)]))
    tokens = []
    for chunk in prepared:
        # frames decoded here go through encode_chunk as always; a worker's chunks are preprocessed
        encoded = backend.encode_chunk(chunk) if isinstance(chunk, np.ndarray) else backend.encode_pixels(chunk)
        if not torch.isfinite(encoded).all():
            raise ValueError(f"{record.video_path}: non-finite frame tokens")
        tokens.append(encoded)
    if cache is not None:
        cache.save(key, tokens, {"chunks": prepared.plan})
    return tokens


def _prefetched_videos(
    config: PredictConfig, backend: Backend, firsts: list[QuestionRecord], cache: TokenCache | None, times: StageTimes
) -> Iterator[PreparedVideo | None]:
    """The videos of ``firsts`` (one record per video), decoded and preprocessed ahead of the model
    by ``sampling.decode_workers`` processes; a video whose tokens are cached is never decoded."""
    workers = config.sampling.decode_workers
    if workers is None:  # auto: overlap where the model has its own device; on a CPU it shares the cores
        workers = min(2, max(1, (os.cpu_count() or 1) - 1)) if backend.device.type == "cuda" else 0
    jobs = [
        None if cache is not None and cache.path(_token_key(config, r)).exists() else video_job(config, backend, r, preprocess=workers > 0)
        for r in firsts
    ]
    return prefetch_videos(jobs, workers, config.sampling.prefetch_chunks, pin_memory=backend.device.type == "cuda", times=times)


def _error_line(record: QuestionRecord, error: BaseException) -> dict:
    return {"id": record.id, "video_id": record.video_id, "prediction": None, "error": f"{type(error).__name__}: {error}"}


def predictions_path(config: PredictConfig) -> Path:
    """This shard's predictions file (``predictions.jsonl`` when unsharded)."""
    return run_directory(config) / f"predictions{shard_from_environment(config.run.shard).suffix}.jsonl"


def finished_elsewhere(config: PredictConfig, retry_errors: bool = False) -> set[str]:
    """Ids a sharded run need not answer: those already in the run's merged ``predictions.jsonl``
    (answers only with ``retry_errors``). An unsharded run's store knows its own file."""
    if shard_from_environment(config.run.shard).count == 1:
        return set()
    latest = latest_records(run_directory(config) / PREDICTIONS)
    return {key for key, record in latest.items() if not (retry_errors and is_error(record))}


def owned_questions(config: PredictConfig, records: Iterable[QuestionRecord]) -> list[QuestionRecord]:
    """The questions of this shard (the first ``data.limit`` of them). Shards own whole videos, so a
    video is decoded and encoded by one shard only."""
    shard = shard_from_environment(config.run.shard)
    owned = [r for r in records if shard.owns(r.video_id)]
    if config.data.limit is not None:
        owned = owned[: config.data.limit]  # a resumed smoke run does not answer another N
    return owned


def pending_questions(config: PredictConfig, records: Iterable[QuestionRecord], done: set[str]) -> list[QuestionRecord]:
    """The owned questions that have no line yet (``done``: the ids not to ask again)."""
    return [r for r in owned_questions(config, records) if r.id not in done]


@dataclass
class PredictSummary:
    """What one ``predict`` did to its shard of the run."""

    directory: Path
    predictions: Path
    questions: int  # owned by this shard
    answered: int = 0  # now
    errors: int = 0  # error lines written now
    skipped: int = 0  # finished before
    errors_remaining: int = 0  # owned questions whose last line is an error, after this run
    # Seconds per stage of getting frame tokens (benchmarks/bench_pipeline.py): encode_video (decoding
    # the model waited for + encoding), and decode / preprocess (in workers when prefetching) / wait.
    stages: dict[str, float] = field(default_factory=lambda: {"encode_video": 0.0})

    def line(self) -> str:
        text = (
            f"{self.predictions}: {self.questions} questions; answered {self.answered}, errors {self.errors}, already done {self.skipped}"
        )
        if self.errors_remaining:
            text += f"; {self.errors_remaining} questions have error lines: fix the cause, then `infvideo predict ... --retry-errors`"
        return text


def run_predictions(
    config: PredictConfig,
    records: Iterable[QuestionRecord] | None = None,
    backend: Backend | None = None,
    progress: bool = True,
    retry_errors: bool = False,
) -> PredictSummary:
    """Answer every question this shard owns that the run does not hold yet (with ``retry_errors``,
    also those whose last line is an error). Settings and inputs are validated before anything is
    built or written; a second process on the same predictions file is refused."""
    validate_config(config, data=records is None)
    records = list(read_records(config) if records is None else records)
    directory = run_directory(config)
    directory.mkdir(parents=True, exist_ok=True)
    with PredictionStore(predictions_path(config), retry_errors=retry_errors) as store:
        write_text(directory / CONFIG, to_yaml(config))  # where the inputs are now (the name does not depend on it)
        write_text(directory / ENVIRONMENT, json.dumps(environment(), indent=2))
        owned = owned_questions(config, records)
        done = store.done | finished_elsewhere(config, retry_errors)
        todo = [r for r in owned if r.id not in done]
        summary = PredictSummary(directory, store.path, len(owned), skipped=len(owned) - len(todo))
        if todo:
            _answer_all(config, todo, store, summary, backend, progress)
        summary.errors_remaining = sum(r.id in store.errors for r in owned)
    return summary


def _answer_all(
    config: PredictConfig,
    todo: list[QuestionRecord],
    store: PredictionStore,
    summary: PredictSummary,
    backend: Backend | None,
    progress: bool,
) -> None:
    backend = backend or build_backend(config)
    cache = TokenCache(config.run.token_cache, backend.vision_signature()) if config.run.token_cache else None
    bar = tqdm(total=len(todo), desc=summary.directory.name[:40], disable=not progress)
    # Questions on the same video (MovieChat-1K global, Video-MME) share one encoding.
    groups = [list(group) for _, group in groupby(todo, key=_video_key)]
    times = StageTimes()
    videos = _prefetched_videos(config, backend, [group[0] for group in groups], cache, times)
    for group, video in zip(groups, videos):
        start = time.perf_counter()
        try:
            chunks = encode_video(config, backend, group[0], cache, video)
        except Exception as error:  # a bad video fails its questions, not the run
            log.warning("%s: %s", group[0].video_path, error)
            for record in group:
                store.append(_error_line(record, error))
            summary.errors += len(group)
            bar.update(len(group))
            continue
        encode_seconds = time.perf_counter() - start
        summary.stages["encode_video"] += encode_seconds
        for line in answer_questions(config, backend, group, chunks, encode_seconds):
            store.append(line)
            if is_error(line):
                summary.errors += 1
            else:
                summary.answered += 1
            bar.update(1)
    videos.close()  # stops the decoding workers
    summary.stages.update(times.as_dict())
    bar.close()


def answer_questions(
    config: PredictConfig, backend: Backend, records: list[QuestionRecord], chunks: list[torch.Tensor], encode_seconds: float
) -> Iterator[dict]:
    """The lines for the questions of one video, in order; the video's encoding time goes on the first.

    Each question runs the memory with its own generator (sticky draws are seeded per question, and
    VideoChat2's Q-former reads the question). With ``generation.batch_questions`` and greedy decoding
    the answers then come from one batched ``generate``, equal to one-by-one answers. Sampling answers
    one by one, as one batched draw cannot honour each question's seed; so does beam search, whose
    batched stopping and near-tied beam scores can pick another beam than alone."""
    settings = config.generation
    if not settings.batch_questions or settings.do_sample or settings.num_beams > 1 or len(records) == 1:
        for i, record in enumerate(records):
            yield answer_question(config, backend, record, chunks, encode_seconds if i == 0 else 0.0)
        return
    lines: dict[int, dict] = {}
    visuals: dict[int, tuple[torch.Tensor, float]] = {}  # question index -> (visual, memory seconds)
    for i, record in enumerate(records):
        start = time.perf_counter()
        try:
            visuals[i] = (backend.embed(chunks, record, question_generator(config.run.seed, record.id)), time.perf_counter() - start)
        except Exception as error:  # this question fails, its neighbours are still answered
            log.warning("%s: %s", record.id, error)
            lines[i] = _error_line(record, error)
    if visuals:
        start = time.perf_counter()
        try:
            answers = backend.answer_many([v for v, _ in visuals.values()], [records[i] for i in visuals], settings, None)
        except Exception as error:
            # Ask each alone so that only the question at fault gets an error line (its memory runs
            # again, with the same generator, so the answers are the same).
            log.warning("%s: batched answer failed (%s); answering one by one", records[0].video_path, error)
            for i in visuals:
                lines[i] = answer_question(config, backend, records[i], chunks, encode_seconds if i == 0 else 0.0)
        else:
            # One generate for all: each question is timed with an even share of it.
            share = (time.perf_counter() - start) / len(visuals)
            for (i, (_, memory_seconds)), answer in zip(visuals.items(), answers, strict=True):
                timings = {"encode": encode_seconds if i == 0 else 0.0, "memory": memory_seconds, "generate": share}
                lines[i] = _answer_line(config, records[i], answer, timings)
    yield from (lines[i] for i in range(len(records)))


def answer_question(
    config: PredictConfig, backend: Backend, record: QuestionRecord, chunks: list[torch.Tensor], encode_seconds: float
) -> dict:
    seed = question_seed(config.run.seed, record.id)
    try:
        start = time.perf_counter()
        visual = backend.embed(chunks, record, question_generator(config.run.seed, record.id))
        embedded = time.perf_counter()
        answer = backend.answer(visual, record, config.generation, seed)
        done = time.perf_counter()
    except Exception as error:
        log.warning("%s: %s", record.id, error)
        return _error_line(record, error)
    return _answer_line(config, record, answer, {"encode": encode_seconds, "memory": embedded - start, "generate": done - embedded})


def _answer_line(config: PredictConfig, record: QuestionRecord, answer: Answer, timings: dict[str, float]) -> dict:
    return {
        "id": record.id,
        "video_id": record.video_id,
        "question": record.question,
        "prediction": answer.prediction,
        "parsed": answer.parsed,
        "answer": record.answer_letter,
        "seed": question_seed(config.run.seed, record.id),  # what sampling was (or would be) seeded with
        "timings": {name: round(seconds, 4) for name, seconds in timings.items()},
    }


def extract_tokens(config: PredictConfig, records: Iterable[QuestionRecord] | None = None, backend: Backend | None = None) -> dict:
    """``infvideo extract``: fill the token cache for every video of the benchmark (no answering)."""
    if not config.run.token_cache:
        raise UserError("extract needs run.token_cache=FOLDER (where the frame tokens go)")
    validate_config(config, data=records is None)
    records = list(read_records(config) if records is None else records)
    backend = backend or build_backend(config)
    cache = TokenCache(config.run.token_cache, backend.vision_signature())
    by_video: dict[tuple[str, int | None], QuestionRecord] = {}
    for record in records:
        by_video.setdefault(_video_key(record), record)
    firsts = list(by_video.values())
    failures = {}
    # decoded ahead of the model as in predict (sampling.decode_workers); a bad video fails alone
    videos = _prefetched_videos(config, backend, firsts, cache, StageTimes())
    try:
        for record, video in zip(tqdm(firsts, desc="extract"), videos):
            try:
                encode_video(config, backend, record, cache, video)
            except Exception as error:
                failures[record.video_path] = f"{type(error).__name__}: {error}"
    finally:
        videos.close()  # stops the decoding workers
    return {"videos": len(firsts), "cached_before": cache.hits, "encoded": cache.misses, "failures": failures}


def _video_key(record: QuestionRecord) -> tuple[str, int | None]:
    """Questions with the same key share one encoding (MovieChat-1K global, Video-MME): the video,
    and in breakpoint mode the frame it stops at."""
    return record.video_path, record.time if record.mode == "breakpoint" else None
