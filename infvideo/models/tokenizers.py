"""A tiny LLaMA-style tokenizer built at run time, for the tiny presets, tests and the demo.

Real runs load the model's own tokenizer from its folder. This one is a byte-level BPE trained in a
fraction of a second on a built-in text, with LLaMA's special ids (<unk> 0, <s> 1, </s> 2), so the
prompt, stop-string and post-processing paths run exactly as with the real tokenizer.
"""

from __future__ import annotations

from functools import lru_cache

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

_CORPUS = [
    "###Human: <Video><ImageHere></Video> What is happening in the video?###Assistant: A person walks a dog.",
    "You are able to understand the visual content that the user provides.",
    "Follow the instructions carefully and explain your brief answers with no more than 20 words.",
    "Choose the best answer from the options below: A. B. C. D. E.",
    "Best option:(A) (B) (C) (D) (E) Question: Options: Only give the best option.",
    "[INST] <Video><VideoHere></Video> [/INST] the red ball rolls, a cat jumps, the car stops, why how when",
    "0 1 2 3 4 5 6 7 8 9 yes no because first then after before end start left right",
]


@lru_cache(maxsize=4)
def tiny_llama_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<unk>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(_CORPUS * 4, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>"
    )
