"""Errors that are the user's to fix, and the exit codes the command line gives them.

A ``UserError`` says in one sentence what was asked and why it cannot be done (a bad config key or
value, a missing file, a file in the wrong format, a run directory missing a stage). The CLI prints
it as ``infvideo: error: <message>`` and exits with ``EXIT_USER_ERROR``; ``--debug`` shows the
traceback instead. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the stage ran but some items failed (a judge that could not judge everything, ...)
EXIT_USER_ERROR = 2  # what argparse also uses for a bad command line
EXIT_QUESTIONS_ERRORED = 3  # predict finished but wrote error lines; `predict --retry-errors` re-asks them


class UserError(ValueError):
    """Something the user asked for cannot be done as asked; the message alone tells them how to fix it.
    A ``ValueError``: library callers that catch bad values keep working."""
