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


def test_self_check_prints_one_line_in_notebooks_and_raises_elsewhere(capsys):
    from wastelab.exercises import self_check

    @self_check
    def check_double(answer):
        """Check ``answer(v) == 2 * v``."""
        return run_checks("my_double", answer, CASES)

    def stub(v):
        raise NotImplementedError

    assert check_double.__doc__ == "Check ``answer(v) == 2 * v``."
    assert check_double(lambda v: 2 * v) == 1  # not in a notebook: the plain check
    with pytest.raises(CheckFailed):
        check_double(lambda v: 3 * v)
    with pytest.raises(NotImplementedError):
        check_double(stub)
    capsys.readouterr()
    assert check_double(lambda v: 3 * v, strict=False) is None
    wrong = capsys.readouterr().out
    assert wrong.startswith("✗ my_double: case 1") and "hint: multiply by two" in wrong
    check_double(stub, strict=False)
    assert capsys.readouterr().out.startswith("… not done yet")
    check_double(lambda v: 2 * v, strict=False)
    assert capsys.readouterr().out.startswith("✓ my_double")


def test_self_check_lines_fit_the_page(capsys):
    from wastelab.exercises import self_check

    @self_check
    def check_long(answer):
        raise CheckFailed("my_long: " + "a rather long explanation " * 8)

    check_long(None, strict=False)
    out = capsys.readouterr().out
    assert out.startswith("✗ my_long") and max(map(len, out.splitlines())) <= 88
