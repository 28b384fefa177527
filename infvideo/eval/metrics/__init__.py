"""The scoring stage (``infvideo score``): accuracies and judged scores of a run, as metrics.json.

Pure functions on records and letters/judgments (multiple_choice, open_ended), the reference
scripts' own checks of VideoChat2's answer text (reference_rules, for ``protocol.scoring:
reference``), the cells they fill (cells), the markdown table (tables), and ``score.score_run`` which
reads and writes a run directory. Which of them a benchmark uses is its row in infvideo/eval/tasks.py.
Import from the modules (this package re-exports nothing, so that tasks.py can name the metric
specs without importing the scoring stage).
"""
