"""One home per benchmark: ``TASKS`` maps a benchmark name to everything eval/ needs to know about it.

A row says which reader turns its annotations into ``QuestionRecord``s and which run-config values that
reader takes, whether its answers are options (matched to a letter, then counted) or free text (judged
by an LLM), how its accuracy is broken down and what its headline number is, the reference scripts'
own check of a VideoChat2 answer (``protocol.scoring: reference``; a multiple-choice task without one
takes none of the paper protocol's choice settings, ``Task.protocol_problems``), the extra files
``score`` writes, and the names the reference's scripts use for it. The runner, validation, matching,
judging, scoring and the report read this table; nothing else in eval/ names a benchmark. Adding a benchmark is a
reader in ``infvideo/data/`` and a row here (plus its prompts, per model family, in ``infvideo/models/``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from infvideo.data.egoschema import read_egoschema
from infvideo.data.longvideobench import DURATION_GROUPS, read_longvideobench
from infvideo.data.mlvu import TASKS as MLVU_TASKS
from infvideo.data.mlvu import read_mlvu
from infvideo.data.moviechat import Mode as MovieChatMode
from infvideo.data.moviechat import read_moviechat
from infvideo.data.nextqa import read_nextoe, read_nextqa
from infvideo.data.record import QuestionRecord
from infvideo.data.registry import BenchmarkReader, read_logged
from infvideo.data.video_mme import DURATIONS, read_video_mme
from infvideo.errors import UserError

from .metrics.multiple_choice import ChoiceBreakdown, ChoiceMetrics, Submission, option_index_submission
from .metrics.reference_rules import egoschema_correct, nextqa_correct, video_mme_letter

if TYPE_CHECKING:
    from .config import DataSettings, ProtocolSettings

Kind = Literal["multiple_choice", "judged"]
ReferenceRule = Callable[[QuestionRecord, str], bool]  # (question, stored answer text) -> right by the reference's check


def _no_options(data: DataSettings) -> dict[str, Any]:
    return {}


def _no_problems(data: DataSettings) -> list[str]:
    return []


@dataclass(frozen=True)
class Task:
    name: str  # data.benchmark, QuestionRecord.dataset, the run directory's parent folder
    title: str  # as the paper's tables write it (report, plots, metrics.md)
    reader: BenchmarkReader
    kind: Kind
    # run-config values the reader takes besides the shared annotations / video folder / on_error / video_pattern
    reader_options: Callable[[DataSettings], dict[str, Any]] = _no_options
    # those values checked before a run starts, each problem one phrase (validation joins them)
    option_problems: Callable[[DataSettings], list[str]] = _no_problems
    metrics: ChoiceMetrics | None = None  # how a multiple-choice accuracy is broken down; None for judged tasks
    reference_rule: ReferenceRule | None = None  # the reference script's check of a VideoChat2 answer's text
    submission: Submission | None = None  # a file for the benchmark's own server, written by `score`
    aliases: tuple[str, ...] = ()  # other spellings the reference's scripts use (eval_code/ flags)

    def __post_init__(self) -> None:
        if (self.kind == "multiple_choice") != (self.metrics is not None):
            raise ValueError(f"task {self.name!r}: a multiple-choice task needs metrics, a judged one has none")

    def protocol_problems(self, protocol: ProtocolSettings) -> list[str]:
        """The paper protocol's multiple-choice settings reproduce the reference scripts, so they need a task
        those scripts scored (one with a ``reference_rule``; docs/protocol.md). On any other there is nothing
        to reproduce: matching over options A-D only would make a fifth option unreachable (LongVideoBench
        has five), and its answers have no reference check. Each problem is one phrase (validation joins them)."""
        if self.kind != "multiple_choice" or self.reference_rule is not None:
            return []
        problems = []
        if protocol.match_first_four:
            problems.append(
                f"protocol.match_first_four=true (the reference's matcher, options A-D only) applies only to a "
                f"benchmark the reference scored, not {self.title}, where an option past D could never be "
                f"matched; use protocol.match_first_four=false"
            )
        if protocol.scoring == "reference":
            problems.append(
                f"protocol.scoring=reference reproduces the reference's scoring, which never scored {self.title}; "
                f"use protocol.scoring=lenient"
            )
        return problems


# ---- per-benchmark reader options and their checks


def _egoschema_options(data: DataSettings) -> dict[str, Any]:
    # without an answers file the reader yields the full set (answers scored by the EgoSchema server)
    return {"answers_path": data.answers} if data.answers else {}


def _moviechat_options(data: DataSettings) -> dict[str, Any]:
    return {"mode": data.mode}


def _moviechat_problems(data: DataSettings) -> list[str]:
    modes = get_args(MovieChatMode)
    return [] if data.mode in modes else [f"data.mode={data.mode!r} is not one of {', '.join(modes)}"]


# ---- the table

# NExT-QA question types in the paper's column order; TP (previous) is merged into TN (next) as in the
# official eval_mc.py the reference adapted. The group is the type's first letter:
# C(ausal) = CW+CH, T(emporal) = TN+TP+TC, D(escriptive) = DC+DL+DO.
NEXTQA_TYPES = ("CW", "CH", "TN", "TC", "DC", "DL", "DO")
_NEXTQA_MERGED = {"TP": "TN"}

TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "nextqa",
            "NExT-QA",
            read_nextqa,
            "multiple_choice",
            metrics=ChoiceMetrics(
                (
                    ChoiceBreakdown("type", "question_type", order=NEXTQA_TYPES, rename=_NEXTQA_MERGED, strict=True),
                    ChoiceBreakdown(
                        "group",
                        "question_type",
                        order=("C", "T", "D"),
                        rename={qtype: qtype[0] for qtype in (*NEXTQA_TYPES, *_NEXTQA_MERGED)},
                    ),
                )
            ),
            reference_rule=lambda record, text: nextqa_correct(text, record.answer_letter),
        ),
        Task("nextoe", "NExT-OE", read_nextoe, "judged"),
        Task(
            "egoschema",
            "EgoSchema",
            read_egoschema,
            "multiple_choice",
            reader_options=_egoschema_options,
            # the full set's answers are not public: its questions are scored by the server, from the submission
            metrics=ChoiceMetrics((), answered_only=True),
            reference_rule=lambda record, text: egoschema_correct(text, record.answer_letter, record.options[record.answer]),
            submission=Submission("egoschema_submission.json", option_index_submission),
        ),
        Task("moviechat", "MovieChat-1K", read_moviechat, "judged", reader_options=_moviechat_options, option_problems=_moviechat_problems),
        Task(
            "video_mme",
            "Video-MME",
            read_video_mme,
            "multiple_choice",
            metrics=ChoiceMetrics(
                (
                    # the Video-LLaMA reference divides each duration by its valid answers (see multiple_choice.py)
                    ChoiceBreakdown("duration", "extra.duration", order=DURATIONS, reference_over_valid=True),
                    ChoiceBreakdown("domain", "extra.domain"),
                    ChoiceBreakdown("task", "question_type"),
                )
            ),
            reference_rule=lambda record, text: video_mme_letter(text) == record.answer_letter,
            aliases=("videomme",),
        ),
        Task(
            "mlvu",
            "MLVU",
            read_mlvu,
            "multiple_choice",
            # MLVU reports M-Avg, the mean of the seven per-task accuracies (docs/benchmarks.md), not overall accuracy
            metrics=ChoiceMetrics(
                (ChoiceBreakdown("task", "question_type", order=MLVU_TASKS, strict=True),),
                headline_mean_of="task",
                headline_name="M-Avg",
            ),
        ),
        Task(
            "longvideobench",
            "LongVideoBench",
            read_longvideobench,
            "multiple_choice",
            metrics=ChoiceMetrics(
                (
                    # the benchmark's int groups (15, 60, 600, 3600 seconds); the headline is overall accuracy
                    ChoiceBreakdown("duration_group", "extra.duration_group", order=DURATION_GROUPS, strict=True),
                    ChoiceBreakdown("category", "question_type"),  # the 17 question categories, as lmms-eval reports them
                )
            ),
        ),
    )
}
TASK_TITLES: Mapping[str, str] = {name: task.title for name, task in TASKS.items()}  # in the table's order


def task_names(aliases: bool = False) -> list[str]:
    """The benchmark names, in the table's order (the paper's); with ``aliases``, the reference's spellings too."""
    names = list(TASKS)
    return names + [alias for task in TASKS.values() for alias in task.aliases] if aliases else names


def get_task(name: str) -> Task:
    """The task named ``name`` (or one of its aliases); an unknown name is a ``UserError`` listing the known ones."""
    if name in TASKS:
        return TASKS[name]
    for task in TASKS.values():
        if name in task.aliases:
            return task
    raise UserError(f"unknown benchmark {name!r}; known: {', '.join(TASKS)}")


def judged_task_names() -> list[str]:
    """The benchmarks whose answers are free text judged by an LLM."""
    return [name for name, task in TASKS.items() if task.kind == "judged"]


def read_benchmark(
    name: str,
    annotation_path: str | os.PathLike[str],
    video_folder: str | os.PathLike[str],
    **options: Any,
) -> list[QuestionRecord]:
    """Benchmark ``name``'s records through its reader (``on_error``, ``video_pattern`` and the reader's
    own options such as ``answers_path`` or ``mode`` as keywords); skipped rows are logged."""
    return read_logged(get_task(name).reader, annotation_path, video_folder, **options)
