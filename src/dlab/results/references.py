"""The kinds of ``reference:`` entries, read back from a run's saved config and judged.

A source states a number in one of four ways, and judging it any other way gives
false alarms: a point it measured (``value``, within a tolerance), a threshold it
went below (``max``) or above (``min``), or a range it gives (``low``/``high``).
``seed_dependent`` marks a number one report measured with one random init (an
initial cost, a first-epoch accuracy): it is shown, never failed, because another
init cannot be expected to repeat it.

A point is two-sided unless it says ``side: at_least`` (a published accuracy a run
may beat: anything above it passes) or ``side: at_most`` (a published loss or error).
``conditions`` say what the number holds under (epochs, data source, sample counts):
:func:`unmet_conditions` names those a run's saved config does not meet, and such a
run is "not comparable" rather than failed.

The saved config.yaml may come from any dlab version, so this module reads it
defensively (an old ``{value, source}`` entry is a point) rather than through the
config schema. A tolerance (``5%`` or ``0.01``) is parsed by the one parser the
schema validates with, :func:`dlab.config.references.parse_tolerance_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dlab.config.references import ALL_SAMPLES, CONDITION_KEYS, parse_tolerance_text
from dlab.errors import UsageError
from dlab.results.vocabulary import format_number

POINT, MAX, MIN, BAND = "point", "max", "min", "band"
BOTH, AT_LEAST, AT_MOST = "both", "at_least", "at_most"


@dataclass(frozen=True)
class Tolerance:
    """How far a result may be from a point reference: relative (a fraction of it) or absolute."""

    amount: float
    relative: bool

    def allowed(self, reference: float) -> float:
        return self.amount * abs(reference) if self.relative else self.amount

    def __str__(self) -> str:
        return f"{format_number(self.amount * 100)}%" if self.relative else format_number(self.amount)


def parse_tolerance(text: str | float, *, what: str = "--tolerance") -> Tolerance:
    """``"5%"`` -> 5% of the reference; ``"0.01"`` -> 0.01 in the metric's units.

    Raises:
        UsageError: not a non-negative number, with or without a percent sign.
    """
    try:
        amount, relative = parse_tolerance_text(text)
    except ValueError:
        raise UsageError(
            f"{what} '{text}' is not a tolerance. Give a percentage of the "
            "reference (e.g. 5%) or an absolute amount in the metric's units (e.g. 0.01)."
        ) from None
    return Tolerance(amount, relative)


@dataclass(frozen=True)
class Reference:
    """One entry of a config's ``reference:`` block."""

    key: str
    kind: str
    value: float | None = None  # the point, or the bound of max/min
    low: float | None = None
    high: float | None = None
    tolerance: Tolerance | None = None  # a point's own tolerance (else the command's)
    source: str = ""
    seed_dependent: bool = False
    side: str = BOTH  # a point's sides: both, at_least (higher passes), at_most (lower passes)
    conditions: tuple[tuple[str, Any], ...] = ()  # (condition, value) pairs, see CONDITION_KEYS

    def expected_text(self, default: Tolerance) -> str:
        """What the source expects, in words a reader takes in at a glance."""
        if self.kind == MAX:
            return f"<= {format_number(self.value)}"
        if self.kind == MIN:
            return f">= {format_number(self.value)}"
        if self.kind == BAND:
            return f"{format_number(self.low)} to {format_number(self.high)}"
        if self.side != BOTH:
            return f"{format_number(self.value)} or {'above' if self.side == AT_LEAST else 'below'}"
        return format_number(self.value)

    def tolerance_text(self, default: Tolerance) -> str:
        return str(self.tolerance or default) if self.kind == POINT else "-"

    def judge(self, actual: float, default: Tolerance) -> tuple[bool, str]:
        """``(passes, why)``: whether ``actual`` meets this reference, and the reason in words."""
        shown = format_number(actual)
        if self.kind == MAX:
            bound = float(self.value or 0.0)
            if actual <= bound + 1e-12:
                return True, f"{shown} <= {format_number(bound)}: at most the bound"
            return (
                False,
                f"{shown} > {format_number(bound)}: above the bound by {format_number(actual - bound)}",
            )
        if self.kind == MIN:
            bound = float(self.value or 0.0)
            if actual >= bound - 1e-12:
                return True, f"{shown} >= {format_number(bound)}: at least the bound"
            return (
                False,
                f"{shown} < {format_number(bound)}: below the bound by {format_number(bound - actual)}",
            )
        if self.kind == BAND:
            low, high = float(self.low or 0.0), float(self.high or 0.0)
            if actual < low - 1e-12:
                return False, f"{shown} is below the band by {format_number(low - actual)}"
            if actual > high + 1e-12:
                return False, f"{shown} is above the band by {format_number(actual - high)}"
            return True, f"{shown} is inside {format_number(low)} to {format_number(high)}"
        return self._judge_point(actual, self.tolerance or default)

    def _judge_point(self, actual: float, tolerance: Tolerance) -> tuple[bool, str]:
        value = float(self.value or 0.0)
        difference = actual - value
        allowed = tolerance.allowed(value)
        relative = f" ({100 * difference / abs(value):+.1f}%)" if value else ""
        side = "off" if difference == 0 else ("above" if difference > 0 else "below")
        distance = f"{format_number(abs(difference))}{relative} {side}" if difference else "exactly"
        if (self.side == AT_LEAST and difference > 0) or (self.side == AT_MOST and difference < 0):
            better = "at least" if self.side == AT_LEAST else "at most"
            return True, f"{distance} {format_number(value)}: {better} the reference (one-sided)"
        inside = abs(difference) <= allowed + 1e-12
        verdict = "within" if inside else "outside"
        return inside, f"{distance} {format_number(value)}, {verdict} +-{tolerance}"


def read_references(block: Any) -> list[Reference]:
    """The entries of a saved config's ``reference:`` block; nulls and unreadable entries are skipped.

    A run's config.yaml holds every field of the schema (``value: null, max: 0.177, ...``);
    an older one holds ``{value, source}``; a bare number is a point.
    """
    if not isinstance(block, dict):
        return []
    found = []
    for key, entry in block.items():
        if _number(entry) is not None:
            found.append(Reference(str(key), POINT, value=_number(entry)))
            continue
        if not isinstance(entry, dict):
            continue
        common = {
            "source": str(entry.get("source") or ""),
            "seed_dependent": entry.get("seed_dependent") is True,
            "conditions": _conditions(entry.get("conditions")),
        }
        side = entry.get("side") if entry.get("side") in (AT_LEAST, AT_MOST) else BOTH
        low, high = _number(entry.get("low")), _number(entry.get("high"))
        if _number(entry.get("value")) is not None:
            tolerance = entry.get("tolerance")
            parsed = None
            if tolerance is not None:
                try:
                    parsed = parse_tolerance(tolerance, what=f"reference '{key}' tolerance")
                except UsageError:
                    parsed = None  # an unreadable saved tolerance falls back to the command's
            found.append(
                Reference(
                    str(key), POINT, value=_number(entry["value"]), tolerance=parsed, side=side, **common
                )
            )
        elif _number(entry.get("max")) is not None:
            found.append(Reference(str(key), MAX, value=_number(entry["max"]), **common))
        elif _number(entry.get("min")) is not None:
            found.append(Reference(str(key), MIN, value=_number(entry["min"]), **common))
        elif low is not None and high is not None:
            found.append(Reference(str(key), BAND, low=low, high=high, **common))
    return found


def _conditions(block: Any) -> tuple[tuple[str, Any], ...]:
    """The known conditions a saved entry states (unknown names and nulls are skipped)."""
    if not isinstance(block, dict):
        return ()
    return tuple((name, block[name]) for name in CONDITION_KEYS if block.get(name) is not None)


def unmet_conditions(reference: Reference, config: dict[str, Any]) -> list[str]:
    """The conditions of ``reference`` that a run's saved config does not meet, in words.

    ``["epochs 2, not 10", "data_source file, not keras"]``; empty when the run meets them
    all (or the reference states none). ``train_samples: all`` means the run's
    ``data.train_samples`` is null: it trained on the whole split.
    """
    unmet = []
    for name, wanted in reference.conditions:
        actual = _dotted(config, CONDITION_KEYS[name])
        met = actual is None if wanted == ALL_SAMPLES else actual == wanted
        if not met:
            limit = name.endswith("_samples")  # a null sample count is the whole split
            shown = actual if actual is not None else (ALL_SAMPLES if limit else "not set")
            unmet.append(f"{name} {shown}, not {wanted}")
    return unmet


def _dotted(config: dict[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _number(value: Any) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
