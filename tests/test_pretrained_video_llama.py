"""Config-named original files -> a working InfVideoLLaMA (tiny synthetic files in the original format)."""

import dataclasses

import pytest
import torch
from helpers.original_checkpoints import (
    TinySizes,
    blip2_pretrained_original,
    eva_vit_g_original,
    video_llama_finetune_original,
    wrap_like_lavis,
)
from transformers import LlamaConfig, LlamaForCausalLM

from infvideo.models.base import GenerationSettings
from infvideo.models.tokenizers import tiny_llama_tokenizer
from infvideo.models.video_llama import InfVideoLLaMAConfig, load_video_llama
from infvideo.models.video_llama.prompts import egoschema_prompt


@pytest.fixture
def original_files(tmp_path):
    tokenizer = tiny_llama_tokenizer()
    config = InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer))
    sizes = TinySizes.of(config)
    originals = {
        "vision": eva_vit_g_original(sizes),
        "blip2": blip2_pretrained_original(sizes),
        "finetune": video_llama_finetune_original(sizes),
    }
    paths = {}
    for role, state in originals.items():
        paths[role] = str(tmp_path / f"{role}.pth")
        torch.save(wrap_like_lavis(state), paths[role])
    torch.manual_seed(0)
    llm = LlamaForCausalLM(LlamaConfig(**config.llm))
    llm.save_pretrained(tmp_path / "llm")
    tokenizer.save_pretrained(tmp_path / "llm")
    paths["llm"] = str(tmp_path / "llm")
    return dataclasses.replace(config, checkpoints=paths), originals, llm


def test_config_named_files_build_a_working_model(original_files):
    config, originals, llm = original_files
    model = load_video_llama(config, dtype=torch.float32)
    assert torch.equal(model.vision_model.embeddings.class_embedding, originals["vision"]["cls_token"])
    assert torch.equal(model.video_query_tokens, originals["finetune"]["video_query_tokens"])
    assert torch.equal(model.llama_proj.weight, originals["finetune"]["llama_proj.weight"])
    assert all(torch.equal(a, b) for a, b in zip(model.language_model.parameters(), llm.parameters()))
    frames = torch.randn(8, 3, 28, 28)
    visual = model.embed_video([model.encode_chunk(chunk) for chunk in frames.split(4)])
    assert isinstance(model.answer(visual, egoschema_prompt("what?"), GenerationSettings(max_new_tokens=5)), str)


def test_a_missing_path_names_the_file_and_where_it_is_published(original_files):
    config, _, _ = original_files
    paths = dict(config.checkpoints)
    del paths["finetune"]
    with pytest.raises(ValueError, match=r"finetune-vicuna7b-v2\.pth.*DAMO-NLP-SG"):
        load_video_llama(dataclasses.replace(config, checkpoints=paths), dtype=torch.float32)


def test_files_written_from_a_model_load_back_into_that_model(tmp_path):
    """Every Video-LLaMA family file, written from a reference model in the original layout, makes a
    differently initialised model reproduce the reference's outputs exactly."""
    from helpers.video_llama_export import video_llama_originals, zero_key_biases

    from infvideo.models.video_llama import InfVideoLLaMA
    from infvideo.models.video_llama.convert import load_video_llama_weights

    tokenizer = tiny_llama_tokenizer()
    config = InfVideoLLaMAConfig.tiny(vocab_size=len(tokenizer))
    torch.manual_seed(1)
    reference = InfVideoLLaMA(config, tokenizer)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    zero_key_biases(reference)
    paths = {}
    for role, state in video_llama_originals(reference).items():
        paths[role] = tmp_path / f"{role}.pth"
        torch.save({"model": state}, paths[role])
    torch.manual_seed(2)
    model = InfVideoLLaMA(config, tokenizer, language_model=reference.language_model)
    load_video_llama_weights(model, paths["vision"], paths["blip2"], paths["finetune"])
    frames = torch.randn(8, 3, 28, 28).split(4)
    ours = [model.encode_chunk(f) for f in frames]
    theirs = [reference.encode_chunk(f) for f in frames]
    assert all(torch.equal(a, b) for a, b in zip(ours, theirs))
    assert torch.equal(model.embed_video(ours), reference.embed_video(theirs))
