"""What graders need and students must not get: reference answers and hidden tests.

Two things live here, beside the exporter and outside the installed package:

- **Reference answers of the value exercises** (``ch07_majority_f1`` ...): a chapter's
  value stub names one in its metadata (``solution: tools.answers.ch07_majority_f1``,
  ``answer: majority_f1``). Each is computed by running the book's own code on the
  exercise's inputs, never typed in, and each is self-contained (its imports inside), so
  that the exporter can copy it whole into the instructor and nbgrader notebooks.
- **Hidden tests** for the nbgrader edition (:func:`hidden_tests`): the exporter runs each
  check cell once, at export time, on the references, records the inputs the checks try
  and what the reference returns on them, and writes them into the test cell as literals
  between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. The hidden tests need
  numpy only: they never call into ``wastelab``, so neither replacing the package's checks
  nor aliasing its functions helps a student (every ``my_*`` must be defined in the
  notebook).
"""

from __future__ import annotations

import ast
import contextlib
import copy
import functools
import importlib
import inspect
import io
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np


# ------------------------------------------------------------ value exercises (chapters)
def ch02_baseline_accuracy() -> float:
    """Chapter 2: accuracy of always answering "other" (class 0) on the default test split."""
    import numpy as np

    from wastelab import metrics
    from wastelab.data import load_default

    data = load_default(verbose=0)
    always_other = np.zeros_like(data.y_test)
    return metrics.binary_report(data.y_test, always_other)["accuracy"]


def ch05_tape_gradient() -> float:
    """Chapter 5: dy/dx of y = x**3 - 2x at x = 2, from ``tf.GradientTape``."""
    import tensorflow as tf

    x = tf.constant(2.0)
    with tf.GradientTape() as tape:
        tape.watch(x)  # a constant is not watched by itself (a tf.Variable would be)
        y = x**3 - 2 * x
    return float(tape.gradient(y, x))


def ch06_steps_per_epoch() -> int:
    """Chapter 6: training steps in one epoch of 1,000 images in batches of 64."""
    from wastelab.data.pipeline import steps_per_epoch

    return steps_per_epoch(1000, 64)


def ch07_majority_accuracy() -> float:
    """Chapter 7: accuracy of always answering "other" on 2,000 photos, 140 bottles."""
    photos, bottles = 2000, 140
    tn = photos - bottles  # right on every photo without a bottle, never on one with
    return tn / photos


def ch07_majority_f1() -> float:
    """Chapter 7: bottle F1 of always answering "other" (0 / 0 counts as 0)."""
    bottles = 140
    tp, fp, fn = 0, 0, bottles  # never says "bottle": every bottle missed
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def ch07_always_bottle_f1() -> float:
    """Chapter 7: bottle F1 of always answering "bottle" on the same survey."""
    photos, bottles = 2000, 140
    # always "bottle": every bottle found, every other photo a false alarm
    tp, fp, fn = bottles, photos - bottles, 0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def ch09_conv_params() -> int:
    """Chapter 9: parameters of a layer of 32 filters of 5 x 5 on RGB images."""
    import keras

    layer = keras.layers.Conv2D(32, (5, 5))
    layer.build((None, 50, 50, 3))  # any image size: the count does not depend on it
    return int(layer.count_params())


def ch11_steps_on_four_gpus() -> int:
    """Chapter 11: steps in one epoch of 10,000 images on 4 GPUs, 256 images per GPU."""
    from wastelab.data.pipeline import steps_per_epoch

    global_batch = 4 * 256  # every step consumes one batch per GPU
    return steps_per_epoch(10_000, global_batch)


VALUE_ANSWERS = (
    ch02_baseline_accuracy,
    ch05_tape_gradient,
    ch06_steps_per_epoch,
    ch07_majority_accuracy,
    ch07_majority_f1,
    ch07_always_bottle_f1,
    ch09_conv_params,
    ch11_steps_on_four_gpus,
)

# Relative tolerance of a value's hidden test where the check's own is not known.
VALUE_RTOL = 1e-6


# ------------------------------------------------------------------------ hidden tests
class NotLiteral(ValueError):
    """A value that cannot be written as a Python literal (a model, a tensor, ...)."""


def literal(value: Any, limit: int = 50_000) -> str:
    """``value`` as Python source that rebuilds it with numpy only.

    Numbers, strings, ``None``, tuples, lists, dicts and numpy arrays and scalars of
    numeric or boolean dtype; anything else raises :class:`NotLiteral`, as does a text
    longer than ``limit`` characters.
    """
    text = _literal(value)
    if len(text) > limit:
        raise NotLiteral(f"{len(text)} characters")
    return text


def _float(x: float) -> str:
    if math.isnan(x):
        return "float('nan')"
    if math.isinf(x):
        return "float('inf')" if x > 0 else "-float('inf')"
    return repr(float(x))


def _literal(value: Any) -> str:
    if value is None or isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, np.ndarray):
        kind = value.dtype.kind
        if kind not in "biuf":
            raise NotLiteral(f"array of dtype {value.dtype}")
        flat = value.ravel().tolist()  # Python bool, int or float
        items = ", ".join(_float(x) if kind == "f" else repr(x) for x in flat)
        made = f"np.array([{items}], dtype=np.{value.dtype.name})"
        return made if value.ndim == 1 else f"{made}.reshape({value.shape!r})"
    if isinstance(value, np.generic):
        if value.dtype.kind not in "biuf":
            raise NotLiteral(f"numpy scalar of dtype {value.dtype}")
        return f"np.{value.dtype.name}({_literal(value.item())})"
    if isinstance(value, tuple):
        inner = ", ".join(_literal(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items())
            + "}"
        )
    raise NotLiteral(type(value).__name__)


@dataclass
class Case:
    """One hidden test of a function: ``function(*args, **kwargs)`` should be close to
    ``expected`` (the reference's result), optionally with float errors raised."""

    args: tuple
    kwargs: dict
    expected: Any
    strict: bool = False
    rtol: float = 1e-6
    atol: float = 1e-8


@dataclass
class Recorded:
    """What running a check cell on the references gave (see :func:`record`)."""

    cases: dict[str, list[Case]] = field(default_factory=dict)  # my_* name -> cases
    value_tolerance: dict[str, tuple[float, float]] = field(default_factory=dict)
    problem: str = ""  # why the cell could not be run ("" when it ran)


def _strict_now() -> bool:
    errors = np.geterr()
    return errors["over"] == "raise" or errors["invalid"] == "raise"


def resolve(dotted: str) -> Any:
    """The object at ``dotted`` (``package.module.name`` or ``module.Class.method``)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for part in parts[cut:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(f"cannot import {dotted!r}")


def _accepts_strict(function: Any) -> bool:
    try:
        parameters = inspect.signature(function, follow_wrapped=False).parameters
    except (TypeError, ValueError):
        return False
    return "strict" in parameters


def _import_names(source: str) -> dict[str, Any]:
    """The names the cell's import statements bind (the statements run here)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    imports = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    namespace: dict[str, Any] = {}
    for node in imports:
        try:
            exec(compile(ast.Module([node], []), "<check cell>", "exec"), namespace)
        except Exception:  # an import that fails here fails in the notebook too
            continue
    return namespace


def strict_checks(source: str) -> str:
    """``source`` with ``strict=True`` added to every call of a ``check_*`` self-check.

    A self-check prints its verdict in a notebook; with ``strict=True`` it raises instead,
    so a wrong or unfinished answer fails the cell (nbgrader's test cells, its Validate
    button, and the exporter's own run of the checks on the references).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return source
    names = _import_names(source)
    lines = source.split("\n")
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if not name.startswith("check_") or any(
            k.arg == "strict" for k in node.keywords
        ):
            continue
        target = names.get(name) if isinstance(func, ast.Name) else None
        if target is not None and not _accepts_strict(target):
            continue
        calls.append(node)
    edits = []  # (line, byte offset, text): after the last argument, or in "()"
    for node in calls:
        last = max(
            [*node.args, *node.keywords],
            key=lambda n: (n.end_lineno, n.end_col_offset),
            default=None,
        )
        if last is None:
            edits.append((node.end_lineno, node.end_col_offset - 1, "strict=True"))
        else:
            edits.append((last.end_lineno, last.end_col_offset, ", strict=True"))
    for line, offset, text in sorted(edits, reverse=True):
        row = lines[line - 1].encode()  # ast offsets count bytes
        lines[line - 1] = (row[:offset] + text.encode() + row[offset:]).decode()
    return "\n".join(lines)


def _copy(value: Any) -> Any:
    try:
        return copy.deepcopy(value)
    except Exception:  # a model or a tensor: not a literal anyway
        return value


def _spy(name: str, function: Callable, log: list) -> Callable:
    """``function``, logging each call: inputs, result, whether float errors raise."""

    @functools.wraps(function)
    def spy(*args, **kwargs):
        given = (_copy(args), _copy(kwargs))
        result = function(*args, **kwargs)
        log.append((name, *given, _copy(result), _strict_now()))
        return result

    return spy


def record(
    check_source: str, functions: dict[str, Callable], values: dict[str, Any]
) -> Recorded:
    """Run a check cell with each ``my_*`` name bound to its reference (``functions``)
    and each value name to its reference value (``values``); record the checks' cases.

    Every ``run_checks`` call the checks make is recorded; each of its cases is then
    replayed once to see which reference it reaches, with what arguments, whether under
    raised float errors (``np.errstate(over="raise")``, the checks' overflow test), and
    what the reference returns. A reference that fails its own check raises
    ``ValueError``; a cell that cannot run here (it needs variables of the notebook)
    gives a :class:`Recorded` with ``problem`` set.
    """
    from wastelab.exercises import core

    original = core.run_checks
    calls: list[tuple[str, Callable, list]] = []

    def recording(name, answer, cases, *, verbose=True):
        calls.append((name, answer, list(cases)))
        return original(name, answer, cases, verbose=False)

    log: list = []
    namespace: dict[str, Any] = {"__name__": "__wastelab_export__"}
    namespace.update({n: _spy(n, f, log) for n, f in functions.items()})
    namespace.update(values)
    source = strict_checks(check_source)
    _import_names(source)  # import the check modules before patching them
    patched = [
        m
        for m in list(sys.modules.values())
        if getattr(m, "run_checks", None) is original
    ]
    for module in patched:
        module.run_checks = recording
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<check cell>", "exec"), namespace)
    except NameError as err:
        return Recorded(
            problem=f"the check cell needs the notebook's variables ({err})"
        )
    except core.CheckFailed as err:
        raise ValueError(f"the reference fails its own check: {err}") from err
    except Exception as err:  # anything else: the cell cannot be run here
        return Recorded(problem=f"{type(err).__name__}: {err}")
    finally:
        for module in patched:
            module.run_checks = original
    recorded = Recorded()
    seen: set[str] = set()
    for _name, answer, cases in calls:
        for case in cases:
            log.clear()
            try:
                result = answer(*case.args, **case.kwargs)
            except Exception:
                continue
            if not log and not case.args:  # a value: ``lambda: got``
                for var, value in values.items():
                    if _close_enough(result, value):
                        recorded.value_tolerance[var] = (case.rtol, case.atol)
                continue
            for name, args, kwargs, expected, strict in log:
                hidden = Case(args, kwargs, expected, strict, case.rtol, case.atol)
                try:
                    key = name + literal((args, kwargs, expected, strict))
                except NotLiteral:
                    continue
                if key not in seen:
                    seen.add(key)
                    recorded.cases.setdefault(name, []).append(hidden)
    return recorded


def _close_enough(a: Any, b: Any) -> bool:
    try:
        return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-9))
    except (TypeError, ValueError):
        return False


_HELPERS = '''\
import warnings as _hidden_warnings

import numpy as np


def _hidden_close(got, want, rtol, atol):
    """True when got matches want: numbers and arrays within the tolerance."""
    if isinstance(want, dict):
        return (
            isinstance(got, dict)
            and set(got) == set(want)
            and all(_hidden_close(got[k], want[k], rtol, atol) for k in want)
        )
    if want is None or isinstance(want, (str, bool)):
        return got == want
    try:
        got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    except (TypeError, ValueError):
        return False
    return got.shape == want.shape and bool(
        np.allclose(got, want, rtol=rtol, atol=atol, equal_nan=True)
    )


def _hidden_call(function, args, kwargs, strict):
    """function(*args, **kwargs), with overflow raised as an error when strict."""
    if not strict:
        return function(*args, **kwargs)
    with _hidden_warnings.catch_warnings(), np.errstate(over="raise", invalid="raise"):
        _hidden_warnings.simplefilter("error", RuntimeWarning)
        return function(*args, **kwargs)
'''


def hidden_tests(
    cases: dict[str, list[Case]], values: dict[str, tuple[Any, float, float]]
) -> str:
    """The hidden part of an nbgrader test cell, markers included.

    ``cases``: per function name, what it must return (from :func:`record`); ``values``:
    per value name, ``(expected, rtol, atol)``. Every function must be defined in the
    notebook itself (``__module__ == "__main__"``): an alias of the package's function,
    or one imported from it, fails.
    """
    out = [
        "### BEGIN HIDDEN TESTS",
        "# Hidden tests, written by `python -m tools.export` from the book's reference",
        "# solution when this notebook was exported: literal inputs and expected values.",
        _HELPERS.rstrip("\n"),
        "",
    ]
    for name, function_cases in cases.items():
        rows = [
            f"    ({literal(c.args)}, {literal(c.kwargs)}, {literal(c.expected)}, "
            f"{c.strict!r}, {c.rtol!r}, {c.atol!r}),"
            for c in function_cases
        ]
        out += [
            "",
            f'assert getattr({name}, "__module__", None) == "__main__", (',
            f'    "{name} must be a function written in this notebook, not one imported '
            'or aliased"',
            ")",
            "for _case, (_args, _kwargs, _want, _strict, _rtol, _atol) in enumerate([",
            *rows,
            "]):",
            f"    _got = _hidden_call({name}, _args, _kwargs, _strict)",
            "    assert _hidden_close(_got, _want, _rtol, _atol), (",
            f'        f"{name}: hidden test {{_case + 1}} failed"',
            "    )",
        ]
    for name, (expected, rtol, atol) in values.items():
        out += [
            "",
            f"assert _hidden_close({name}, {literal(expected)}, {rtol!r}, {atol!r}), (",
            f'    "{name}: hidden test failed"',
            ")",
        ]
    out.append("### END HIDDEN TESTS")
    return "\n".join(out)
