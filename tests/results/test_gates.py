"""The --fail-if grammar: every form, precedence, errors with a caret, and that nothing is eval'd."""

from __future__ import annotations

import builtins

import pytest

from dlab.errors import UsageError
from dlab.results.gates import GateSyntaxError, parse_gate, tokenize

RUN = {"test.accuracy": 0.70, "wall_time_s": 130.0, "final.val.loss": 0.5, "zero": 0.0}
BASE = {"test.accuracy": 0.714, "wall_time_s": 100.0, "final.val.loss": 0.4, "zero": 0.0}


def judge(text: str, run=RUN, baseline=BASE):
    return parse_gate(text).judge("run-a", run, baseline)


@pytest.mark.parametrize(
    ("text", "fails"),
    [
        ("test.accuracy < baseline - 0.01", True),  # 0.70 < 0.704
        ("test.accuracy < baseline - 0.02", False),  # 0.70 < 0.694 is false
        ("wall_time_s > 1.2 * baseline", True),  # 130 > 120
        ("wall_time_s > 1.5 * baseline", False),
        ("test.accuracy <= 0.7", True),
        ("test.accuracy >= 0.7", True),
        ("test.accuracy > 0.7", False),
        ("test.accuracy == 0.7", True),
        ("test.accuracy != 0.7", False),
        ("final.val.loss / baseline.final.val.loss > 1.2", True),  # 1.25
        ("(wall_time_s - baseline) / baseline > 0.25", True),  # 0.3
        ("-test.accuracy > -0.5", False),
        ("+test.accuracy < 1", True),
        ("test.accuracy < 7e-1 + 1E-2", True),
        ("test.accuracy < .71", True),
    ],
)
def test_every_form_is_judged(text, fails):
    outcome = judge(text)
    assert outcome.problem is None
    assert outcome.failed is fails, outcome.describe()


def test_multiplication_binds_tighter_than_addition_and_subtraction_is_left_associative():
    values = {"m": 0.0}
    assert judge("m + 2 + 3 * 4 == 14", values, None).failed  # not (2 + 3) * 4 = 20
    assert judge("m + (2 + 3) * 4 == 20", values, None).failed
    assert judge("m + 10 - 4 - 3 == 3", values, None).failed  # not 10 - (4 - 3) = 9
    assert judge("m + 24 / 4 / 2 == 3", values, None).failed  # not 24 / (4 / 2) = 12
    assert judge("m + 2 * -3 == -6", values, None).failed
    assert judge("m - -2 == 2", values, None).failed


def test_the_outcome_lists_run_expression_and_values():
    outcome = judge("test.accuracy < baseline - 0.01")
    text = outcome.describe()
    assert text.startswith("run-a: test.accuracy < baseline - 0.01: 0.7 < 0.704")
    assert "test.accuracy 0.7" in text and "baseline 0.714" in text
    assert outcome.left == pytest.approx(0.70) and outcome.right == pytest.approx(0.704)


def test_division_by_zero_fails_the_gate_with_a_reason_instead_of_crashing():
    outcome = judge("test.accuracy / zero > 1")
    assert outcome.failed and outcome.problem == "division by zero"
    assert "cannot be evaluated: division by zero" in outcome.describe()


def test_a_metric_missing_from_a_run_fails_the_gate():
    outcome = judge("test.accuracy < 0.5", run={"wall_time_s": 1.0})
    assert outcome.failed and "test.accuracy is missing from this run" in outcome.problem
    outcome = judge("wall_time_s > baseline", baseline={"test.accuracy": 0.7})
    assert outcome.failed and "missing from the baseline" in outcome.problem


@pytest.mark.parametrize(
    ("text", "position", "problem"),
    [
        ("__import__('os').system('x') > 1", 11, "unexpected character"),
        ("test.accuracy.__class__ > 1", None, None),  # a valid (unknown) metric name, nothing more
        ("exec(1) > 0", 4, "function calls are not allowed"),
        ("test.accuracy < 0.9 and 1", 20, "unexpected 'and'"),
        ("test.accuracy", 13, "expected a comparison"),
        ("test.accuracy < ", 16, "expected a number"),
        ("(test.accuracy < 1", 15, "expected ')'"),
        ("test.accuracy < 1)", 17, "unexpected ')'"),
        ("test.accuracy = 1", 14, "'=' is not a comparison"),
        ("0 < test.accuracy < 1", 18, "only one comparison"),
        ("test.accuracy ** 2 > 1", 14, "'**' is not allowed"),
        ("test.accuracy < 1.2.3", 16, "not a number"),
        ("test.accuracy < 2x", 17, "after the number"),
        ("test['accuracy'] > 1", 4, "unexpected character"),
        ("lambda: 1 > 0", 6, "unexpected character"),
        ("", 0, "empty"),
        ("baseline > 1", 0, "'baseline' means"),
        ("test.accuracy > baseline * wall_time_s", 16, "'baseline' means"),
    ],
)
def test_bad_syntax_points_at_the_position(text, position, problem):
    if problem is None:
        assert parse_gate(text).metric_names() == ["test.accuracy.__class__"]
        return
    with pytest.raises(GateSyntaxError) as error:
        parse_gate(text)
    message = str(error.value)
    assert isinstance(error.value, UsageError)  # exit code 2
    assert problem in message
    assert f"at position {position + 1}:" in message
    source_line, caret_line = message.splitlines()[1:3]
    assert source_line == f"  {text}"
    assert caret_line == "  " + " " * position + "^"


def test_no_python_is_ever_evaluated(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec/compile must never be called")

    for name in ("eval", "exec", "compile", "__import__"):
        monkeypatch.setattr(builtins, name, forbidden)
    assert judge("(wall_time_s - baseline) / baseline > 0.25").failed
    with pytest.raises(GateSyntaxError):
        parse_gate("__import__('os').system('touch pwned') > 1")


def test_names_and_numbers_are_tokenized_as_the_grammar_says():
    kinds = [(token.kind, token.text) for token in tokenize("timing.train_samples_per_s>=1e3*baseline")]
    assert kinds == [
        ("name", "timing.train_samples_per_s"),
        ("cmp", ">="),
        ("number", "1e3"),
        ("op", "*"),
        ("name", "baseline"),
        ("end", ""),
    ]
    gate = parse_gate("baseline.wall_time_s * 2 < wall_time_s + baseline_time")
    assert gate.metric_names() == ["wall_time_s", "baseline_time"]
    assert gate.uses_baseline()
