"""`infvideo check-scoring`: the stage that scores a run of a config, known from the task table, with the
matcher it needs checked before predicting; and the scripts that rely on it name no benchmark."""

import re
from pathlib import Path

import pytest

from infvideo.cli import main
from infvideo.cli.paper import accuracy_main, extract_main
from infvideo.errors import EXIT_OK, EXIT_USER_ERROR
from infvideo.eval.tasks import TASKS, task_names

REPO = Path(__file__).resolve().parents[1]


def stage_of(capsys, *configs: str, overrides: tuple[str, ...] = ()) -> tuple[int, str, str]:
    code = main(["check-scoring", *(arg for name in configs for arg in ("--config", name)), *overrides])
    captured = capsys.readouterr()
    return code, captured.out.strip(), captured.err


@pytest.mark.parametrize("benchmark", ["moviechat", "nextoe"])
def test_an_open_ended_benchmark_is_judged(capsys, benchmark):
    assert stage_of(capsys, f"video_llama/{benchmark}") == (EXIT_OK, "judge", "")


def test_a_multiple_choice_benchmark_is_matched_and_a_letter_backbone_needs_no_embedder(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert stage_of(capsys, "videochat2/nextqa", "protocol/paper")[:2] == (EXIT_OK, "match")


def test_the_missing_key_of_the_paper_matcher_stops_before_predicting(capsys, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    code, out, err = stage_of(capsys, "video_llama/nextqa", "memory/sticky", "protocol/paper")
    assert code == EXIT_USER_ERROR and out == "" and "OPENAI_API_KEY" in err and err.count("\n") == 1


def test_every_task_in_the_table_has_a_stage(capsys):
    for name, task in TASKS.items():
        code, out, _ = stage_of(capsys, "videochat2/nextqa", overrides=(f"data.benchmark={name}",))
        assert (code, out) == (EXIT_OK, "judge" if task.kind == "judged" else "match"), name


def test_the_reproduction_script_names_no_benchmark():
    code = [line for line in (REPO / "scripts/reproduce/_row.sh").read_text().splitlines() if not line.lstrip().startswith("#")]
    named = {name for name in task_names(aliases=True) for line in code if re.search(rf"\b{name}\b", line)}
    assert named == set() and any("check-scoring" in line for line in code)


def test_the_reference_scripts_take_the_task_tables_names(capsys):
    for entry, flag, names in ((accuracy_main, "--dataset", task_names(aliases=True)), (extract_main, "--benchmark", task_names())):
        with pytest.raises(SystemExit):
            entry(["--help"])
        usage = " ".join(capsys.readouterr().out.split())
        assert f"{flag} {{{','.join(names)}}}" in usage
        with pytest.raises(SystemExit) as refused:
            entry(["--input_path", "x", "--output_path", "y", flag, "not_a_benchmark"])
        assert refused.value.code == 2 and "invalid choice" in capsys.readouterr().err
