"""The base of every config section: defaults for every field, unknown keys and non-finite numbers refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A config section: every field has a default, unknown keys are errors, and numbers are
    finite (``.inf`` or ``.nan`` as a learning rate, clipnorm or noise would train garbage)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class EmptyModelConfig(StrictModel):
    """The ``model`` section of an experiment that has nothing to configure."""
