"""``--model_args`` reach the model: memory settings change the visual embedding the answer is generated
from (observed through the adapter), the same settings give the same one, and the token cache is keyed and
reused as ``infvideo predict`` does."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY_ARGS
from lmms_eval.api.instance import Instance
from lmms_eval.models import get_model
from lmms_eval.tasks.videomme.utils import videomme_doc_to_text, videomme_doc_to_visual

from infvideo.errors import UserError
from infvideo.lmms_eval_models.local_task import question_docs
from infvideo.lmms_eval_models.settings import task_generation
from infvideo.models.base import GenerationSettings

TASK, SPLIT = "videomme_local", "test"


def _model(name: str, extra: str):
    lm = get_model(name).create_from_arg_string(f"{TINY_ARGS},{extra}", {"batch_size": 1, "device": None})
    lm.task_dict = {TASK: {SPLIT: question_docs()}}
    return lm


def _requests() -> list[Instance]:
    docs = question_docs()
    return [
        Instance(
            "generate_until",
            (videomme_doc_to_text(doc, {}), {"max_new_tokens": 4}, videomme_doc_to_visual, index, TASK, SPLIT),
            idx=0,
            metadata={"task": TASK, "doc_id": index, "repeats": 1},
        )
        for index, doc in enumerate(docs)
    ]


@pytest.mark.parametrize("name", ["infvideo_llama", "infvideo_chat2"])
def test_no_ltm_and_sticky_give_different_visual_embeddings(name, local_task_folder):
    no_ltm = _model(name, "config=memory/no_ltm")
    sticky = _model(name, "config=memory/sticky,alpha=0.5,tau=0.5")
    assert (no_ltm.config.model.alpha, sticky.config.model.alpha, sticky.config.memory.sticky) == (1.0, 0.5, True)
    assert sticky.config.memory.tau == 0.5 and sticky.config.memory.num_basis == 16
    requests = _requests()
    first, second = no_ltm.visual_embeddings(requests), sticky.visual_embeddings(requests)
    again = _model(name, "config=memory/sticky,alpha=0.5,tau=0.5").visual_embeddings(requests)
    for a, b, c in zip(first, second, again, strict=True):
        assert a.shape == b.shape
        assert not torch.allclose(a, b, atol=1e-4)  # the long-term memory changed what the LLM sees
        assert torch.equal(b, c)  # sticky draws are seeded per (run seed, request), as in infvideo predict


def test_token_cache_is_filled_then_reused(local_task_folder, tmp_path):
    cache = tmp_path / "tokens"
    first = _model("infvideo_llama", f"token_cache={cache}")
    answers = first.generate_until(_requests())
    assert (first.cache.hits, first.cache.misses) == (0, 2)  # one encoding per video, not per request
    assert len(list(first.cache.folder.glob("*.safetensors"))) == 2
    second = _model("infvideo_llama", f"run.token_cache={cache}")
    assert second.generate_until(_requests()) == answers
    assert second.cache.misses == 0 and second.cache.hits == 2


def test_unknown_model_arg_is_one_clear_error(local_task_folder):
    with pytest.raises(UserError, match="unknown model_args tua"):
        _model("infvideo_llama", "tua=0.5")
    with pytest.raises(UserError, match="memory.kind"):
        _model("infvideo_llama", "memory=lstm")


def test_loglikelihood_names_the_model_and_the_alternative(local_task_folder):
    lm = _model("infvideo_chat2", "alpha=0.5")
    with pytest.raises(NotImplementedError, match="infvideo_chat2: loglikelihood .* generate_until"):
        lm.loglikelihood([])


def test_task_generation_kwargs():
    base = GenerationSettings(max_new_tokens=300, do_sample=False)
    greedy = task_generation(base, {"max_new_tokens": 16, "temperature": 0, "top_p": 1.0, "until": ["\n\n"], "image_aspect_ratio": "pad"})
    assert (greedy.settings.max_new_tokens, greedy.settings.do_sample, greedy.greedy) == (16, False, True)
    assert greedy.cut("B. green\n\nbecause") == "B. green"
    sampled = task_generation(base, {"temperature": 0.7, "until": "###"})
    assert (sampled.settings.do_sample, sampled.settings.temperature, sampled.until, sampled.greedy) == (True, 0.7, ("###",), False)
    assert task_generation(base, {"temperature": 0.7, "do_sample": False}).settings.do_sample is False


def test_multi_round_asks_until_the_task_stops(local_task_folder):
    lm = _model("infvideo_llama", "alpha=0.5")
    asked = []

    def doc_to_text(doc, previous_output, round_idx, previous_round_info):
        asked.append((round_idx, list(previous_output), previous_round_info))
        visual = videomme_doc_to_visual(doc)
        return visual, f"round {round_idx}: and then?", round_idx == 2, previous_output, {"round": round_idx}

    doc = question_docs()[0]
    request = Instance(
        "generate_until_multi_round",
        (videomme_doc_to_text(doc, {}), {"max_new_tokens": 3}, videomme_doc_to_visual, doc_to_text, 0, TASK, SPLIT),
        idx=0,
        metadata={"task": TASK, "doc_id": 0, "repeats": 1},
    )
    [rounds] = lm.generate_until_multi_round([request])
    assert len(rounds) == 2 and all(isinstance(text, str) for text in rounds)
    assert [(index, len(previous), info) for index, previous, info in asked] == [(1, 1, None), (2, 2, {"round": 1})]
