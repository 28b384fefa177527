"""The lmms-eval models: lmms-eval's requests answered by one ``Backend`` (eval/backends.py), which
builds the family from the run config through the model registry.

Per request: the video from the task's ``doc_to_visual``, the task's prompt text placed as the family
places its instruction (``prompts.py``), the task's ``generation_kwargs`` (``settings.task_generation``).
Requests on the same video share one encoding (``runner.encode_video``: decoded in chunks, frame tokens
from the token cache when ``run.token_cache`` is set, keyed as ``infvideo predict`` keys them); each
request then runs the memory with its own generator, seeded by (run seed, task/split/doc id) as a question
of ``infvideo predict`` is. Greedy requests of one video with the same settings are answered in one batch.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count, groupby
from pathlib import Path

import torch
from accelerate import Accelerator
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm import tqdm

from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.eval.backends import Backend
from infvideo.eval.runner import encode_video
from infvideo.eval.seeding import question_generator, question_seed
from infvideo.eval.token_cache import TokenCache

from .prompts import TASK_PROMPTS
from .settings import TaskGeneration, config_from_model_args, task_generation

log = logging.getLogger(__name__)

# lmms-eval's generation tasks that a Q-former memory model can answer in lmms-eval's own format are
# listed in docs/lmms-eval.md; loglikelihood (``output_type: multiple_choice``) is not one of them.
GENERATION_ALTERNATIVE = (
    "run the task's generate_until version instead (e.g. videomme, mlvu_dev, longvideobench_val_v, egoschema), "
    "whose free-text answers lmms-eval parses itself"
)


@dataclass
class _Request:
    index: int  # in lmms-eval's list
    record: QuestionRecord  # the video and the id its generator is seeded from
    prompt: object  # the family's prompt
    generation: TaskGeneration


class InfVideoLMM(lmms):
    """One family of ours behind lmms-eval's ``lmms`` interface; the subclasses name the family."""

    lmms_eval_name = ""

    def __init__(self, **model_args) -> None:
        super().__init__()
        config = config_from_model_args(self.lmms_eval_name, model_args)
        # lmms-eval shards the requests over the processes ``accelerate launch`` starts and gathers
        # through ``self.accelerator``; each process puts its model on its own GPU (CPU processes share the CPU).
        self.accelerator = Accelerator()
        if self.accelerator.num_processes > 1 and torch.cuda.is_available() and config.model.device in ("auto", "cuda"):
            config.model.device = f"cuda:{self.accelerator.local_process_index}"
        self._rank = self.accelerator.process_index
        self._world_size = self.accelerator.num_processes
        self.config = config
        self.backend = Backend(config)
        self.task_prompt = TASK_PROMPTS[self.backend.name]
        self.cache = TokenCache(config.run.token_cache, self.backend.vision_signature()) if config.run.token_cache else None

    @property
    def device(self) -> torch.device:
        return self.backend.device

    @property
    def batch_size(self) -> int:
        return 1  # lmms-eval's batching is not used: a video's requests are batched here

    # -- lmms-eval's interface ------------------------------------------------------------------
    def generate_until(self, requests: list[Instance]) -> list[str]:
        answers: list[str] = [""] * len(requests)
        pending = [self._request(index, request.args) for index, request in enumerate(requests)]
        bar = tqdm(total=len(pending), disable=self.rank != 0, desc=self.lmms_eval_name)
        for _, group in groupby(sorted(pending, key=lambda r: (_video_key(r), r.index)), key=_video_key):
            group = list(group)
            for request, text in zip(group, self._answer_video(group), strict=True):
                answers[request.index] = text
            bar.update(len(group))
        bar.close()
        return answers

    def generate_until_multi_round(self, requests: list[Instance]) -> list[list[str]]:
        """Each round through ``generate_until``'s path: round 0 asks the request's context; later rounds
        ask what the task's ``doc_to_text`` returns for the previous answers, until it says stop."""
        results = []
        for index, request in enumerate(requests):
            context, gen_kwargs, doc_to_visual, doc_to_text, doc_id, task, split = request.args
            doc = self.task_dict[task][split][doc_id]
            visual, outputs, info = doc_to_visual(doc), [], None
            for round_index in count():  # the task's doc_to_text says when to stop
                if round_index:
                    visual, context, terminal, outputs, info = doc_to_text(
                        doc, previous_output=outputs, round_idx=round_index, previous_round_info=info
                    )
                    outputs = list(outputs)
                    if terminal:
                        break
                record = self._record(visual, context, task, split, f"{doc_id}#{round_index}")
                generation = task_generation(self.config.generation, gen_kwargs)
                outputs.append(self._answer_video([_Request(index, record, self.task_prompt(context), generation)])[0])
            results.append(outputs)
        return results

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError(
            f"{self.lmms_eval_name}: loglikelihood (output_type multiple_choice) is not implemented, the Q-former "
            f"memory models here do not score option continuations; {GENERATION_ALTERNATIVE}"
        )

    # -- ours -----------------------------------------------------------------------------------
    def visual_embeddings(self, requests: list[Instance]) -> list[torch.Tensor]:
        """The visual input each request's answer is generated from (what the memory settings change)."""
        pending = [self._request(index, request.args) for index, request in enumerate(requests)]
        return [self._embed(self._chunks(r.record), r) for r in pending]

    def _request(self, index: int, args: tuple) -> _Request:
        context, gen_kwargs, doc_to_visual, doc_id, task, split = args
        record = self._record(doc_to_visual(self.task_dict[task][split][doc_id]), context, task, split, doc_id)
        return _Request(index, record, self.task_prompt(context), task_generation(self.config.generation, gen_kwargs))

    def _record(self, visual, context: str, task: str, split: str, doc_id) -> QuestionRecord:
        """The request as the question record encode_video and the family adapters take: one video file,
        or MovieChat-1K's breakpoint ``{"video_path", "timestep"}`` (the video up to that frame)."""
        videos = list(_flatten(visual))
        breakpoint_ = videos[0] if len(videos) == 1 and isinstance(videos[0], dict) else None
        if breakpoint_ is not None and {"video_path", "timestep"} <= breakpoint_.keys():
            path, mode, time = str(breakpoint_["video_path"]), "breakpoint", int(breakpoint_["timestep"])
        elif len(videos) == 1 and isinstance(videos[0], str):
            path, mode, time = videos[0], None, None
        else:
            kinds = ", ".join(type(v).__name__ for v in videos) or "nothing"
            raise UserError(f"{self.lmms_eval_name} answers from one video file per request; {task} doc {doc_id} gave {kinds}")
        return QuestionRecord(
            id=f"{task}/{split}/{doc_id}", dataset=task, video_id=Path(path).stem, video_path=path, question=context, mode=mode, time=time
        )

    def _chunks(self, record: QuestionRecord) -> list[torch.Tensor]:
        return encode_video(self.config, self.backend, record, self.cache)

    def _embed(self, chunks: list[torch.Tensor], request: _Request) -> torch.Tensor:
        generator = question_generator(self.config.run.seed, request.record.id)
        return self.backend.family.embed(self.backend.model, chunks, request.prompt, generator)

    def _answer_video(self, group: list[_Request]) -> list[str]:
        """The answers to the requests of one video: one encoding, a memory pass per request, greedy
        requests with equal settings in one ``generate`` (equal to one by one, eval/runner.py)."""
        try:
            chunks = self._chunks(group[0].record)
        except Exception as error:  # a broken video fails its requests (answered ""), not the evaluation
            log.warning("%s: %s: its %d requests are answered with an empty string", group[0].record.video_path, error, len(group))
            return [""] * len(group)
        visuals = [self._embed(chunks, request) for request in group]
        answers: list[str] = [""] * len(group)
        family, model = self.backend.family, self.backend.model
        batches = _batches(group) if self.config.generation.batch_questions else [[i] for i in range(len(group))]
        for batch in batches:
            first = group[batch[0]]
            seed = None if len(batch) > 1 else question_seed(self.config.run.seed, first.record.id)
            replies = family.answer(
                model,
                [visuals[i] for i in batch],
                [group[i].prompt for i in batch],
                [group[i].record for i in batch],
                first.generation.settings,
                seed,
            )
            for i, (text, _) in zip(batch, replies, strict=True):
                answers[i] = group[i].generation.cut(text)
        return answers


def _video_key(request: _Request) -> tuple[str, int]:
    """Requests with equal keys share one encoding: the video, and for MovieChat-1K's breakpoint requests
    the frame they read up to."""
    return request.record.video_path, -1 if request.record.time is None else request.record.time


def _batches(group: list[_Request]) -> list[list[int]]:
    """Positions in ``group`` answered together: greedy requests with the same settings; others alone."""
    batches: dict[object, list[int]] = {}
    for i, request in enumerate(group):
        key = request.generation.settings if request.generation.greedy else ("alone", i)
        batches.setdefault(repr(key), []).append(i)
    return list(batches.values())


def _flatten(visual) -> Iterable:
    for item in visual if isinstance(visual, (list, tuple)) else [visual]:
        yield from _flatten(item) if isinstance(item, (list, tuple)) else [item]


class InfVideoLLaMALMM(InfVideoLMM):
    """∞-Video-LLaMA (lmms-eval model ``infvideo_llama``)."""

    lmms_eval_name = "infvideo_llama"


class InfVideoChat2LMM(InfVideoLMM):
    """∞-VideoChat2 (lmms-eval model ``infvideo_chat2``)."""

    lmms_eval_name = "infvideo_chat2"
