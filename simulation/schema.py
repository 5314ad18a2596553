"""The building blocks of the scenario schema, shared by every process module.

Each process module (:mod:`simulation.processes`, :mod:`simulation.logics`) declares the section of
the scenario file it owns with :class:`Section` and :func:`param`; :mod:`simulation.scenario` puts
the sections together. Every numeric parameter says where its value comes from, in one of three
forms (checked by ``tests/test_scenario.py``):

* ``"number: <work>"``: the value itself is published (or derived from a published figure);
* ``"direction: <work>; value assumed"``: the work says which way the parameter acts, the size is
  an assumption;
* ``"calibrated: docs/validation.md"``: fitted with ``spreadsim calibrate`` to the published
  patterns listed in ``docs/validation.md`` (pattern-oriented modelling).

Structural settings (switches, choices between rules, file names) need no source.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: the three honest forms of a parameter's provenance
SOURCE_KINDS = ("number:", "direction:", "calibrated:")
CALIBRATED = "calibrated: docs/validation.md"


class Section(BaseModel):
    """A scenario section: unknown keys are refused, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def param(default: Any, desc: str, *, ge=None, le=None, gt=None, unit: str = "", source: str = ""):
    """A field with its description, unit and source kept together (one line per parameter).

    Args:
        default: the default value.
        desc: what it is, in a few words.
        ge, le, gt: bounds (checked on load).
        unit: unit shown in the reference ("/month", "months", "sites"...).
        source: provenance, one of ``number: ...``, ``direction: ...; value assumed`` or
            ``calibrated: docs/validation.md`` (see the module docstring).
    """
    extra = {"unit": unit, "source": source}
    return Field(default, description=desc, ge=ge, le=le, gt=gt, json_schema_extra=extra)


# --------------------------------------------------------------------------- trait distributions
DIST_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "beta": ("a", "b"),
    "normal": ("mean", "sd"),
    "lognormal": ("mean", "sigma"),
    "poisson": ("lam",),
}

DIST_PARAMS_ALL = ("value", "low", "high", "a", "b", "mean", "sd", "sigma", "lam")


class Dist(Section):
    """A distribution a site trait is drawn from (values are clipped to the trait's range)."""

    dist: Literal["constant", "uniform", "beta", "normal", "lognormal", "poisson"] = param(
        "constant", "distribution family"
    )
    value: float | None = param(None, "constant: the value")
    low: float | None = param(None, "uniform: lower bound")
    high: float | None = param(None, "uniform: upper bound")
    a: float | None = param(None, "beta: shape a", gt=0)
    b: float | None = param(None, "beta: shape b", gt=0)
    mean: float | None = param(None, "normal: mean; lognormal: mean of the log")
    sd: float | None = param(None, "normal: standard deviation", ge=0)
    sigma: float | None = param(None, "lognormal: standard deviation of the log", ge=0)
    lam: float | None = param(None, "poisson: mean", ge=0)

    @model_validator(mode="after")
    def _params(self) -> "Dist":
        needed = DIST_PARAMS[self.dist]
        missing = [k for k in needed if getattr(self, k) is None]
        if missing:
            raise ValueError(f"'{self.dist}' needs {', '.join(needed)}; missing {', '.join(missing)}")
        extra = [k for k in DIST_PARAMS_ALL if k not in needed and getattr(self, k) is not None]
        if extra:
            raise ValueError(f"'{self.dist}' takes only {', '.join(needed)}; remove {', '.join(extra)}")
        if self.dist == "uniform" and self.low > self.high:
            raise ValueError(f"uniform low ({self.low}) is above high ({self.high})")
        return self

    def mean_value(self) -> float:
        """The distribution's mean (for documentation and reports)."""
        import math

        if self.dist == "constant":
            return float(self.value)
        if self.dist == "uniform":
            return (self.low + self.high) / 2
        if self.dist == "beta":
            return self.a / (self.a + self.b)
        if self.dist == "normal":
            return float(self.mean)
        if self.dist == "lognormal":
            return math.exp(self.mean + self.sigma ** 2 / 2)
        return float(self.lam)


def dist(**kw) -> Any:
    """A field whose default is the distribution ``Dist(**kw)``."""
    return Field(default_factory=lambda: Dist(**kw))
