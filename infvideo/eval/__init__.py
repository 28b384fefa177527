"""Prompts, the resumable prediction runner, option matching, judges, metrics and reports."""
