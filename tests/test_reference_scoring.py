"""Reference scoring (``protocol.scoring: reference``) against the reference's own checks.

The reference (deep-spin/Infinite-Video, commit 908be51) scores VideoChat2's multiple-choice answers
inside its scripts, from the answer text alone. The functions ``reference_*`` below port that logic
(cited file and lines in each docstring) so that each hand-made answer's verdict is computed by the
reference's rule, independently of ``infvideo.eval.metrics.reference_rules``; the expected verdicts
of the cases that matter most are also written out by hand.

Every answer goes through the prompt's own ``clean`` (the scripts' ``return_prompt + first line``),
so the text scored is exactly the text predictions.jsonl stores.
"""

import json

import pytest

from infvideo.cli import main
from infvideo.data.record import QuestionRecord
from infvideo.errors import UserError
from infvideo.eval.config import load_config, to_yaml
from infvideo.eval.metrics.multiple_choice import choice_metrics, letter_verdicts
from infvideo.eval.metrics.open_ended import judged_metrics
from infvideo.eval.metrics.reference_rules import egoschema_correct, nextqa_correct, reference_verdicts, video_mme_letter
from infvideo.eval.metrics.score import PROTOCOL_KEYS, score_run
from infvideo.eval.run_files import write_jsonl
from infvideo.eval.tasks import get_task
from infvideo.models.videochat2.prompts import egoschema_prompt, nextqa_prompt, parse_option_letter, video_mme_prompt

LETTERS = "ABCDE"


# -- the reference's checks, ported ------------------------------------------------------------
def reference_nextqa(pred, answer):
    """infty-VideoChat2/eval_code/run_nextqa_mistral.py: ``answer`` is f"({correct})" (line 529),
    ``pred`` the returned message (lines 176, 591-592); line 427: ``if answer == pred[:3]: acc += 1``."""
    return answer == pred[:3]


def reference_check_answer_egoschema(pred, qid, ans_dict):
    """infty-VideoChat2/eval_code/run_egoschema_mistral.py, ``check_answer_egoschema``, lines 181-200
    (``ans_dict[qid]`` = {'answer': f"({correct})", 'content': the right option's text}, lines 463-467)."""
    correct = 0
    answer_content = ans_dict[qid]["content"].lower()
    if answer_content[-1] == ".":
        answer_content = answer_content[:-1]
    if ans_dict[qid]["answer"].lower() in pred.lower():
        flag = True
        for kk in ["(A)", "(B)", "(C)", "(D)", "(E)"]:
            if kk != ans_dict[qid]["answer"].lower() and kk in pred.lower():
                flag = ans_dict
                break
        if flag:
            correct += 1
    elif answer_content in pred.lower():
        correct = 1
    elif answer_content.replace("a ", "") in pred.lower():
        correct = 1
    elif answer_content.replace("an ", "") in pred.lower():
        correct = 1
    return correct


def reference_videomme(llm_message, answer_string):
    """infty-VideoChat2/eval_code/run_videomme_mistral.py, lines 443-445 and 565: the prediction is
    ``llm_message[1]`` (IndexError on an empty answer), the truth ``qa[1][1]`` (qa[1] = "(X) text",
    line 200), and ``pred == gt`` is correct."""
    return llm_message[1] == answer_string[1]


# -- hand-made answers -------------------------------------------------------------------------
# Options chosen so that the reference's substring checks misfire: "a man" begins "a man with a hat"
# (and "man" is inside "a woman"); option D is "a man with a hat".
OPTIONS = ("a man", "a woman", "the dog", "a man with a hat", "nobody.")
# What the model generates after the prompt's "Best option:(" (the stored text is "(" + first line).
GENERATED = {
    "paren": "A) a man",  # "(A) a man"
    "bare_paren": "A)",  # "(A)"
    "doubled_paren": "(A) a man",  # "((A) a man": the model repeats the bracket
    "letter_paren_no_text": " B)\nbecause",  # "(B)": explanation cut at the first line
    "letter_dot": "A. a man",  # "(A. a man"
    "best_option": "Best option: (A)",  # "(Best option: (A)"
    "text_only": "a man",  # "(a man"
    "text_only_other": "the dog",  # "(the dog"
    "empty": "",  # "("
    "blank": "  \n  ",  # "(": nothing but white space
    "letter_then_other_text": "B) the dog",  # "(B) the dog"
    "longer_wrong_option": "D) a man with a hat",  # "(D) a man with a hat": begins with option A's text
    "woman": "B) a woman",  # "(B) a woman": contains "man"
    "lower_letter": "a) a man",  # "(a) a man"
}
STYLES = sorted(GENERATED)


def stored(prompt, generated):
    return prompt.clean(generated)


def test_the_stored_text_is_the_references_pred():
    """The reference's pred is ``return_prompt + llm_message.strip().split('\\n')[0]`` with return_prompt
    "(" (run_nextqa_mistral.py line 176, run_egoschema_mistral.py line 176 and 503, run_videomme_mistral.py
    line 443 and 534); "Best option:(" is the prompt's last words, not part of pred."""
    prompt = nextqa_prompt("why?", OPTIONS)
    assert prompt.text.endswith("[/INST] Best option:(")
    for generated in GENERATED.values():
        assert stored(prompt, generated) == "(" + generated.strip().split("\n")[0]
    assert stored(prompt, GENERATED["paren"]) == "(A) a man" and stored(prompt, GENERATED["empty"]) == "("


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("answer", range(5))
def test_nextqa_rule_is_the_references(style, answer):
    pred = stored(nextqa_prompt("why?", OPTIONS), GENERATED[style])
    assert nextqa_correct(pred, LETTERS[answer]) == reference_nextqa(pred, f"({LETTERS[answer]})")


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("answer", range(5))
def test_egoschema_rule_is_the_references(style, answer):
    pred = stored(egoschema_prompt("what?", OPTIONS), GENERATED[style])
    ans_dict = {0: {"answer": f"({LETTERS[answer]})", "content": OPTIONS[answer]}}
    assert egoschema_correct(pred, LETTERS[answer], OPTIONS[answer]) == bool(reference_check_answer_egoschema(pred, 0, ans_dict))


@pytest.mark.parametrize("style", [style for style in STYLES if style not in ("empty", "blank")])
@pytest.mark.parametrize("answer", range(4))
def test_video_mme_rule_is_the_references(style, answer):
    options = tuple(f"{LETTERS[i]}. {text}" for i, text in enumerate(OPTIONS[:4]))
    pred = stored(video_mme_prompt("what?", options), GENERATED[style])
    truth = f"({LETTERS[answer]}) {options[answer][3:]}"
    assert (video_mme_letter(pred) == LETTERS[answer]) == reference_videomme(pred, truth)


def test_video_mme_rule_on_an_empty_answer_is_wrong_where_the_reference_crashes():
    with pytest.raises(IndexError):
        reference_videomme("(", "(A) a man")
    assert video_mme_letter("(") == ""


def test_the_verdicts_that_matter_by_hand():
    nextqa = {style: stored(nextqa_prompt("why?", OPTIONS), text) for style, text in GENERATED.items()}
    # NExT-QA: only an answer that starts "(X)" can be right
    assert [s for s in STYLES if nextqa_correct(nextqa[s], "A")] == ["bare_paren", "paren"]
    assert not nextqa_correct(nextqa["letter_dot"], "A") and not nextqa_correct(nextqa["best_option"], "A")
    assert not nextqa_correct(nextqa["lower_letter"], "A")
    # EgoSchema: "(x)" anywhere (case-blind), else the right option's text anywhere
    assert egoschema_correct("(D) a man with a hat", "A", "a man")  # a wrong answer counted right
    assert egoschema_correct("(B) a woman", "A", "a man")  # "a man".replace("a ", "") = "man" is in "woman"
    assert egoschema_correct("(B) the dog", "C", "the dog") and not egoschema_correct("(B) the dog", "A", "a man")
    assert egoschema_correct("(a) a man", "A", "a man") and egoschema_correct("(Best option: (A)", "A", "a man")
    assert egoschema_correct("(B) the dog (A)", "A", "a man")  # the "other letter" check never fires
    assert egoschema_correct("(E) nobody", "E", "nobody.") and egoschema_correct("(nobody", "E", "nobody.")  # final "." dropped
    assert not egoschema_correct("(", "A", "a man")
    # Video-MME: the second character, whatever it is
    assert video_mme_letter("(A) a man") == "A" and video_mme_letter("(A. a man") == "A"
    assert video_mme_letter("(Best option: (A)") == "B" and video_mme_letter("(a man") == "a" and video_mme_letter("((A)") == "("


# -- the scorer on runs -----------------------------------------------------------------------
def nextqa_record(qid, answer, options=OPTIONS, qtype="CW"):
    return QuestionRecord(
        id=qid, dataset="nextqa", video_id="v", video_path="v.mp4", question="?", options=options, answer=answer, question_type=qtype
    )


def ego_record(qid, answer):
    return QuestionRecord(id=qid, dataset="egoschema", video_id=qid, video_path=f"{qid}.mp4", question="?", options=OPTIONS, answer=answer)


def mme_record(qid, answer, duration):
    options = tuple(f"{LETTERS[i]}. {text}" for i, text in enumerate(OPTIONS[:4]))
    return QuestionRecord(
        id=qid,
        dataset="video_mme",
        video_id="v",
        video_path="v.mp4",
        question="?",
        options=options,
        answer=answer,
        question_type="Counting Problem",
        extra={"duration": duration},
    )


PROMPTS = {"nextqa": nextqa_prompt, "egoschema": egoschema_prompt, "video_mme": video_mme_prompt}


def prediction_lines(records, answers):
    """predictions.jsonl lines as ``Backend.answer`` writes them for VideoChat2 (None: an error line)."""
    lines = []
    for record, generated in zip(records, answers):
        if generated is None:
            lines.append({"id": record.id, "prediction": None, "parsed": None, "error": "VideoDecodeError: broken"})
            continue
        text = PROMPTS[record.dataset](record.question, list(record.options)).clean(generated)
        lines.append({"id": record.id, "prediction": text, "parsed": parse_option_letter(text, LETTERS[: len(record.options)])})
    return lines


def reference_count(records, lines):
    """The number the reference's scripts would print as correct (an error line or an empty
    Video-MME answer -- a crash there -- counted wrong)."""
    correct = 0
    for record, line in zip(records, lines):
        pred, letter = line["prediction"], record.answer_letter
        if pred is None:
            continue
        if record.dataset == "nextqa":
            correct += reference_nextqa(pred, f"({letter})")
        elif record.dataset == "egoschema":
            correct += reference_check_answer_egoschema(pred, 0, {0: {"answer": f"({letter})", "content": record.options[record.answer]}})
        elif len(pred) > 1:
            correct += reference_videomme(pred, f"({letter}) {record.options[record.answer][3:]}")
    return correct


@pytest.mark.parametrize("benchmark", ["nextqa", "egoschema", "video_mme"])
def test_reference_verdicts_count_what_the_reference_counts(benchmark):
    make = {
        "nextqa": lambda i, a: nextqa_record(f"q{i}", a),
        "egoschema": lambda i, a: ego_record(f"q{i}", a),
        "video_mme": lambda i, a: mme_record(f"q{i}", a, "short"),
    }[benchmark]
    count = 4 if benchmark == "video_mme" else 5
    records, answers = [], []
    for style in STYLES:
        for answer in range(count):
            records.append(make(len(records), answer))
            answers.append(GENERATED[style])
    records.append(make(len(records), 0))
    answers.append(None)  # an error line
    lines = prediction_lines(records, answers)
    verdicts = reference_verdicts(get_task(benchmark).reference_rule, records, {line["id"]: line for line in lines})
    assert sum(v.correct for v in verdicts.values()) == reference_count(records, lines)
    # no answer (error line, "(" alone) is invalid; every other answer gets the rule's verdict
    empty = {line["id"] for line in lines if line["prediction"] in (None, "(")}
    assert {q for q, v in verdicts.items() if v.invalid} == empty
    assert not any(verdicts[q].correct for q in empty)


def test_an_unpredicted_question_is_invalid_under_reference_rules():
    verdicts = reference_verdicts(get_task("nextqa").reference_rule, [nextqa_record("q1", 0)], {})
    assert verdicts["q1"].correct is False and verdicts["q1"].invalid is True


def write_run(root, records, answers, overrides=(), matches=None):
    """A VideoChat2 NExT-QA run directory: annotations csv, config.yaml, predictions.jsonl."""
    import csv

    data = root / "data"
    data.mkdir(exist_ok=True)
    annotations = data / "val.csv"
    with annotations.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["video", "frame_count", "width", "height", "question", "answer", "qid", "type", "a0", "a1", "a2", "a3", "a4"])
        for record in records:
            video, qid = record.id.split("_")
            writer.writerow([video, 100, 64, 64, record.question, record.answer, qid, record.question_type, *record.options])
    config = load_config(overrides=["model.name=videochat2", "data.benchmark=nextqa", f"data.annotations={annotations}", *overrides])
    run_dir = root / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text(to_yaml(config))
    lines = prediction_lines(records, answers)
    write_jsonl(run_dir / "predictions.jsonl", lines)
    if matches is not None:
        write_jsonl(run_dir / "matches.jsonl", matches(lines))
    return run_dir, lines


NEXTQA_RUN = [  # answer index, generated text
    (0, "A) a man"),  # right under both
    (0, "A. a man"),  # lenient right (A), reference wrong (not "(A)")
    (2, "Best option: (C)"),  # lenient right (C), reference wrong
    (1, "a woman"),  # no letter: lenient invalid unless embeddings, reference wrong
    (0, ""),  # empty: invalid under both
    (2, "B) the dog"),  # a letter then another option's text: wrong under both
]


def nextqa_run(tmp_path, overrides=(), with_matches=True, asked=False):
    records = [nextqa_record(f"v_{i}", answer) for i, (answer, _) in enumerate(NEXTQA_RUN)]

    def matches(lines):
        """As the matcher before the protocol section wrote them (no ``first_four``): embeddings for
        every unparsed text, "(" included; or (``asked``) as `infvideo match --embedding-fallback` does."""
        out = []
        for line in lines:
            if line["parsed"]:
                out.append({"id": line["id"], "letter": line["parsed"], "method": "parsed", "embedder": None})
            else:
                letter = {"(a woman": "B", "(": "A"}[line["prediction"]]
                out.append({"id": line["id"], "letter": letter, "method": "embedding", "embedder": "minilm"})
            if asked:
                out[-1]["first_four"] = False
        return out

    return write_run(tmp_path, records, [text for _, text in NEXTQA_RUN], overrides, matches if with_matches else None)


def cell(correct, total, invalid):
    return {"accuracy": 100 * correct / total, "correct": correct, "total": total, "invalid": invalid}


def test_reference_scoring_of_a_videochat2_run_needs_no_matches(tmp_path):
    run_dir, _ = nextqa_run(tmp_path, ["protocol.scoring=reference", "protocol.judge_score=truncate"], with_matches=False)
    metrics = score_run(run_dir)
    assert metrics["overall"] == cell(1, 6, 1)
    protocol = metrics["protocol"]
    assert PROTOCOL_KEYS == ("scoring", "judge_score", "embedding_fallback", "matcher", "match_first_four")
    assert {key: protocol[key] for key in PROTOCOL_KEYS} == {
        "scoring": "reference",
        "judge_score": "truncate",
        "embedding_fallback": False,
        "matcher": None,
        "match_first_four": None,
    }
    assert protocol["verdicts_from"] == "predictions.jsonl" and "letters_from" not in protocol
    assert json.loads((run_dir / "metrics.json").read_text())["protocol"]["scoring"] == "reference"
    assert (
        "protocol: reference scoring -- each answer's text checked as the reference's script does." in (run_dir / "metrics.md").read_text()
    )


@pytest.mark.parametrize("how", ["config", "match flag"])
def test_lenient_scoring_of_videochat2_never_uses_embedding_letters_unless_asked(tmp_path, how):
    """An unparseable or empty VideoChat2 answer is invalid: the embedding letters an older
    matches.jsonl holds for "(a woman" (right) and "(" (an empty answer, right by chance) do not count,
    unless the run's protocol.embedding_fallback or `infvideo match --embedding-fallback` asked for them."""
    (tmp_path / "unasked").mkdir()
    run_dir, _ = nextqa_run(tmp_path / "unasked")
    metrics = score_run(run_dir)
    assert metrics["overall"] == cell(3, 6, 2)
    protocol = metrics["protocol"]
    assert protocol["scoring"] == "lenient" and protocol["matcher"] is None and protocol["embedding_letters_ignored"] == 2
    assert protocol["embedding_fallback"] is False
    (tmp_path / "asked").mkdir()
    if how == "config":
        run_dir, _ = nextqa_run(tmp_path / "asked", ["protocol.embedding_fallback=true"])
    else:
        run_dir, _ = nextqa_run(tmp_path / "asked", asked=True)
    protocol = (metrics := score_run(run_dir))["protocol"]
    assert metrics["overall"] == cell(5, 6, 0)
    assert protocol["embedding_fallback"] is True and protocol["embedding_letters_ignored"] == 0
    assert protocol["matcher"] == "minilm" and protocol["match_first_four"] is (None if how == "config" else False)


def test_the_scoring_flag_overrides_the_config(tmp_path, capsys):
    run_dir, _ = nextqa_run(tmp_path, ["protocol.scoring=lenient"])
    assert main(["score", str(run_dir), "--scoring", "reference"]) == 0
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["protocol"]["scoring"] == "reference" and metrics["overall"] == cell(1, 6, 1)
    assert main(["score", str(run_dir), "--judge-score", "truncate"]) == 0
    protocol = json.loads((run_dir / "metrics.json").read_text())["protocol"]
    assert protocol["scoring"] == "lenient" and protocol["judge_score"] == "truncate"
    assert main(["score", str(run_dir)]) == 0
    assert json.loads((run_dir / "metrics.json").read_text())["protocol"]["judge_score"] == "keep"
    capsys.readouterr()


def test_a_bad_protocol_value_is_a_user_error(tmp_path):
    run_dir, _ = nextqa_run(tmp_path)
    with pytest.raises(UserError, match="protocol.scoring='strict'"):
        score_run(run_dir, scoring="strict")


def test_reference_scoring_keeps_video_llama_letters(tmp_path):
    """Video-LLaMA's free text is matched under either scoring: the letters of matches.jsonl count."""
    records = [nextqa_record("q1", 0), nextqa_record("q2", 1)]
    write_jsonl(
        tmp_path / "matches.jsonl",
        [
            {"id": "q1", "letter": "A", "method": "embedding", "embedder": "openai:text-embedding-ada-002", "first_four": True},
            {"id": "q2", "letter": "A", "method": "embedding", "embedder": "openai:text-embedding-ada-002", "first_four": True},
        ],
    )
    metrics = score_run(tmp_path, records=records, scoring="reference", model="video_llama")
    assert metrics["overall"] == cell(1, 2, 0)
    assert metrics["protocol"]["matcher"] == "openai:text-embedding-ada-002" and metrics["protocol"]["match_first_four"] is True


def test_mixed_matchers_are_listed(tmp_path):
    records = [nextqa_record("q1", 0), nextqa_record("q2", 1), nextqa_record("q3", 1)]
    write_jsonl(
        tmp_path / "matches.jsonl",
        [
            {"id": "q1", "letter": "A", "method": "embedding", "embedder": "minilm", "first_four": False},
            {"id": "q2", "letter": "A", "method": "embedding", "embedder": "openai:m", "first_four": True},
            {"id": "q3", "letter": "B", "method": "parsed", "embedder": None, "first_four": True},
        ],
    )
    protocol = score_run(tmp_path, records=records)["protocol"]
    assert protocol["matcher"] == ["minilm", "openai:m"] and protocol["match_first_four"] == [False, True]


# -- Video-MME per-duration denominators ---------------------------------------------------------
def reference_eval_qa_videomme(data):
    """infty-Video-LLaMA/eval_code/validate/run_eval.py, ``eval_qa_videomme``, lines 16-56: overall over
    every question, each duration over its valid answers (prediction != -1) only."""
    results, num_corrects = {}, 0
    for el in data.values():
        results.setdefault(el["duration"], {"valids": 0, "corrects": 0})
        if el["prediction"] == -1:
            continue
        results[el["duration"]]["valids"] += 1
        if el["answer"] == el["prediction"]:
            num_corrects += 1
            results[el["duration"]]["corrects"] += 1
    overall = num_corrects / len(data) if data else 0
    return overall, {d: c["corrects"] / c["valids"] if c["valids"] else 0 for d, c in results.items()}


MME = [
    ("m1", 0, "short", "A"),
    ("m2", 1, "short", None),
    ("m3", 2, "short", "C"),
    ("m4", 3, "short", "A"),
    ("m5", 0, "medium", None),
    ("m6", 1, "medium", "B"),
    ("m7", 2, "long", "A"),
    ("m8", 3, "long", "D"),
]


def test_video_mme_durations_over_valid_answers_as_run_eval_py():
    records = [mme_record(qid, answer, duration) for qid, answer, duration, _ in MME]
    letters = {qid: letter for qid, _, _, letter in MME}
    overall, durations = reference_eval_qa_videomme(
        {qid: {"duration": d, "answer": a, "prediction": -1 if letter is None else LETTERS.index(letter)} for qid, a, d, letter in MME}
    )
    metrics = choice_metrics(get_task("video_mme"), records, letters, accuracy_over="valid")
    assert metrics["overall"]["accuracy"] == pytest.approx(100 * overall)
    assert {d: c["accuracy"] for d, c in metrics["breakdowns"]["duration"].items()} == pytest.approx(
        {d: 100 * a for d, a in durations.items()}
    )
    assert metrics["breakdowns"]["duration"]["medium"]["accuracy"] == 100.0  # 1 of 1 valid (of 2 questions)
    default = choice_metrics(get_task("video_mme"), records, letters)
    assert default["breakdowns"]["duration"]["medium"]["accuracy"] == 50.0  # the project's rule: over every question
    assert default["protocol"]["duration_accuracy_over"] == "all questions"
    assert metrics["protocol"]["duration_accuracy_over"] == "valid answers"


def test_reference_scoring_picks_the_duration_rule_of_each_backbone(tmp_path):
    records = [mme_record(qid, answer, duration) for qid, answer, duration, _ in MME]
    write_jsonl(
        tmp_path / "matches.jsonl",
        [
            {"id": q, "letter": letter, "method": "embedding" if letter else "none", "embedder": "minilm" if letter else None}
            for q, _, _, letter in MME
        ],
    )
    llama = score_run(tmp_path, records=records, scoring="reference", model="video_llama")
    assert llama["breakdowns"]["duration"]["medium"]["accuracy"] == 100.0
    assert "duration rows: accuracy over each duration's valid answers only" in (tmp_path / "metrics.md").read_text()
    assert (
        score_run(tmp_path, records=records, scoring="lenient", model="video_llama")["breakdowns"]["duration"]["medium"]["accuracy"] == 50.0
    )
    # VideoChat2's own script counts every answer of a duration (run_videomme_mistral.py lines 553-573)
    write_jsonl(
        tmp_path / "predictions.jsonl", prediction_lines(records, [None if letter is None else f"{letter}) x" for *_, letter in MME])
    )
    chat = score_run(tmp_path, records=records, scoring="reference", model="videochat2")
    assert chat["breakdowns"]["duration"]["medium"]["accuracy"] == 50.0
    assert chat["protocol"]["duration_accuracy_over"] == "all questions"


# -- judge scores -------------------------------------------------------------------------------
def movie(qid):
    return QuestionRecord(id=qid, dataset="moviechat", video_id="m", video_path="m.mp4", question="?", answer_text="ref", mode="global")


def judgment(qid, metric, score, pred=None):
    return {"id": qid, "metric": metric, "pred": pred, "score": score, "raw": None, "error": None, "model": "gpt-3.5-turbo"}


JUDGED = [judgment("a", "GEN", 4.8, "yes"), judgment("b", "GEN", 2.5, "no"), judgment("a", "CI", 3.9), judgment("b", "CI", 5)]


def test_truncated_judge_scores_as_run_eval_qa_chatgpt_py():
    """infty-Video-LLaMA/eval_code/validate/run_eval_qa_chatgpt.py lines 203-205:
    ``score = int(score_match)``; the mean is over those integers (line 220)."""
    records = [movie("a"), movie("b")]
    kept = judged_metrics(records, JUDGED)["overall"]
    truncated = judged_metrics(records, JUDGED, judge_score="truncate")["overall"]
    assert kept["score"] == pytest.approx((4.8 + 2.5) / 2) and kept["CI"] == pytest.approx((3.9 + 5) / 2)
    assert truncated["score"] == (int(4.8) + int(2.5)) / 2 == 3.0 and truncated["CI"] == (3 + 5) / 2
    assert truncated["accuracy"] == kept["accuracy"] == 50.0


def test_score_run_truncates_judge_scores_from_config_or_flag(tmp_path):
    write_jsonl(tmp_path / "judgments.jsonl", JUDGED)
    records = [movie("a"), movie("b")]
    assert score_run(tmp_path, records=records)["overall"]["score"] == pytest.approx(3.65)
    metrics = score_run(tmp_path, records=records, judge_score="truncate")
    assert metrics["overall"]["score"] == 3.0
    assert "protocol: judge scores truncated with int()." in (tmp_path / "metrics.md").read_text()
    assert {key: metrics["protocol"][key] for key in PROTOCOL_KEYS} == {
        "scoring": "lenient",
        "judge_score": "truncate",
        "embedding_fallback": False,
        "matcher": None,
        "match_first_four": None,
    }


def test_letter_verdicts_keep_the_lenient_rule():
    records = [nextqa_record("q1", 0), nextqa_record("q2", 1), nextqa_record("q3", 1, options=OPTIONS[:4])]
    verdicts = letter_verdicts(records, {"q1": "A", "q3": "E"})
    assert (verdicts["q1"].correct, verdicts["q1"].invalid) == (True, False)
    assert (verdicts["q2"].correct, verdicts["q2"].invalid) == (False, True)  # missing
    assert (verdicts["q3"].correct, verdicts["q3"].invalid) == (False, True)  # out of range
