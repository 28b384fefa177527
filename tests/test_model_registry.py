"""The model families as the evaluation layer meets them (infvideo.models.registry): switches a family
does not have are refused, prompts are looked up by task, the conversion cache has a door in the run
config, and one generic Backend reconfigures any family's memory."""

import pytest
import torch

from infvideo.cli import main
from infvideo.data.record import QuestionRecord
from infvideo.demo.synthetic_data import DemoSettings, write_demo_data
from infvideo.errors import EXIT_USER_ERROR, UserError
from infvideo.eval.backends import build_backend
from infvideo.eval.config import ModelSettings, config_hash, load_config
from infvideo.memory import MemoryConfig
from infvideo.models import registry
from infvideo.models.memory_attention import memory_layers, set_memory
from infvideo.models.video_llama import family as video_llama_family
from infvideo.models.videochat2.prompts import parse_option_letter

SMALL = DemoSettings(seconds=6.0, fps=4, size=32, frames_per_chunk=2, num_chunks=2)


def record(dataset: str, options=("a cat", "a dog", "a bird")) -> QuestionRecord:
    return QuestionRecord(id="q1", dataset=dataset, video_id="v1", video_path="v1.mp4", question="what runs?", options=tuple(options))


# -- switches a family does not have ---------------------------------------------------------------


@pytest.mark.parametrize("switch", ["model.reference_compat=true", "model.add_frame_pos=false", "model.vision_batch_size=4"])
def test_predict_refuses_a_switch_the_family_does_not_have(tmp_path, capsys, switch):
    """model.reference_compat=true with VideoChat2 used to be silently ignored."""
    demo = write_demo_data(tmp_path / "data", SMALL)
    name = switch.split("=")[0]
    code = main(
        [
            "predict",
            "--config",
            "tiny/nextqa",
            "model.name=videochat2",
            switch,
            f"data.annotations={demo.nextqa}",
            f"data.video_folder={demo.folder}",
            f"run.output_dir={tmp_path / 'runs'}",
            "-q",
        ]
    )
    assert code == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err.startswith("infvideo: error: ") and f"{name}: videochat2 has no such switch (only video_llama)" in err
    assert not (tmp_path / "runs").exists()


def test_the_registry_refuses_it_when_building_too():
    settings = ModelSettings(name="videochat2", reference_compat=True, device="cpu")
    with pytest.raises(UserError, match=r"^model\.reference_compat: videochat2 has no such switch \(only video_llama\)$"):
        registry.build_model(settings, MemoryConfig())
    assert registry.switch_problems(ModelSettings(name="video_llama", reference_compat=True, add_frame_pos=False)) == []
    assert registry.switch_problems(ModelSettings(name="videochat2")) == []  # defaults are not "set"


# -- prompts by task ---------------------------------------------------------------------------------


def test_a_task_without_a_prompt_is_a_user_error_naming_the_ones_there_are():
    for name in registry.FAMILIES:
        with pytest.raises(UserError, match=rf"^{name} has no prompt for task 'x'; it has: nextqa, nextoe, egoschema"):
            registry.family(name).prompt(record("x"))


def test_videochat2_answers_nextoe_with_its_nextqa_prompt_and_video_llama_shows_options_only_for_video_mme():
    chat2 = registry.family("videochat2")
    assert chat2.prompt(record("nextoe", options=())) == chat2.prompt(record("nextqa", options=()))
    llama = registry.family("video_llama")
    assert "a dog" not in llama.prompt(record("nextqa")) and "B. a dog" in llama.prompt(record("video_mme", ["A. a cat", "B. a dog"]))


def test_letters_default_to_every_option_letter_a_record_can_have():
    assert parse_option_letter("(F) nothing") == "F"  # the shared OPTION_LETTERS, not five letters
    assert parse_option_letter("(F) nothing", "ABCDE") is None


# -- the conversion cache's door ---------------------------------------------------------------------


def test_checkpoint_cache_reaches_the_loader_and_leaves_the_run_hash_alone(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr(
        video_llama_family, "load_video_llama", lambda config, dtype, device, cache_dir: seen.setdefault("cache", cache_dir)
    )
    settings = ModelSettings(preset="full", device="cpu", checkpoint_cache=str(tmp_path / "cache"))
    registry.build_model(settings, MemoryConfig())
    assert seen["cache"] == tmp_path / "cache"
    assert config_hash(load_config(overrides=["model.checkpoint_cache=/elsewhere"])) == config_hash(load_config())


# -- one Backend, any family: the memory is reconfigured through the model ---------------------------


@pytest.mark.parametrize("name", ["video_llama", "videochat2"])
def test_reconfigure_gives_every_layer_the_new_memory_and_keeps_the_config_truthful(name):
    backend = build_backend(load_config(overrides=[f"model.name={name}", "model.device=cpu"]))
    other = load_config(overrides=[f"model.name={name}", "model.device=cpu", "model.alpha=0.5", "memory.kind=moviechat"])
    assert backend.reusable_for(other)
    backend.reconfigure(other)
    layers = list(memory_layers(backend.model))
    assert layers and all(layer.alpha == 0.5 and type(layer.memory).__name__ == "MovieChatMemory" for layer in layers)
    assert backend.model.config.alpha == 0.5 and backend.model.config.memory == other.memory


def test_reconfigure_keeps_video_llamas_reference_numerics():
    """model.reference_compat puts the reference's memory numerics in the model; a sweep's next run used to lose them."""
    compat = ["model.device=cpu", "model.reference_compat=true"]
    backend = build_backend(load_config(overrides=compat))
    assert all(layer.memory.reference_compat for layer in memory_layers(backend.model))
    backend.reconfigure(load_config(overrides=[*compat, "memory.tau=0.5"]))
    assert all(layer.memory.reference_compat and layer.memory.tau == 0.5 for layer in memory_layers(backend.model))


def test_set_memory_with_no_memory_turns_every_layer_off():
    backend = build_backend(load_config(overrides=["model.device=cpu"]))
    set_memory(backend.model, MemoryConfig(kind="none"), 1.0)
    assert all(layer.memory is None and not layer.uses_memory for layer in memory_layers(backend.model))
    assert backend.model.config.memory.kind == "none" and backend.model.config.alpha == 1.0


def test_a_task_the_family_cannot_prompt_fails_before_the_memory_runs():
    backend = build_backend(load_config(overrides=["model.name=videochat2", "model.device=cpu"]))
    chunks = [backend.encode_chunk(torch.rand(2, 32, 32, 3).mul(255).byte().numpy())]
    with pytest.raises(UserError, match="videochat2 has no prompt for task 'x'"):
        backend.embed(chunks, record("x"), torch.Generator().manual_seed(0))
