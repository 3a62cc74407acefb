"""Self-checks for the book's exercises: call one on your answer, get a verdict.

Each chapter's checks live in ``wastelab.exercises.chNN``; all are importable from here.
"""

from .core import Case, CheckFailed, check_value, run_checks, self_check

__all__ = ["Case", "CheckFailed", "check_value", "run_checks", "self_check"]
