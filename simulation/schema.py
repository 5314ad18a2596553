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

import math
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from . import limits

#: the three honest forms of a parameter's provenance
SOURCE_KINDS = ("number:", "direction:", "calibrated:")
CALIBRATED = "calibrated: docs/validation.md"


def _declared(field, names: tuple[str, ...]) -> float | None:
    for m in field.metadata if field is not None else ():
        for name in names:
            v = getattr(m, name, None)
            if v is not None:
                return v
    return None


def _bound_problem(v: Any, lo: float | None, hi: float | None) -> str | None:
    """Why a number breaks the default bounds (None when it does not)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return "must be a finite number"
    cap = limits.MAX_INT if isinstance(v, int) else limits.MAX_FLOAT
    top = cap if hi is None else None
    bottom = -cap if lo is None else None
    if top is not None and v > top:
        return f"must be at most {top:,.0f}" if isinstance(v, int) else f"must be at most {top:g}"
    if bottom is not None and v < bottom:
        return f"must be at least {bottom:,.0f}" if isinstance(v, int) else f"must be at least {bottom:g}"
    return None


_NUMERIC_ITEMS: dict[tuple, bool] = {}
#: each field's own lower and upper bounds (None: the default bound applies), found once
_BOUNDS: dict[tuple, tuple] = {}


def _numeric_items(cls, name: str) -> bool:
    """Whether a field is a list or mapping of numbers (free-form ``Any`` mappings are checked by
    their own parsers)."""
    key = (cls, name)
    if key not in _NUMERIC_ITEMS:
        import typing

        def kinds(t) -> set:
            args = typing.get_args(t)
            return {t} if not args else set().union(*(kinds(a) for a in args))

        found = kinds(cls.model_fields[name].annotation)
        _NUMERIC_ITEMS[key] = bool(found & {int, float}) and Any not in found
    return _NUMERIC_ITEMS[key]


class Section(BaseModel):
    """A scenario section: unknown keys are refused, values are checked on assignment.

    Every field of every section (those of today and those added later) is also checked here:
    numbers must be finite (``allow_inf_nan=False``), and numbers a field does not bound itself
    (``le``/``lt``, ``ge``/``gt``) must lie within :data:`limits.MAX_INT` (whole numbers) or
    :data:`limits.MAX_FLOAT`, also inside lists and mappings. A field that needs a wider range
    declares it (``Scenario.seed`` allows 63-bit seeds).

    ``merge``: a mapping given for this section in an override or a strategy is merged into it
    (False for values that are one thing, such as a distribution, which are replaced whole).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)
    merge: ClassVar[bool] = True

    @field_validator("*", mode="after")
    @classmethod
    def _bounded(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None or isinstance(v, (str, bool, BaseModel)):
            return v
        key = (cls, info.field_name)
        bounds = _BOUNDS.get(key)
        if bounds is None:
            field = cls.model_fields.get(info.field_name)
            bounds = _BOUNDS[key] = (_declared(field, ("ge", "gt")), _declared(field, ("le", "lt")))
        why = _bound_problem(v, *bounds)
        if why:
            raise ValueError(why)
        if isinstance(v, (list, tuple, dict)) and _numeric_items(cls, info.field_name):
            items = v.values() if isinstance(v, dict) else v
            for x in items:
                why = _bound_problem(x, None, None)
                if why:
                    raise ValueError(f"every value {why}")
        return v


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
    """A distribution a site trait is drawn from.

    A bare number (``turnover: 0.25``) is a constant. The values a distribution names (a constant,
    uniform bounds, a normal mean, the median of a lognormal, a Poisson mean) must lie in the
    trait's range; draws from the tails of a normal or lognormal are clipped to it.
    """

    merge: ClassVar[bool] = False

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

    @model_validator(mode="before")
    @classmethod
    def _number_is_constant(cls, data: Any) -> Any:
        if isinstance(data, (int, float)) and not isinstance(data, bool):
            return {"dist": "constant", "value": data}
        return data

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
            raise ValueError(f"uniform low ({self.low:g}) is above high ({self.high:g})")
        return self

    def range_problem(self, lo: float, hi: float, integer: bool) -> str | None:
        """Why this distribution does not fit a trait whose values lie in [lo, hi] (None if it does)."""
        span = f"[{lo:g}, {hi:g}]"
        if self.dist == "constant":
            if not lo <= self.value <= hi:
                return f"value must lie in {span} (got {self.value:g})"
            if integer and self.value != round(self.value):
                return f"value must be a whole number (got {self.value:g})"
        elif self.dist == "uniform":
            if self.low < lo or self.high > hi:
                return f"low and high must lie in {span} (got {self.low:g} and {self.high:g})"
        elif self.dist == "beta":
            if lo > 0 or hi < 1:
                return f"a beta distribution lies in [0, 1], outside the range {span}"
        elif self.dist == "normal":
            if not lo <= self.mean <= hi:
                return f"mean must lie in {span} (got {self.mean:g})"
        elif self.dist == "lognormal":
            if not (lo <= math.exp(min(self.mean, 700.0)) <= hi):
                return f"the median exp(mean) must lie in {span} (got mean {self.mean:g})"
        elif self.dist == "poisson":
            if not lo <= self.lam <= hi:
                return f"lam must lie in {span} (got {self.lam:g})"
        return None

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
