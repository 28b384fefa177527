"""The questions of one video in one batched ``generate`` (``generation.batch_questions``): left-padded
prompts of different lengths, each row stopping on its own, give exactly the one-by-one greedy answers;
sampling and beam search stay one by one (each question's seed); errors stay per question."""

import dataclasses

import pytest
import test_video_llama as llama
import test_videochat2 as chat2
import torch
from helpers.make_videos import VideoSpec, write_coded_video

from infvideo.data.record import QuestionRecord
from infvideo.eval.backends import build_backend
from infvideo.eval.config import load_config
from infvideo.eval.predictions import read_records
from infvideo.eval.runner import run_predictions
from infvideo.eval.seeding import question_seed
from infvideo.models.base import GenerationSettings
from infvideo.models.batching import left_pad
from infvideo.models.video_llama import prompts as llama_prompts
from infvideo.models.videochat2 import prompts as chat2_prompts


def test_left_pad_puts_padding_first_and_masks_it():
    rows = [torch.ones(1, 2, 3), 2 * torch.ones(1, 4, 3)]
    embeds, mask = left_pad(rows)
    assert embeds.shape == (2, 4, 3) and mask.tolist() == [[0, 0, 1, 1], [1, 1, 1, 1]]
    assert torch.equal(embeds[0, 2:], rows[0][0]) and not embeds[0, :2].any() and torch.equal(embeds[1], rows[1][0])


# -- model level: batched == one by one ------------------------------------------------------------
def record_generate(monkeypatch, language_model) -> list[torch.Tensor]:
    """Every ``generate`` output of ``language_model`` from now on."""
    outputs, original = [], language_model.generate

    def spy(**kwargs):
        outputs.append(original(**kwargs))
        return outputs[-1]

    monkeypatch.setattr(language_model, "generate", spy)
    return outputs


def make_stop_early(language_model, answers: list[torch.Tensor], stop_id: int) -> None:
    """Swap the LM-head rows of ``stop_id`` and of an early token of one greedy answer that another answer
    lacks: where greedy decoding picked that token it now picks the stop, so the rows stop at different
    steps (random tiny models would otherwise run every row to max_new_tokens)."""
    rows = [answer[0].tolist() for answer in answers]
    token = next(
        row[p]
        for p in range(1, len(rows[0]))
        for row in rows
        if p < len(row) and row[p] != stop_id and any(row[p] not in other for other in rows)
    )
    with torch.no_grad():
        head = language_model.get_output_embeddings().weight
        head[[token, stop_id]] = head[[stop_id, token]].clone()


def assert_batched_equals_one_by_one(monkeypatch, model, visuals, prompts, settings, stop_id):
    outputs = record_generate(monkeypatch, model.language_model)
    for visual, prompt in zip(visuals, prompts):
        model.answer(visual, prompt, settings)
    make_stop_early(model.language_model, outputs, stop_id)
    outputs.clear()
    one_by_one = [model.answer(visual, prompt, settings) for visual, prompt in zip(visuals, prompts)]
    lengths = [output.shape[1] for output in outputs]
    assert min(lengths) < settings.max_new_tokens and len(set(lengths)) > 1  # rows stop at different steps
    batched = model.answer_many(visuals, prompts, settings)
    assert len(outputs) == len(prompts) + 1 and outputs[-1].shape[0] == len(prompts)  # one generate for all
    assert batched == one_by_one
    return batched


@pytest.mark.parametrize("stop", ["###", "eos"])
def test_video_llama_batched_greedy_answers_equal_one_by_one(monkeypatch, stop):
    model = llama.make_model()
    chunks = [model.encode_chunk(frames) for frames in llama.video(0)]
    # Different visuals (per-question generators) and prompts of different lengths, one over the context.
    prompts = [
        llama_prompts.nextqa_prompt("why?"),
        llama_prompts.video_mme_prompt("what colour is the car in the second half?", ["A. red", "B. blue", "C. green", "D. black"]),
        llama_prompts.moviechat_prompt("how many people walk past the door " * 4),
    ]
    visuals = [model.embed_video(chunks, torch.Generator().manual_seed(i)) for i in range(len(prompts))]
    settings = GenerationSettings(max_new_tokens=16)
    lengths = sorted(model.prompt_embeddings(visuals[0], prompt).shape[1] for prompt in prompts)
    # The longest prompt alone is cut to the context window; the others fit and are padded.
    model.config = dataclasses.replace(model.config, max_context=settings.max_new_tokens + (lengths[1] + lengths[2]) // 2)
    seen = []
    original = model.language_model.generate
    monkeypatch.setattr(model.language_model, "generate", lambda **kw: seen.append(kw["inputs_embeds"].shape[1]) or original(**kw))
    stop_id = model.tokenizer.convert_tokens_to_ids("###") if stop == "###" else model.tokenizer.eos_token_id
    assert_batched_equals_one_by_one(monkeypatch, model, visuals, prompts, settings, stop_id)
    assert seen[-1] == model.config.max_context - settings.max_new_tokens  # the truncated row sets the width


def test_videochat2_batched_greedy_answers_equal_one_by_one(monkeypatch):
    model = chat2.make_model()
    chunks = [model.encode_chunk(frames) for frames in chat2.video(0)]
    prompts = [
        chat2_prompts.moviechat_prompt("why?"),
        chat2_prompts.nextqa_prompt("what does the man do after he opens the door?", ["sits", "runs", "waves", "eats", "sleeps"]),
        chat2_prompts.video_mme_prompt("what colour is the car?", ["A. red", "B. blue", "C. green", "D. black"]),
    ]
    # VideoChat2's Q-former reads each question's instruction: a different visual per question.
    visuals = [model.embed_video(chunks, torch.Generator().manual_seed(i), instruction=p.instruction) for i, p in enumerate(prompts)]
    settings = GenerationSettings(max_new_tokens=16)
    texts = [prompt.text for prompt in prompts]
    assert len({model.prompt_embeddings(visuals[0], text).shape[1] for text in texts}) == 3
    assert_batched_equals_one_by_one(monkeypatch, model, visuals, texts, settings, model.tokenizers.llm.eos_token_id)


def test_videochat2_batch_of_videos_with_one_prompt_is_each_alone():
    model = chat2.make_model()
    visual = torch.cat([model.embed_video([model.encode_chunk(frames) for frames in chat2.video(seed)]) for seed in (1, 2)])
    prompt = chat2_prompts.moviechat_prompt("why?").text
    settings = GenerationSettings(max_new_tokens=8)
    assert model.answer_batch(visual, prompt, settings) == [model.answer(v, prompt, settings) for v in visual.split(1)]


# -- runner: lines, switch, errors -----------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_coded_video(tmp_path_factory.mktemp("videos") / "v.mp4", VideoSpec("v", 24))


def questions(path) -> list[QuestionRecord]:
    options = ("A. red", "B. blue", "C. green", "D. black")
    asked = ["why?", "what colour is the car that drives past in the second half of the video?", "which colour?"]
    return [QuestionRecord(f"v_{i}", "video_mme", "v", str(path), question, options, i) for i, question in enumerate(asked)]


def config_for(tmp_path, model, name, **extra):
    overrides = [
        f"model.name={model}",
        f"run.output_dir={tmp_path / 'runs'}",
        f"run.name={name}",
        "sampling.frames_per_chunk=4",
        "sampling.num_chunks=2",
        "memory.num_basis=16",
        "memory.num_samples=32",
        "memory.sticky=true",
        "model.alpha=0.5",
        "generation.max_new_tokens=8",
        *[f"{key}={value}" for key, value in extra.items()],
    ]
    return load_config(overrides=overrides)


def run_lines(config, records, backend) -> list[dict]:
    directory = run_predictions(config, records, backend=backend, progress=False).directory
    return list(read_records(directory / "predictions.jsonl"))


def without_timings(lines):
    return [{k: v for k, v in line.items() if k != "timings"} for line in lines]


def count_batches(monkeypatch, backend) -> list[list[str]]:
    """The question ids of every ``answer_many`` call of ``backend`` from now on."""
    calls, original = [], backend.answer_many

    def spy(visuals, records, settings, seed):
        calls.append([record.id for record in records])
        return original(visuals, records, settings, seed)

    monkeypatch.setattr(backend, "answer_many", spy)
    return calls


@pytest.mark.parametrize("model", ["video_llama", "videochat2"])
def test_runner_batched_lines_equal_one_by_one_lines(tmp_path, monkeypatch, clip, model):
    records = questions(clip)
    backend = build_backend(config_for(tmp_path, model, "x"))
    calls = count_batches(monkeypatch, backend)
    sequential = run_lines(config_for(tmp_path, model, "one", **{"generation.batch_questions": "false"}), records, backend)
    assert calls == [["v_0"], ["v_1"], ["v_2"]]
    calls.clear()
    batched = run_lines(config_for(tmp_path, model, "batched"), records, backend)
    assert calls == [["v_0", "v_1", "v_2"]]  # on by default
    assert without_timings(batched) == without_timings(sequential)
    assert all(line["seed"] == question_seed(42, line["id"]) for line in batched)  # run.seed
    timings = [line["timings"] for line in batched]
    assert timings[0]["encode"] > 0 and timings[1]["encode"] == timings[2]["encode"] == 0  # one encoding per video
    assert len({t["generate"] for t in timings}) == 1 and all(t["memory"] > 0 for t in timings)  # an even share


def test_a_question_whose_memory_fails_gets_its_error_line_and_the_rest_are_batched(tmp_path, monkeypatch, clip):
    records = questions(clip)
    backend = build_backend(config_for(tmp_path, "video_llama", "x"))
    sequential = run_lines(config_for(tmp_path, "video_llama", "one", **{"generation.batch_questions": "false"}), records, backend)
    calls = count_batches(monkeypatch, backend)
    original = backend.embed

    def embed(chunks, record, generator):
        if record.id == "v_1":
            raise RuntimeError("memory broke")
        return original(chunks, record, generator)

    monkeypatch.setattr(backend, "embed", embed)
    lines = run_lines(config_for(tmp_path, "video_llama", "batched"), records, backend)
    assert calls == [["v_0", "v_2"]]
    assert [line["id"] for line in lines] == ["v_0", "v_1", "v_2"]
    assert lines[1]["prediction"] is None and "memory broke" in lines[1]["error"]
    assert without_timings([lines[0], lines[2]]) == without_timings([sequential[0], sequential[2]])


def test_a_failing_batch_is_answered_one_by_one(tmp_path, monkeypatch, clip):
    records = questions(clip)
    backend = build_backend(config_for(tmp_path, "videochat2", "x"))
    sequential = run_lines(config_for(tmp_path, "videochat2", "one", **{"generation.batch_questions": "false"}), records, backend)
    original = backend.answer_many

    def answer_many(visuals, records, settings, seed):
        if len(records) > 1:
            raise torch.cuda.OutOfMemoryError("no room for the batch")
        return original(visuals, records, settings, seed)

    monkeypatch.setattr(backend, "answer_many", answer_many)
    lines = run_lines(config_for(tmp_path, "videochat2", "batched"), records, backend)
    assert without_timings(lines) == without_timings(sequential)


def test_beam_search_answers_one_by_one(tmp_path, monkeypatch, clip):
    backend = build_backend(config_for(tmp_path, "videochat2", "x"))
    calls = count_batches(monkeypatch, backend)
    run_lines(config_for(tmp_path, "videochat2", "beams", **{"generation.num_beams": 2}), questions(clip), backend)
    assert calls == [["v_0"], ["v_1"], ["v_2"]]


def test_sampling_answers_one_by_one_with_each_question_seed(tmp_path, monkeypatch, clip):
    records = questions(clip)
    backend = build_backend(config_for(tmp_path, "video_llama", "x"))
    seeds = []
    original = backend.answer_many

    def answer_many(visuals, records, settings, seed):
        seeds.append(seed)
        return original(visuals, records, settings, seed)

    monkeypatch.setattr(backend, "answer_many", answer_many)
    config = config_for(tmp_path, "video_llama", "sampled", **{"generation.do_sample": "true"})
    assert config.generation.batch_questions
    lines = run_lines(config, records, backend)
    assert seeds == [question_seed(config.run.seed, record.id) for record in records]
    # The same answer as the question asked alone with its seed.
    alone = run_lines(config_for(tmp_path, "video_llama", "alone", **{"generation.do_sample": "true"}), records[2:], backend)
    assert lines[2]["prediction"] == alone[0]["prediction"]
