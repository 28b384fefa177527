"""Config-named original files -> a working InfVideoChat2 (tiny synthetic files in the original format)."""

import dataclasses

import pytest
import torch
from helpers.original_videochat2 import random_lora, save_like_videochat2_trainer, stage3_original, umt_qformer_original

from infvideo.models.tokenizers import tiny_bert_tokenizer, tiny_llama_tokenizer
from infvideo.models.videochat2 import InfVideoChat2, InfVideoChat2Config, VideoChat2Tokenizers, load_videochat2
from infvideo.models.videochat2.lora import merge_lora
from infvideo.models.videochat2.prompts import nextqa_prompt


@pytest.fixture
def source(tmp_path):
    tokenizers = VideoChat2Tokenizers(qformer=tiny_bert_tokenizer(), llm=tiny_llama_tokenizer())
    config = InfVideoChat2Config.tiny(llm_vocab_size=len(tokenizers.llm), qformer_vocab_size=len(tokenizers.qformer))
    torch.manual_seed(0)
    reference = InfVideoChat2(config, tokenizers)
    with torch.no_grad():
        for parameter in reference.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    lora = random_lora(reference.language_model, r=16, seed=1)
    torch.save(umt_qformer_original(reference, extra_blocks=1), tmp_path / "umt_l16_qformer.pth")
    save_like_videochat2_trainer(stage3_original(reference, lora), tmp_path / "stage3.pth")
    reference.language_model.save_pretrained(tmp_path / "mistral")
    tokenizers.llm.save_pretrained(tmp_path / "mistral")
    paths = {"umt_qformer": str(tmp_path / "umt_l16_qformer.pth"), "stage3": str(tmp_path / "stage3.pth"), "llm": str(tmp_path / "mistral")}
    merge_lora(lora, reference.language_model)  # what loading must produce
    return dataclasses.replace(config, checkpoints=paths), reference


def test_config_named_files_build_the_model_they_came_from(source):
    config, reference = source
    model = load_videochat2(config, dtype=torch.float32, qformer_tokenizer=tiny_bert_tokenizer())
    frames = torch.randn(8, 3, 32, 32).split(4)
    chunks = [model.encode_chunk(f) for f in frames]
    assert all(torch.equal(a, reference.encode_chunk(f)) for a, f in zip(chunks, frames))
    visual = model.embed_video(chunks)
    assert torch.allclose(visual, reference.embed_video(chunks), atol=1e-6)
    ids = torch.tensor([[1, 5, 9, 12]])
    torch.testing.assert_close(model.language_model(ids).logits, reference.language_model(ids).logits, rtol=1e-5, atol=1e-5)
    assert isinstance(model.answer(visual, nextqa_prompt("what?", ["a", "b", "c", "d", "e"]).text), str)


def test_a_missing_path_names_the_file_and_where_it_is_published(source):
    config, _ = source
    paths = dict(config.checkpoints)
    del paths["stage3"]
    with pytest.raises(ValueError, match=r"videochat2_mistral_7b_stage3\.pth.*OpenGVLab"):
        load_videochat2(dataclasses.replace(config, checkpoints=paths), dtype=torch.float32)
