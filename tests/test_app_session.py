"""The app's core without gradio (infvideo/app/session.py, chat.py, cli.py): a video is encoded once,
new memory settings re-run only memory + answer, bad uploads are one clear error, files are cleaned up.
The page itself is driven in a real browser by tests/browser/ (make test-app-browser)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from infvideo.app.chat import parse_set, run_chat
from infvideo.app.session import (
    BINS_PER_CHUNK,
    AppSession,
    MemoryControls,
    app_config,
    peak_bins,
    peak_frame,
)
from infvideo.cli.main import main
from infvideo.demo.synthetic_data import DemoSettings, write_video
from infvideo.errors import UserError

QUESTION = "what colour is the first square?"


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    # 60 s at 4 fps: 240 frames, 8 chunks of 4 sampled frames (the app's default rule)
    return write_video(tmp_path_factory.mktemp("video") / "clip.mp4", DemoSettings(seconds=60, fps=4))


def tiny_config(*overrides: str):
    return app_config(None, ["sampling.frames_per_chunk=4", "generation.max_new_tokens=4", *overrides])


@pytest.fixture
def session():
    with AppSession(tiny_config()) as s:
        yield s


def with_(controls: MemoryControls, **changes) -> MemoryControls:
    return MemoryControls(**{**controls.__dict__, **changes})


def test_the_video_is_encoded_once_with_progress_and_questions_reuse_it(session, video):
    seen = []
    loaded = session.load(video, progress=lambda done, total: seen.append((done, total)))
    assert len(loaded.chunks) == 8 and len(loaded.tokens) == 8
    assert session.encoder_calls == 8  # one vision-encoder forward per chunk
    assert seen == [(i, 8) for i in range(1, 9)]
    assert not loaded.cached and "8 chunks" in loaded.describe()
    first = session.ask(QUESTION)
    second = session.ask("what happens at the end?")
    assert first.answer is not None and second.question == "what happens at the end?"
    assert session.encoder_calls == 8


def test_new_memory_settings_rerun_memory_and_answer_without_the_encoder(session, video):
    session.load(video)
    calls = session.encoder_calls
    base = session.controls()
    before = session.ask(QUESTION, controls=with_(base, tau=0.75, sticky=False))
    after = session.ask(QUESTION, controls=with_(base, tau=0.3, sticky=False))
    assert session.encoder_calls == calls
    assert session.config.memory.tau == 0.3 and session.backend.config.memory.tau == 0.3  # the loaded model took it
    assert before.figure != after.figure and before.figure.exists() and after.figure.exists()
    assert before.density.shape == after.density.shape == (8, 8 * BINS_PER_CHUNK)
    # tau moves where the old chunks sit in memory time, so the density over video time changes
    assert not torch.allclose(before.density, after.density)
    again = session.ask(QUESTION, controls=with_(base, tau=0.75, sticky=False))
    assert torch.allclose(again.density, before.density)  # same settings, same memory (seeded per question)
    # alpha and num_basis reach the model too, still without encoding
    session.ask(QUESTION, controls=with_(base, alpha=0.25, num_basis=32))
    assert session.config.model.alpha == 0.25 and session.config.memory.num_basis == 32
    assert session.encoder_calls == calls


def test_peaks_are_frames_of_the_video_with_thumbnails(session, video):
    loaded = session.load(video)
    reply = session.ask(QUESTION)
    assert 1 <= len(reply.peaks) <= 4
    sampled = {frame for chunk in loaded.chunks for frame in chunk}
    for peak in reply.peaks:
        assert peak.frame in sampled
        assert peak.image.dtype == np.uint8 and peak.image.shape == (64, 64, 3)
        assert peak.seconds == pytest.approx(peak.frame / 4.0)
        assert 0 < peak.weight <= 1
    assert max(p.weight for p in reply.peaks) == pytest.approx(1.0)
    assert [p.frame for p in reply.peaks] == sorted(p.frame for p in reply.peaks)


def test_memories_without_a_density_and_alpha_one_answer_with_a_note(session, video):
    session.load(video)
    base = session.controls()
    tokens = session.ask(QUESTION, controls=with_(base, kind="moviechat"))
    assert tokens.figure is None and tokens.peaks == [] and "moviechat" in tokens.note
    off = session.ask(QUESTION, controls=with_(base, kind="continuous", alpha=1.0))
    assert off.figure is None and "alpha = 1" in off.note
    none = session.ask(QUESTION, controls=with_(base, kind="none"))
    assert none.figure is None and "memory kind none: no long-term memory" in none.note
    assert session.encoder_calls == 8


def test_bad_memory_settings_are_user_errors_and_change_nothing(session, video):
    session.load(video)
    base = session.controls()
    with pytest.raises(UserError, match="tau"):
        session.ask(QUESTION, controls=with_(base, tau=1.5))
    with pytest.raises(UserError, match="memory kind"):
        session.ask(QUESTION, controls=with_(base, kind="lstm"))
    assert session.controls() == base


def test_options_are_matched_to_one_option(session, video):
    session.load(video)
    options = ["a red square", "a green bar", "a blue square"]
    reply = session.ask(QUESTION, options)
    assert reply.letter in ("A", "B", "C") and reply.method == "embedding"
    assert reply.option == options["ABC".index(reply.letter)]
    assert reply.chosen() == f"({reply.letter}) {reply.option}"


def test_question_checks(session, video):
    with pytest.raises(UserError, match="load a video first"):
        session.ask(QUESTION)
    session.load(video)
    with pytest.raises(UserError, match="empty"):
        session.ask("   ")
    with pytest.raises(UserError, match="2 to"):
        session.ask(QUESTION, ["only one"])


def test_cached_tokens_are_read_not_encoded(tmp_path, video):
    config = tiny_config(f"run.token_cache={tmp_path / 'tokens'}")
    with AppSession(config) as first:
        first.load(video)
        assert first.encoder_calls == 8
    with AppSession(config) as second:
        loaded = second.load(video)
        assert second.encoder_calls == 0 and loaded.cached and "token cache" in loaded.describe()
        assert second.ask(QUESTION).figure is not None


def _audio_only(path: Path) -> Path:
    import av

    with av.open(str(path), "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), dtype=np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return path


@pytest.mark.parametrize("kind", ["text", "truncated", "audio"])
def test_a_bad_upload_is_one_clear_error_and_the_session_goes_on(session, video, tmp_path, kind):
    if kind == "text":
        bad = tmp_path / "notes.mp4"
        bad.write_text("this is not a video\n")
    elif kind == "truncated":
        bad = tmp_path / "cut.mp4"
        data = video.read_bytes()
        bad.write_bytes(data[: len(data) // 3])
    else:
        bad = _audio_only(tmp_path / "sound.wav")
    session.load(video)
    stored = session.accept_upload(bad)
    with pytest.raises(UserError, match=f"{bad.name} is not a video this app can read") as error:
        session.load(stored, name=bad.name)
    assert "\n" not in str(error.value) and str(session.workdir) not in str(error.value)
    if kind == "audio":
        assert "no video stream" in str(error.value)
    assert session.video.path == video  # the previous video stays loaded
    assert session.ask(QUESTION).answer is not None


def test_uploads_are_size_limited_and_removed_on_close(tmp_path, video):
    small = AppSession(tiny_config(), max_upload_bytes=video.stat().st_size - 1)
    try:
        with pytest.raises(UserError, match="over the upload limit"):
            small.accept_upload(video)
    finally:
        small.close()
    with AppSession(tiny_config()) as session:
        stored = session.accept_upload(video, name="my clip.mp4")
        assert stored.parent == session.workdir / "uploads" and stored.read_bytes() == video.read_bytes()
        session.accept_upload(video, name="second.mp4")
        assert [p.name for p in session.uploads.iterdir()] == ["second.mp4"]  # one upload kept at a time
        session.load(session.accept_upload(video))
        session.ask(QUESTION)
        workdir = session.workdir
    assert not workdir.exists()  # uploads, figures and tokens all gone


def test_defaults_are_the_tiny_preset_and_a_config_replaces_them():
    config = app_config()
    assert config.model.preset == "tiny" and config.memory.num_basis == 64 and config.memory.sticky
    assert app_config(None, [], {"alpha": 0.3}).model.alpha == 0.3  # a flag beats the app's defaults
    shipped = app_config(["tiny/nextqa"], ["memory.tau=0.5"])
    assert shipped.memory.tau == 0.5 and shipped.data.benchmark == "nextqa"
    with pytest.raises(UserError, match="tau"):
        app_config(None, ["memory.tau=3"])


def test_peak_bins_and_frames():
    density = torch.zeros(64)
    density[10], density[11], density[40], density[50] = 3.0, 2.5, 1.0, 2.0
    assert peak_bins(density, 4, 8) == [10, 50, 40]  # 11 is too close to 10; highest first
    assert peak_bins(density, 1, 8) == [10]
    assert peak_bins(torch.ones(64), 4, 8) == []
    chunks = [[0, 10, 20, 30], [40, 50, 60, 70]]
    assert peak_frame(chunks, 0, 32) == 0
    assert peak_frame(chunks, 31, 32) == 30
    assert peak_frame(chunks, 32 + 17, 32) == 60
    assert peak_frame(chunks, 10_000, 32) == 70  # past the end: the last chunk's last frame


def test_parse_set():
    base = MemoryControls("continuous", 0.75, 0.5, 64, True)
    assert parse_set(" tau=0.3 sticky=false num-basis=32", base) == MemoryControls("continuous", 0.3, 0.5, 32, False)
    with pytest.raises(UserError, match="name=value"):
        parse_set("gamma=1", base)
    with pytest.raises(UserError, match="not a float"):
        parse_set("tau=high", base)
    with pytest.raises(UserError, match="not a bool"):
        parse_set("sticky=maybe", base)


def test_chat_encodes_once_and_answers_each_line(video, tmp_path):
    lines = iter([f"{QUESTION} | red | green | blue", ":set tau=0.3 sticky=false", "", "what is at the end?", ":set tau=7", ":settings"])

    def read(prompt: str) -> str:
        try:
            return next(lines)
        except StopIteration:
            raise EOFError from None

    out: list[str] = []
    with AppSession(tiny_config(), figure_dir=tmp_path / "figures") as session:
        assert run_chat(session, str(video), read, out.append) == 0
        assert session.encoder_calls == 8
    text = "\n".join(out)
    assert "answers are noise" in out[0]
    assert text.count("answer: ") == 2 and "chosen option: (" in text
    assert "tau 0.3" in text and "error: invalid run config: memory: tau" in text
    assert text.count("encoder calls so far: 8") == 2
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["attention-1.png", "attention-2.png"]  # kept after the chat


def test_chat_with_a_bad_video_is_one_line(tmp_path, capsys):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello")
    assert main(["chat", str(bad), "--figures", str(tmp_path / "f"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("infvideo: error: notes.txt is not a video this app can read") and "Traceback" not in err


def test_app_without_gradio_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "gradio", None)  # as if not installed (find_spec answers None)
    assert main(["app"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "infvideo: error: `infvideo app` needs gradio, which is not installed: pip install -e '.[app]'"


def test_the_core_and_the_command_line_never_import_gradio():
    code = "import sys, infvideo.app.session, infvideo.app.chat, infvideo.app.cli, infvideo.cli.main; print('gradio' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
