"""The scoring stage (``infvideo score``): accuracies and judged scores of a run, as metrics.json.

Pure functions on records and letters/judgments (multiple_choice, open_ended), the reference
scripts' own checks of VideoChat2's answer text (reference_rules, for ``protocol.scoring:
reference``), the cells they fill (cells), the markdown table (tables), and ``score_run`` which
reads and writes a run directory.
"""

from .multiple_choice import egoschema_metrics, egoschema_submission, nextqa_metrics, video_mme_metrics
from .open_ended import judged_metrics
from .score import score_run
from .tables import metrics_markdown

__all__ = [
    "egoschema_metrics", "egoschema_submission", "judged_metrics", "metrics_markdown", "nextqa_metrics",
    "score_run", "video_mme_metrics",
]
