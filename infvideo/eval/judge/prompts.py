"""The Video-ChatGPT judge prompts, as the reference sends them (``validate/utils.py:promp_selector``).

Character-faithful to the reference's system and user messages (including its missing spaces, e.g.
"task:------##INSTRUCTIONS: " and "STRING.DO NOT PROVIDE", and the double space in "is  a string"),
so judge scores stay comparable with the paper's. The deviations, all in the reply-format sentences
at the end of the user message:

1. "in the form of a Python dictionary string" -> "in the form of a JSON object", and
   "Only provide the Python dictionary string." -> "Only provide the JSON object.": a JSON object is
   what OpenAI-compatible servers' JSON modes produce and what ``parsing.parse_reply`` reads first.
2. The example dicts are valid JSON: the reference's GEN example used Python quotes
   ({'pred': 'yes', 'score': 4.8}) and the CI/DO/CU example was syntactically broken
   ({''score': 4.8}). The example value 4.8 is kept as in the reference (it contradicts "INTEGER",
   but changing it would change what the judge is nudged towards); floats are accepted when parsing.

The TU and CO prompts of the reference are defined there but never run; they are not carried over.
"""

from __future__ import annotations

from infvideo.errors import UserError

METRICS = ("GEN", "CI", "DO", "CU")

_SYSTEM = {
    "GEN": (
        "You are an intelligent chatbot designed for evaluating the correctness of generative outputs for question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine if they match meaningfully. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Focus on the meaningful match between the predicted answer and the correct answer.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Evaluate the correctness of the prediction compared to the answer."
    ),
    "CI": (
        "You are an intelligent chatbot designed for evaluating the factual accuracy of generative outputs for video-based question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine if they are factually consistent. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Focus on the factual consistency between the predicted answer and the correct answer. The predicted answer should not contain any misinterpretations or misinformation.\n"
        "- The predicted answer must be factually accurate and align with the video content.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Evaluate the factual accuracy of the prediction compared to the answer."
    ),
    "DO": (
        "You are an intelligent chatbot designed for evaluating the detail orientation of generative outputs for video-based question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine its level of detail, considering both completeness and specificity. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Check if the predicted answer covers all major points from the video. The response should not leave out any key aspects.\n"
        "- Evaluate whether the predicted answer includes specific details rather than just generic points. It should provide comprehensive information that is tied to specific elements of the video.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Provide a single evaluation score that reflects the level of detail orientation of the prediction, considering both completeness and specificity."
    ),
    "CU": (
        "You are an intelligent chatbot designed for evaluating the contextual understanding of generative outputs for video-based question-answer pairs. "
        "Your task is to compare the predicted answer with the correct answer and determine if the generated response aligns with the overall context of the video content. Here's how you can accomplish the task:"
        "------"
        "##INSTRUCTIONS: "
        "- Evaluate whether the predicted answer aligns with the overall context of the video content. It should not provide information that is out of context or misaligned.\n"
        "- The predicted answer must capture the main themes and sentiments of the video.\n"
        "- Consider synonyms or paraphrases as valid matches.\n"
        "- Provide your evaluation of the contextual understanding of the prediction compared to the answer."
    ),
}


def _header(question: str, answer: str, prediction: str) -> str:
    # f-strings, as in the reference: braces inside the texts are left alone.
    return (
        "Please evaluate the following video-based question-answer pair:\n\n"
        f"Question: {question}\n"
        f"Correct Answer: {answer}\n"
        f"Predicted Answer: {prediction}\n\n"
    )


# Deviations 1 and 2 (module docstring) are in these strings only.
_SCORE_EXAMPLE = 'For example, your response should look like this: {"score": 4.8}.'
_REQUEST = {
    "GEN": (
        "Provide your evaluation only as a yes/no and score where the score is an integer value between 0 and 5, with 5 indicating the highest meaningful match. "
        "Please generate the response in the form of a JSON object with keys 'pred' and 'score', where value of 'pred' is  a string of 'yes' or 'no' and value of 'score' is in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the JSON object. "
        'For example, your response should look like this: {"pred": "yes", "score": 4.8}.'
    ),
    "CI": (
        "Provide your evaluation only as a factual accuracy score where the factual accuracy score is an integer value between 0 and 5, with 5 indicating the highest level of factual consistency. "
        "Please generate the response in the form of a JSON object with keys 'score', where its value is the factual accuracy score in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the JSON object. " + _SCORE_EXAMPLE
    ),
    "DO": (
        "Provide your evaluation only as a detail orientation score where the detail orientation score is an integer value between 0 and 5, with 5 indicating the highest level of detail orientation. "
        "Please generate the response in the form of a JSON object with keys 'score', where its value is the detail orientation score in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the JSON object. " + _SCORE_EXAMPLE
    ),
    "CU": (
        "Provide your evaluation only as a contextual understanding score where the contextual understanding score is an integer value between 0 and 5, with 5 indicating the highest level of contextual understanding. "
        "Please generate the response in the form of a JSON object with keys 'score', where its value is contextual understanding score in INTEGER, not STRING."
        "DO NOT PROVIDE ANY OTHER OUTPUT TEXT OR EXPLANATION. Only provide the JSON object. " + _SCORE_EXAMPLE
    ),
}

# Not in the reference (which retried the same prompt forever): after an unparseable reply the
# judge is told once more, briefly, what shape the reply must have.
_REASK = {
    "GEN": 'Reply with only a JSON object with keys "pred" ("yes" or "no") and "score" (an integer from 0 to 5), for example {"pred": "yes", "score": 4}.',
    "score": 'Reply with only a JSON object with the key "score" (an integer from 0 to 5), for example {"score": 4}.',
}


def check_metric(metric: str) -> str:
    if metric not in METRICS:
        raise UserError(f"unknown judge metric {metric!r}; expected one of {', '.join(METRICS)}")
    return metric


def messages(metric: str, question: str, answer: str, prediction: str) -> list[dict[str, str]]:
    """The system and user messages that ask the judge for ``metric`` on one question."""
    check_metric(metric)
    user = _header(question, answer, prediction) + _REQUEST[metric]
    return [{"role": "system", "content": _SYSTEM[metric]}, {"role": "user", "content": user}]


def reask_message(metric: str) -> dict[str, str]:
    """The user message sent after an unparseable reply (the bad reply goes before it)."""
    return {"role": "user", "content": _REASK["GEN" if check_metric(metric) == "GEN" else "score"]}
