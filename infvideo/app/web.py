"""``infvideo app``: the Gradio page over one ``AppSession`` (the only module that imports gradio).

The page: the bundled demo video or an upload (decoded and encoded once, with progress), a question
with optional options, the memory controls, and per answer the chosen option, the attention density
over video time and the frames at its peaks. Changing a memory control re-answers the last question
(memory + LLM only). The status line (``#status``) always shows the encoder-call count, so a person or
a test can see that the vision encoder did not run again.

One model and one video per process, shared by every tab: a local research tool, not a multi-user
service; requests run one at a time (``_serial``) because the model and its memories are stateful.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from functools import wraps
from typing import Any

from infvideo.errors import UserError
from infvideo.memory.factory import MEMORY_KINDS

from .session import TINY_NOTICE, AppSession, MemoryControls, Reply

DEMO_CHOICE = "the demo video (synthetic, 3 minutes)"
# The page's own fonts: no font from the internet (the app runs offline, and loopback is its default).
SYSTEM_FONTS = (["ui-sans-serif", "system-ui", "sans-serif"], ["ui-monospace", "monospace"])


def build_page(session: AppSession):
    """The ``gr.Blocks`` page of ``session`` (not launched)."""
    import gradio as gr

    lock = threading.Lock()
    last: dict[str, Any] = {}  # the last question asked, for re-answering when a control changes

    def status(message: str | None = None) -> str:
        video = session.video.describe() if session.video else "no video loaded"
        line = f"{video} · encoder calls: {session.encoder_calls}"
        return f"{line}\n\n**{message}**" if message else line

    def _serial(handler: Callable) -> Callable:
        @wraps(handler)
        def run(*args):
            with lock:
                try:
                    return handler(*args)
                except UserError as error:  # shown in the page; the app goes on serving
                    return error_outputs(str(error))

        return run

    def error_outputs(message: str):
        return (status(f"error: {message}"), gr.skip(), gr.skip(), gr.skip())

    def load(path, name: str | None, progress) -> tuple:
        def report(done: int, total: int) -> None:
            progress((done, total), desc="encoding chunks", unit="chunks")

        progress(0, desc="decoding")
        session.load(path, report, name=name)
        last.clear()
        return (status("video ready: ask a question"), "", None, [])

    @_serial
    def load_demo(progress=gr.Progress()):  # noqa: B008 (gradio's way to ask for a progress bar)
        return load(session.demo_video(), "demo video", progress)

    @_serial
    def load_upload(upload, progress=gr.Progress()):  # noqa: B008
        if upload is None:
            return (status(), gr.skip(), gr.skip(), gr.skip())
        name = os.path.basename(str(upload))
        return load(session.accept_upload(upload, name), name, progress)

    def controls_of(kind, tau, alpha, num_basis, sticky) -> MemoryControls:
        if num_basis is None:
            raise UserError("num_basis needs a number")
        return MemoryControls(str(kind), float(tau), float(alpha), int(num_basis), bool(sticky))

    @_serial
    def ask(question, options, kind, tau, alpha, num_basis, sticky):
        lines = [line for line in (options or "").splitlines() if line.strip()]
        reply = session.ask(question or "", lines, controls_of(kind, tau, alpha, num_basis, sticky))
        last.update(question=question, options=lines)
        return render(reply)

    @_serial
    def reask(kind, tau, alpha, num_basis, sticky):
        if not last or session.video is None:
            return (status(), gr.skip(), gr.skip(), gr.skip())
        reply = session.ask(last["question"], last["options"], controls_of(kind, tau, alpha, num_basis, sticky))
        return render(reply)

    def render(reply: Reply):
        text = f"**Q:** {reply.question}\n\n**A:** {reply.answer or '(empty answer)'}"
        if reply.letter is not None:
            text += f"\n\n**Chosen option:** {reply.chosen()} ({reply.method})"
        elif reply.method == "none":
            text += "\n\n**Chosen option:** none (empty answer)"
        text += f"\n\n*{reply.controls.label()}; {reply.seconds:.1f} s (memory + answer)*"
        if reply.note:
            text += f"\n\n*{reply.note}*"
        gallery = [(peak.image, peak.caption()) for peak in reply.peaks]
        figure = str(reply.figure) if reply.figure else None
        return (status("answered"), text, figure, gallery)

    controls = MemoryControls.of(session.config)
    with gr.Blocks(title="infvideo: ask a long video", analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        gr.Markdown("# ∞-Video: ask a long video, see where its memory looked")
        if session.is_tiny:
            gr.Markdown(f"⚠️ {TINY_NOTICE}", elem_id="notice")
        with gr.Row():
            with gr.Column(scale=1):
                demo_button = gr.Button(f"Use {DEMO_CHOICE}", elem_id="demo-button")
                upload = gr.File(label="…or upload a video", file_count="single", type="filepath", elem_id="upload")
                state = gr.Markdown(status(), elem_id="status")
                gr.Markdown("### Memory")
                kind = gr.Dropdown(list(MEMORY_KINDS), value=controls.kind, label="memory kind", elem_id="kind")
                tau = gr.Slider(
                    0.05, 0.95, value=controls.tau, step=0.05, label="tau (share of memory time kept for the past)", elem_id="tau"
                )
                alpha = gr.Slider(
                    0.0, 1.0, value=controls.alpha, step=0.05, label="alpha (weight of the short-term memory; 1 = none)", elem_id="alpha"
                )
                num_basis = gr.Number(value=controls.num_basis, precision=0, minimum=1, label="num_basis (N)", elem_id="num-basis")
                sticky = gr.Checkbox(value=controls.sticky, label="sticky memories (uniform when off)", elem_id="sticky")
            with gr.Column(scale=2):
                question = gr.Textbox(label="question", placeholder="what happens at the end?", elem_id="question")
                options = gr.Textbox(label="options (one per line; leave empty for an open question)", lines=3, elem_id="options")
                ask_button = gr.Button("Ask", variant="primary", elem_id="ask-button")
                answer = gr.Markdown(elem_id="answer")
                figure = gr.Image(label="attention density over video time, after each chunk", type="filepath", elem_id="density")
                peaks = gr.Gallery(label="frames at the density's peaks", columns=4, height=260, elem_id="peaks")
        outputs = [state, answer, figure, peaks]
        memory = [kind, tau, alpha, num_basis, sticky]
        demo_button.click(load_demo, None, outputs)
        # the file box is emptied after each upload (kept or refused), ready for the next one
        upload.upload(load_upload, upload, outputs).then(lambda: None, None, upload)
        ask_button.click(ask, [question, options, *memory], outputs)
        question.submit(ask, [question, options, *memory], outputs)
        for control in (kind, num_basis, sticky):
            control.change(reask, memory, outputs, trigger_mode="always_last")
        for slider in (tau, alpha):
            slider.release(reask, memory, outputs, trigger_mode="always_last")
    return page


def serve(session: AppSession, host: str = "127.0.0.1", port: int | None = None, block: bool = True):
    """Launch the page; with ``block`` until interrupted. Uploads go to the session's temporary folder
    (removed by ``session.close``), and the server refuses any over the session's size limit."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ["GRADIO_TEMP_DIR"] = str(session.workdir / "gradio")  # gradio's own upload copies, inside the session's folder
    import gradio as gr

    page = build_page(session)
    page.queue(default_concurrency_limit=1)
    page.launch(
        server_name=host,
        server_port=port,
        prevent_thread_lock=not block,
        max_file_size=session.max_upload_bytes,
        ssr_mode=False,  # no Node server next to the Python one
        theme=gr.themes.Default(font=SYSTEM_FONTS[0], font_mono=SYSTEM_FONTS[1]),
        show_error=True,
        quiet=False,
    )
    return page
