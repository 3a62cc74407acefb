"""The machinery behind every self-check: run an answer on cases, explain failures."""

from __future__ import annotations

import functools
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """A reader's answer gave a wrong result; the message says on what input and how."""


@dataclass(frozen=True)
class Case:
    """One test of an answer: call with ``args``, expect ``expected``; ``hint`` aids."""

    args: tuple
    expected: Any
    hint: str = ""
    kwargs: dict = field(default_factory=dict)
    rtol: float = 1e-6
    atol: float = 1e-8


def _short(value: Any) -> str:
    try:
        text = (
            np.array2string(np.asarray(value), precision=4, threshold=12)
            if isinstance(value, (np.ndarray, list, tuple))
            else repr(value)
        )
    except ValueError:  # ragged, e.g. a list of (W, b) pairs
        text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


def _hint(case: Case) -> str:
    return f"\n  hint: {case.hint}" if case.hint else ""


def _same(got: Any, expected: Any, case: Case) -> bool:
    if isinstance(expected, (int, float, np.ndarray, list, tuple, np.number)):
        got_a, exp_a = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
        return got_a.shape == exp_a.shape and np.allclose(
            got_a, exp_a, rtol=case.rtol, atol=case.atol, equal_nan=True
        )
    return got == expected


def run_checks(
    name: str, answer: Callable, cases: Sequence[Case], *, verbose: bool = True
) -> int:
    """Call ``answer`` on every case; raise ``CheckFailed`` at the first wrong result.

    An answer that still raises ``NotImplementedError`` is passed through unchanged, so
    an unfinished exercise reads as "not done yet", not as a wrong answer. Returns the
    number of cases passed and prints a one-line verdict.
    """
    if not callable(answer):
        raise CheckFailed(f"{name}: expected a function, got {type(answer).__name__}")
    for number, case in enumerate(cases, start=1):
        shown = ", ".join(_short(a) for a in case.args)
        try:
            got = answer(*case.args, **case.kwargs)
        except NotImplementedError:
            raise
        except Exception as err:  # the reader's code crashed: say where
            raise CheckFailed(
                f"{name}: case {number} ({shown}) raised {type(err).__name__}: {err}"
                + _hint(case)
            ) from err
        if not _same(got, case.expected, case):
            shape = ""
            if np.shape(got) != np.shape(case.expected):
                shape = f" (shape {np.shape(got)}, expected {np.shape(case.expected)})"
            raise CheckFailed(
                f"{name}: case {number} ({shown}) gave {_short(got)}{shape}, "
                f"expected {_short(case.expected)}" + _hint(case)
            )
    if verbose:
        print(f"✓ {name}: all {len(cases)} checks passed")
    return len(cases)


def check_value(
    name: str,
    got: Any,
    expected: Any,
    hint: str = "",
    rtol: float = 1e-6,
    verbose: bool = True,
) -> None:
    """Check a single value a reader computed (not a function)."""
    if got is Ellipsis or got is None:
        raise NotImplementedError(f"{name}: fill in your answer first")
    run_checks(
        name, lambda: got, [Case((), expected, hint, rtol=rtol)], verbose=verbose
    )


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and ipython.get_ipython() is not None


def _say(message: str, width: int = 88) -> None:
    """Print ``message`` with every line wrapped to ``width`` columns (the page's)."""
    for line in message.splitlines():
        indent = " " * (len(line) - len(line.lstrip()) + 2)
        print(textwrap.fill(line, width, subsequent_indent=indent))


def self_check(check: Callable[..., Any]) -> Callable[..., Any]:
    """Make ``check_*(answer)`` report in one line instead of a traceback.

    In a notebook the verdict is printed: ``✓`` (passed), ``✗`` with the failing case
    and a hint, or "not done yet" for an answer that still raises
    ``NotImplementedError``. Elsewhere (tests, scripts) or with ``strict=True`` the
    check raises as before: :class:`CheckFailed` or the ``NotImplementedError``.
    """

    @functools.wraps(check)
    def run(*args: Any, strict: bool | None = None, **kwargs: Any) -> Any:
        if strict if strict is not None else not _in_notebook():
            return check(*args, **kwargs)
        try:
            check(*args, **kwargs)
        except NotImplementedError as unfinished:
            _say(f"… not done yet: {unfinished or 'your code still raises'}")
        except CheckFailed as failure:
            _say(f"✗ {failure}")
        return None

    return run
