"""The ``app`` and ``chat`` commands (registered by ``infvideo/cli/main.py``). gradio is imported only
when the page is served, so ``chat`` and the rest of the command line work without the ``app`` extra."""

from __future__ import annotations

import argparse
import importlib.util
import signal
import sys

from infvideo.cli.main import add_run_arguments, flag_values
from infvideo.errors import UserError

from .session import MAX_UPLOAD_BYTES, AppSession, app_config

INSTALL_HINT = "pip install -e '.[app]'"


def _session(args: argparse.Namespace, **options) -> AppSession:
    return AppSession(app_config(args.config, args.overrides, flag_values(args)), **options)


def _app(args: argparse.Namespace) -> int:
    if importlib.util.find_spec("gradio") is None:
        raise UserError(f"`infvideo app` needs gradio, which is not installed: {INSTALL_HINT}")
    if args.max_upload_mb <= 0:
        raise UserError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    from .web import serve

    # `kill` (SIGTERM) stops the server like Ctrl-C does, so the session's temporary folder (uploads) is removed.
    signal.signal(signal.SIGTERM, _interrupt)
    with _session(args, max_upload_bytes=int(args.max_upload_mb * 1024**2)) as session:
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"infvideo: warning: serving on {args.host}: anyone who reaches it can upload videos and run the model", file=sys.stderr)
        serve(session, host=args.host, port=args.port)
    return 0


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _chat(args: argparse.Namespace) -> int:
    from .chat import run_chat

    with _session(args, figure_dir=args.figures) as session:
        return run_chat(session, args.video)


def add_app_commands(commands) -> None:
    app = commands.add_parser(
        "app",
        help="ask a video questions in the browser and see where the memory looked (needs the app extra)",
        description="Serve a page (Gradio) to pick the demo video or upload one, ask questions, change the memory "
        "settings and see the attention density over video time. Without --config: the tiny random-weight model "
        f"(answers are noise). Install: {INSTALL_HINT}",
    )
    add_run_arguments(app)
    app.add_argument("--host", default="127.0.0.1", help="address to serve on (default: loopback only)")
    app.add_argument("--port", type=int, default=None, help="port (default: gradio's, 7860 or the next free one)")
    app.add_argument("--max-upload-mb", type=float, default=MAX_UPLOAD_BYTES / 1024**2, help="largest upload accepted, in MiB")
    app.set_defaults(run=_app)

    chat = commands.add_parser(
        "chat",
        help="ask a video questions in the terminal (one encoding, a prompt per question)",
        description="Encode VIDEO once, then answer questions typed at the prompt; `question | option | option` "
        "for multiple choice, `:set tau=0.5` to change the memory, `:quit` to leave. Without --config: the tiny model.",
    )
    chat.add_argument("video", help="a video file")
    add_run_arguments(chat)
    chat.add_argument("--figures", default="outputs/chat", help="folder for the attention figures (kept after the chat)")
    chat.set_defaults(run=_chat)
