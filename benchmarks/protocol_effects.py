"""How much the scoring protocol moves VideoChat2's multiple-choice accuracy, on synthetic answers.

Offline, a second or two: a fixed-seed "model" picks the right option with probability ``--skill``
and writes its choice in one of the answer styles VideoChat2 produces after "Best option:(" --
"(A) text", "(A)", "(A. text", "(Best option: (A)", the option's text only, nothing, or a letter
followed by another option's text -- each style equally often. One option in ten is made to begin
with another option's text (EgoSchema's substring check then counts some wrong answers as right).
Every answer is scored under ``lenient`` (the letter ``parse_option_letter`` reads; no embedding
fallback) and ``reference`` (``infvideo.eval.metrics.reference_rules``), overall and per style.

    python benchmarks/protocol_effects.py [--questions 300] [--seed 0] [--skill 0.6]
"""

from __future__ import annotations

import argparse
import random

from infvideo.data.record import QuestionRecord
from infvideo.eval.metrics.multiple_choice import letter_verdicts
from infvideo.eval.metrics.reference_rules import reference_verdicts
from infvideo.eval.tasks import get_task
from infvideo.models.videochat2.prompts import PROMPTS, parse_option_letter

LETTERS = "ABCDE"
NOUNS = ["man", "woman", "dog", "cat", "child", "chef", "car", "ball", "cup", "book", "phone", "bike", "door", "box", "lamp"]
VERBS = ["picks up", "puts down", "looks at", "cleans", "opens", "moves", "throws", "holds", "cuts", "paints"]
STYLES = {  # what the model writes after "Best option:(", given the chosen letter, its text and another option's text
    "(A) text": lambda letter, text, other: f"{letter}) {text}",
    "(A)": lambda letter, text, other: f"{letter})",
    "A. text": lambda letter, text, other: f"{letter}. {text}",
    "Best option: (A)": lambda letter, text, other: f"Best option: ({letter})",
    "text only": lambda letter, text, other: text,
    "empty": lambda letter, text, other: "",
    "letter + other text": lambda letter, text, other: f"{letter}) {other}",
}


def option_text(rng: random.Random) -> str:
    return f"the {rng.choice(NOUNS)} {rng.choice(VERBS)} the {rng.choice(NOUNS)}"


def make_question(rng: random.Random, benchmark: str, index: int) -> QuestionRecord:
    count = 4 if benchmark == "video_mme" else 5
    texts: list[str] = []
    while len(texts) < count:
        text = option_text(rng)
        if text not in texts:
            texts.append(text)
    answer = rng.randrange(count)
    if rng.random() < 0.1:  # a wrong option that begins with the right one's text
        wrong = rng.choice([i for i in range(count) if i != answer])
        texts[wrong] = texts[answer] + " again"
    options = tuple(f"{LETTERS[i]}. {t}" for i, t in enumerate(texts)) if benchmark == "video_mme" else tuple(texts)
    return QuestionRecord(
        id=f"q{index}",
        dataset=benchmark,
        video_id=f"v{index}",
        video_path="",
        question="what happens?",
        options=options,
        answer=answer,
        question_type="CW",
        extra={"duration": "short"},
    )


def answer(rng: random.Random, record: QuestionRecord, skill: float, style: str) -> str:
    count = len(record.options)
    chosen = record.answer if rng.random() < skill else rng.choice([i for i in range(count) if i != record.answer])
    texts = [o[3:] if record.dataset == "video_mme" else o for o in record.options]
    other = texts[rng.choice([i for i in range(count) if i != chosen])]
    generated = STYLES[style](LETTERS[chosen], texts[chosen], other)
    return PROMPTS[record.dataset](record).clean(generated)


def percent(verdicts, ids) -> float:
    return 100 * sum(verdicts[q].correct for q in ids) / len(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=350, help="per benchmark (a multiple of the 7 styles keeps them balanced)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skill", type=float, default=0.6, help="probability that the model picks the right option")
    args = parser.parse_args()
    styles = list(STYLES)
    print(f"{args.questions} synthetic answers per benchmark, seed {args.seed}, skill {args.skill:.0%}; accuracy in percent\n")
    print("| benchmark | style | lenient | reference |")
    print("|---|---|---:|---:|")
    for benchmark in ("nextqa", "egoschema", "video_mme"):
        rng = random.Random(f"{args.seed}-{benchmark}")
        records = [make_question(rng, benchmark, i) for i in range(args.questions)]
        style_of = {record.id: styles[i % len(styles)] for i, record in enumerate(records)}
        predictions = {}
        for record in records:
            text = answer(rng, record, args.skill, style_of[record.id])
            predictions[record.id] = {
                "id": record.id,
                "prediction": text,
                "parsed": parse_option_letter(text, LETTERS[: len(record.options)]),
            }
        lenient = letter_verdicts(records, {q: line["parsed"] for q, line in predictions.items()})
        reference = reference_verdicts(get_task(benchmark).reference_rule, records, predictions)
        for style in styles:
            ids = [q for q, s in style_of.items() if s == style]
            print(f"| {benchmark} | {style} | {percent(lenient, ids):.1f} | {percent(reference, ids):.1f} |")
        ids = list(style_of)
        print(f"| {benchmark} | **all** | **{percent(lenient, ids):.1f}** | **{percent(reference, ids):.1f}** |")


if __name__ == "__main__":
    main()
