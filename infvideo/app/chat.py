"""``infvideo chat VIDEO``: the app's session in a terminal: one encoding, then a prompt per question.

A line is a question; ``question | option | option ...`` asks with options (the answer is matched to
one). ``:set tau=0.5 alpha=0.3 sticky=false kind=continuous num_basis=64`` changes the memory (the
next answers re-run only memory + answer), ``:settings`` shows it, ``:quit`` (or end of input) leaves.
Each answer prints the chosen option, the attention figure's path and the times of its peaks.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from infvideo.errors import UserError

from .session import TINY_NOTICE, AppSession, MemoryControls, Reply

HELP = "a question; `question | option | option ...` for options; `:set tau=0.5 alpha=0.3 sticky=false kind=continuous num_basis=64`; `:settings`; `:quit`"
_FIELDS = {f.name: f.type for f in dataclasses.fields(MemoryControls)}


def parse_set(text: str, current: MemoryControls) -> MemoryControls:
    """``:set`` arguments (``name=value`` pairs) applied to ``current``; an unknown name or bad value is a UserError."""
    changes = {}
    for item in text.split():
        name, _, value = item.partition("=")
        name = name.replace("-", "_")
        if name not in _FIELDS or not value:
            raise UserError(f":set takes name=value with a name of {', '.join(_FIELDS)}; got {item!r}")
        kind = _FIELDS[name]
        try:
            if kind == "bool":
                if value.lower() not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(value)
                changes[name] = value.lower() in ("true", "1", "yes", "on")
            else:
                changes[name] = {"float": float, "int": int}.get(kind, str)(value)
        except ValueError as error:
            raise UserError(f":set {name}: {value!r} is not a {kind}") from error
    return dataclasses.replace(current, **changes)


def describe(reply: Reply, encoder_calls: int) -> list[str]:
    lines = [f"answer: {reply.answer or '(empty)'}"]
    if reply.letter is not None:
        lines.append(f"chosen option: {reply.chosen()} ({reply.method})")
    if reply.figure is not None:
        lines.append(f"attention figure: {reply.figure}")
        lines.append("memory looked at: " + ", ".join(peak.caption() for peak in reply.peaks) if reply.peaks else "no peak (flat density)")
    if reply.note:
        lines.append(reply.note)
    lines.append(f"[{reply.controls.label()}; {reply.seconds:.1f} s; encoder calls so far: {encoder_calls}]")
    return lines


def run_chat(session: AppSession, video: str, read: Callable[[str], str] = input, write: Callable[[str], None] = print) -> int:
    """Encode ``video`` once, then answer lines from ``read`` until ``:quit`` or end of input."""
    if session.is_tiny:
        write(f"note: {TINY_NOTICE}")
    loaded = session.load(video)
    write(loaded.describe())
    write(HELP)
    controls = session.controls()
    while True:
        try:
            line = read("question> ").strip()
        except (EOFError, KeyboardInterrupt):
            write("")
            return 0
        if not line:
            continue
        if line in (":quit", ":q", ":exit"):
            return 0
        try:
            if line == ":settings":
                write(controls.label())
            elif line.startswith(":set"):
                wanted = parse_set(line.removeprefix(":set"), controls)
                wanted.applied_to(session.config)  # checked now, not at the next question
                controls = wanted
                write(f"memory: {controls.label()}")
            elif line.startswith(":"):
                write(HELP)
            else:
                question, *options = (part.strip() for part in line.split("|"))
                for text in describe(session.ask(question, options, controls), session.encoder_calls):
                    write(text)
        except UserError as error:  # a bad line is reported; the chat goes on
            write(f"error: {error}")
