"""References: what a config is known to reach, as a point, a bound or a band, with its source."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from dlab.config.data_sources import REAL_SOURCES
from dlab.config.strict import StrictModel

REFERENCE_KINDS = (
    "a point (value, optional tolerance: 5% or 0.01)",
    "an upper bound (max: at most this)",
    "a lower bound (min: at least this)",
    "a band (low and high)",
)
"""What a ``reference:`` entry may say, as its error messages list it."""

CONDITION_KEYS = {
    "epochs": "train.epochs",
    "data_source": "data.source",
    "train_samples": "data.train_samples",
    "test_samples": "data.test_samples",
    "samples": "data.samples",
}
"""Each condition a reference may state, and the config key of a run it is compared with."""

ALL_SAMPLES = "all"
"""``train_samples: all``: the source used the whole split (the run's ``data.*_samples`` is null)."""


class ReferenceConditions(StrictModel):
    """What a reference holds under: the settings the source's number was measured with.

    ``dlab check`` compares each with the run's saved config (:data:`CONDITION_KEYS`) and calls a
    run that differs "not comparable" instead of failing it: 2 epochs on a 600-sample file say
    nothing about a number published for 10 epochs on the whole download.
    """

    epochs: int | None = Field(None, ge=1, description="The epochs the source trained (train.epochs).")
    data_source: str | None = Field(
        None, description="Where the data came from (data.source): keras, builtin, file or dir."
    )
    train_samples: int | Literal["all"] | None = Field(
        None, description="The training samples (data.train_samples): a count, or all (no limit)."
    )
    test_samples: int | Literal["all"] | None = Field(
        None, description="The test samples (data.test_samples): a count, or all (no limit)."
    )
    samples: int | None = Field(None, ge=2, description="A generated dataset's size (data.samples).")

    @field_validator("data_source")
    @classmethod
    def _known_source(cls, value: str | None) -> str | None:
        if value is not None and value not in REAL_SOURCES:
            raise ValueError(f"data_source {value!r} is not one of {', '.join(REAL_SOURCES)}")
        return value


class ReferenceValue(StrictModel):
    """A result this config is known to reach on the real data, of the kind its source states.

    A point (``value``, optional ``tolerance``) is a number a source measured; a bound
    (``max``: "went below this", ``min``: "at least this") is a threshold; a band
    (``low``/``high``) is a range the source gives. ``seed_dependent`` marks a number one
    report measured with one random init: ``dlab check`` shows it and never fails on it,
    because a fresh run with another init cannot be expected to repeat it.
    """

    value: float | None = Field(None, description="A point value the source measured.")
    tolerance: float | str | None = Field(
        None, description="How far from value still counts: '5%' (relative) or 0.01 (absolute)."
    )
    max: float | None = Field(None, description="An upper bound: the result is at most this.")
    min: float | None = Field(None, description="A lower bound: the result is at least this.")
    low: float | None = Field(None, description="A band's lower end (with high).")
    high: float | None = Field(None, description="A band's upper end (with low).")
    source: str = Field("", description="Where the number comes from and what it means.")
    seed_dependent: bool = Field(
        False, description="One report's number from one random init: shown by check, never failed."
    )
    side: Literal["both", "at_least", "at_most"] = Field(
        "both",
        description="A point's sides: both (a result far from it either way does not reproduce "
        "it), at_least (a published result a run may beat: anything above passes) or at_most "
        "(anything below passes). max and min are one-sided already.",
    )
    conditions: ReferenceConditions | None = Field(
        None, description="What the number holds under (epochs, data_source, train_samples ...)."
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"value": data}
        if not isinstance(data, dict):
            raise ValueError("a reference is a mapping: " + "; ".join(REFERENCE_KINDS) + ", with its source")
        unknown = sorted(str(key) for key in data if key not in cls.model_fields)
        if unknown:
            raise ValueError(
                f"unknown reference key {', '.join(repr(k) for k in unknown)}; a reference is one of: "
                + "; ".join(REFERENCE_KINDS)
                + " (plus source, seed_dependent, side and conditions)"
            )
        return data

    @model_validator(mode="after")
    def _one_kind(self) -> ReferenceValue:
        given = [
            name
            for name, keys in (
                ("value", ("value",)),
                ("max", ("max",)),
                ("min", ("min",)),
                ("band", ("low", "high")),
            )
            if any(getattr(self, key) is not None for key in keys)
        ]
        if len(given) != 1:
            said = ", ".join(
                k for k in ("value", "max", "min", "low", "high") if getattr(self, k) is not None
            )
            raise ValueError(
                ("a reference needs exactly one kind, got " + (said or "none of value/max/min/low/high"))
                + "; choose one of: "
                + "; ".join(REFERENCE_KINDS)
            )
        if given[0] == "band" and (self.low is None or self.high is None or self.low > self.high):
            raise ValueError(
                f"a band needs both low and high with low <= high, got low={self.low}, high={self.high}"
            )
        if self.side != "both" and given[0] != "value":
            raise ValueError(
                f"side: {self.side} belongs to a point value; max and min are one-sided already "
                "and a band has two ends"
            )
        if self.tolerance is not None:
            if given[0] != "value":
                raise ValueError("tolerance belongs to a point value; a bound or a band is judged as written")
            parse_tolerance_text(self.tolerance)
        return self

    @property
    def kind(self) -> str:
        """``point``, ``max``, ``min`` or ``band``."""
        if self.value is not None:
            return "point"
        if self.max is not None:
            return "max"
        if self.min is not None:
            return "min"
        return "band"


def parse_tolerance_text(tolerance: float | str) -> tuple[float, bool]:
    """``"5%"`` -> ``(0.05, True)`` (relative); ``0.01`` or ``"0.01"`` -> ``(0.01, False)`` (absolute).

    dlab's one tolerance parser: a config's ``reference:`` entries are validated with it, and
    ``dlab check`` reads ``--tolerance`` and a saved config's tolerances with it
    (:func:`dlab.results.references.parse_tolerance` words its error for the command line).

    Raises:
        ValueError: not a non-negative number, with or without a percent sign.
    """
    raw = str(tolerance).strip()
    relative = raw.endswith("%")
    try:
        amount = float(raw.removesuffix("%"))
    except ValueError:
        amount = -1.0
    if isinstance(tolerance, bool) or not 0 <= amount < math.inf:
        raise ValueError(
            f"tolerance {tolerance!r} is not a tolerance: give a percentage of the value (5%) "
            "or an absolute amount in the metric's units (0.01)"
        )
    return (amount / 100, True) if relative else (amount, False)
