"""The self-check machinery: right answers pass, wrong ones fail with a specific message."""

import numpy as np
import pytest

from wastelab.exercises import Case, CheckFailed, check_value, run_checks

CASES = [Case((np.array([1.0, 2.0]),), np.array([2.0, 4.0]), hint="multiply by two")]


def test_right_answer_passes_and_says_so(capsys):
    assert run_checks("double", lambda v: 2 * v, CASES) == 1
    assert "✓ double" in capsys.readouterr().out


def test_wrong_value_names_the_case_and_the_hint():
    with pytest.raises(
        CheckFailed, match=r"(?s)case 1 .*gave \[3\. 6\.\].*hint: multiply by two"
    ):
        run_checks("double", lambda v: 3 * v, CASES)


def test_wrong_shape_is_reported():
    with pytest.raises(CheckFailed, match="shape"):
        run_checks("double", lambda v: (2 * v)[:, None], CASES)


def test_crash_is_reported_as_failure():
    with pytest.raises(CheckFailed, match="raised ZeroDivisionError"):
        run_checks("double", lambda v: 1 / 0, CASES)


def test_unfinished_exercise_passes_not_implemented_through():
    def stub(v):
        raise NotImplementedError("fill me in")

    with pytest.raises(NotImplementedError):
        run_checks("double", stub, CASES)
    with pytest.raises(NotImplementedError):
        check_value("answer", ..., 3)


def test_check_value():
    check_value("answer", 92, 92, verbose=False)
    with pytest.raises(CheckFailed, match="expected 92"):
        check_value("answer", 91, 92)
