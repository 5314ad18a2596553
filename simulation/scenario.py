"""The scenario schema: every parameter of the model, its default, unit, range and source.

Defaults live here and nowhere else. Each field carries a description with its unit and, where a
value comes from the literature, the source (see ``docs/ODD.md`` and ``../shared/sources``).
Scenarios are YAML files validated on load: unknown keys are refused with the nearest valid key
suggested, ranges are checked, and every problem names the file, the dotted key path and the line.

Checks that hold for every field, present and future, without listing them (see :class:`_Section`):

* every number must be finite (``.nan``, ``.inf``, ``1e400`` are refused);
* a whole number without its own upper bound is at most :data:`simulation.limits.MAX_INT`, a
  number at most :data:`simulation.limits.MAX_FLOAT` in size: values out of range are errors,
  never clipped;
* YAML is read without aliases, duplicate keys or deep nesting (:mod:`simulation.safe_io`).

Settings that are accepted but have no effect (``seeding.group`` under ``rule: random``, say) give
one :class:`~simulation.errors.InputWarning` each (see :func:`scenario_warnings`).
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from . import limits
from .errors import InputError, Problem, warn
from .safe_io import Marks, check_numbers, load_yaml, read_yaml_file


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


class _Section(BaseModel):
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


def _f(default: Any, desc: str, *, ge=None, le=None, gt=None, unit: str = "", source: str = ""):
    """A field with its description, unit and source kept together (one line per parameter)."""
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


class Dist(_Section):
    """A distribution a site trait is drawn from.

    A bare number (``turnover: 0.25``) is a constant. The values a distribution names (a constant,
    uniform bounds, a normal mean, the median of a lognormal, a Poisson mean) must lie in the
    trait's range; draws from the tails of a normal or lognormal are clipped to it.
    """

    merge: ClassVar[bool] = False

    dist: Literal["constant", "uniform", "beta", "normal", "lognormal", "poisson"] = _f(
        "constant", "distribution family"
    )
    value: float | None = _f(None, "constant: the value")
    low: float | None = _f(None, "uniform: lower bound")
    high: float | None = _f(None, "uniform: upper bound")
    a: float | None = _f(None, "beta: shape a", gt=0)
    b: float | None = _f(None, "beta: shape b", gt=0)
    mean: float | None = _f(None, "normal: mean; lognormal: mean of the log")
    sd: float | None = _f(None, "normal: standard deviation", ge=0)
    sigma: float | None = _f(None, "lognormal: standard deviation of the log", ge=0)
    lam: float | None = _f(None, "poisson: mean", ge=0)

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


def _d(**kw) -> Any:
    return Field(default_factory=lambda: Dist(**kw))


class Traits(_Section):
    """Distributions of the site traits (used for sites the site table does not describe)."""

    capacity: Dist = _d(dist="beta", a=4, b=3)
    leadership: Dist = _d(dist="beta", a=3, b=3)
    champions: Dist = _d(dist="poisson", lam=1.0)
    turnover: Dist = _d(dist="uniform", low=0.1, high=0.3)
    fit: Dist = _d(dist="beta", a=3, b=2)
    size: Dist = _d(dist="lognormal", mean=6.2, sigma=0.5)
    threshold: Dist = _d(dist="uniform", low=0.05, high=0.5)
    prestige: Dist | Literal["centrality"] = Field(
        "centrality",
        description="opinion-leader standing in [0, 1]; 'centrality' = degree percentile",
    )

    @field_validator("*", mode="after")
    @classmethod
    def _in_range(cls, v: Any, info: ValidationInfo) -> Any:
        """A trait's distribution must name values within the trait's range (never clipped)."""
        rng = TRAIT_RANGES.get(info.field_name)
        if isinstance(v, Dist) and rng is not None:
            why = v.range_problem(*rng)
            if why:
                raise ValueError(why)
        return v


# Range of each trait: (low, high, integer?). Values given (site table, a constant, uniform bounds...)
# must lie in it; draws from the tails of a normal or lognormal are clipped to it.
TRAIT_RANGES: dict[str, tuple[float, float, bool]] = {
    "capacity": (0.0, 1.0, False),
    "leadership": (0.0, 1.0, False),
    "champions": (0.0, 1e9, True),
    "turnover": (0.0, 1.0, False),
    "fit": (0.0, 1.0, False),
    "size": (0.0, 1e12, False),
    "threshold": (0.0, 1.0, False),
    "prestige": (0.0, 1.0, False),
}
TRAIT_DOCS = {
    "capacity": "resources, staff time and data systems, 0-1 (NIRN, source 000)",
    "leadership": "support from leaders, 0-1 (NIRN, source 000; NSPCC, source 001)",
    "champions": "number of local champions (NSPCC, source 001)",
    "turnover": "annual share of staff leaving, 0-1 (about 0.16 teachers, 0.3 child welfare)",
    "fit": "context fit: how well the innovation fits local needs and priorities, 0-1",
    "size": "people served by the site",
    "threshold": "adoption threshold for the linear-threshold rule, 0-1 (Granovetter 1978)",
    "prestige": "opinion-leader standing, 0-1 (default: degree percentile)",
}


class Sites(_Section):
    n: int = _f(200, "number of sites (ignored when a network file or site table gives the sites)", ge=1, le=50_000_000)
    file: str | None = _f(None, "site table CSV: a `site` column plus trait columns (relative to the scenario)")
    groups: dict[str, float] = Field(
        default_factory=lambda: {"all": 1.0},
        description="group labels (rural/urban, region...) and their shares, for equity outputs",
    )
    traits: Traits = Field(default_factory=Traits)

    @model_validator(mode="after")
    def _group_shares(self) -> "Sites":
        if not self.groups:
            raise ValueError("groups needs at least one group, e.g. {all: 1.0}")
        bad = [k for k, v in self.groups.items() if not (v >= 0)]
        if bad:
            raise ValueError(f"group shares must be non-negative numbers; check {', '.join(bad)}")
        if sum(self.groups.values()) <= 0:
            raise ValueError("group shares must not all be zero")
        return self


class Network(_Section):
    type: Literal["small_world", "scale_free", "random", "regions", "complete", "none", "file"] = _f(
        "small_world", "how the network of ties between sites is made"
    )
    k: int = _f(6, "small_world: each site's ties in the ring lattice (even)", ge=0)
    p: float = _f(0.1, "small_world: rewiring probability (Watts & Strogatz 1998)", ge=0, le=1)
    m: int = _f(2, "scale_free: ties added per new site (Barabási & Albert 1999)", ge=1)
    degree: float = _f(6.0, "random, regions: expected mean number of ties", ge=0)
    regions: int = _f(4, "regions: number of regional clusters (stochastic block model)", ge=1)
    within: float = _f(0.9, "regions: expected share of ties inside the region", ge=0, le=1)
    file: str | None = _f(None, "file: edge list CSV (source,target[,weight]) or GraphML")
    directed: bool = _f(False, "file: ties are directed; a site is influenced by the sites it names")


class Stages(_Section):
    """Minimum months in each stage before moving on (NIRN stages; 2-4 years to full, source 001)."""

    exploration: int = _f(3, "minimum months in exploration", ge=0, unit="months", source="NIRN (000)")
    installation: int = _f(6, "minimum months in installation", ge=0, unit="months", source="NIRN (000)")
    initial: int = _f(12, "minimum months in initial implementation", ge=0, unit="months", source="NSPCC (001)")
    competence_for_full: float = _f(0.5, "competence needed to reach full implementation", ge=0, le=1)


class Mechanical(_Section):
    """Implementation-science logic: a central programme engages, trains and coaches sites."""

    enabled: bool = _f(True, "switch the mechanical logic on")
    weight: float = _f(1.0, "weight of its pressures", ge=0, le=1)
    push: float = _f(0.3, "monthly probability that a site the programme invites engages", ge=0, le=1, unit="/month")
    train: float = _f(0.25, "monthly probability that a supported site moves on a stage", ge=0, le=1, unit="/month")
    coach: float = _f(0.1, "monthly share of the fidelity gap closed by support", ge=0, le=1, unit="/month", source="Scaling What Works (002)")
    skill: float = _f(0.05, "monthly competence gain from support", ge=0, le=1, unit="/month")
    dependency: float = _f(0.02, "monthly abandonment pressure once support has ended, times (1 - competence x fidelity)", ge=0, le=1, unit="/month", source="THIS Institute (003)")


class Ecological(_Section):
    """Complexity-science logic: adaptation to context, partners, learning from neighbours."""

    enabled: bool = _f(True, "switch the ecological logic on")
    weight: float = _f(1.0, "weight of its pressures", ge=0, le=1)
    explore: float = _f(0.01, "monthly probability a site with perfect fit starts exploring on its own", ge=0, le=1, unit="/month")
    learn: float = _f(0.1, "monthly probability of moving on a stage at perfect fit and capacity", ge=0, le=1, unit="/month")
    adapt: float = _f(0.05, "monthly adaptation rate of users to local context", ge=0, le=1, unit="/month", source="Greenhalgh & Papoutsi (004)")
    neighbour_learning: float = _f(0.2, "monthly share of the gap to neighbours' adaptation learned", ge=0, le=1, unit="/month")
    partners: float = _f(0.3, "fit gained when all partners (neighbours) have adopted", ge=0, le=1)
    abandon: float = _f(0.01, "monthly abandonment pressure at zero fit and adaptive capability", ge=0, le=1, unit="/month")


class Social(_Section):
    """Social-science logic: peer influence, thresholds, norms, legitimacy, lateral support."""

    enabled: bool = _f(True, "switch the social logic on")
    weight: float = _f(1.0, "weight of its pressures", ge=0, le=1)
    rule: Literal["influence", "threshold", "bass"] = _f(
        "influence",
        "influence: prestige-weighted share of adopted neighbours; threshold: linear threshold "
        "(Granovetter 1978, Watts 2002); bass: share adopted in the whole population (Bass 1969)",
    )
    q: float = _f(0.15, "monthly imitation: engagement pressure at full peer adoption", ge=0, le=1, unit="/month", source="Bass (1969)")
    legitimacy: float = _f(0.8, "professionally led (1) vs seen as top-down (0)", ge=0, le=1, source="Keystone vs Matching Michigan (004)")
    bandwagon_at: float = _f(0.5, "adopted share of the system at which adopting becomes the norm", ge=0, le=1)
    bandwagon: float = _f(0.02, "monthly engagement pressure from the norm once reached", ge=0, le=1, unit="/month")
    progress: float = _f(0.05, "monthly progress pressure when all neighbours are users", ge=0, le=1, unit="/month")
    lateral_support: float = _f(0.6, "share of abandonment pressure removed when all neighbours are users", ge=0, le=1, source="THIS Institute (003)")
    abandon: float = _f(0.005, "monthly abandonment pressure with no peer support", ge=0, le=1, unit="/month")


class Logics(_Section):
    combine: Literal["independent", "additive"] = _f(
        "independent",
        "independent: 1 - prod(1 - w_i p_i); additive: min(1, sum w_i p_i) (the Bass hazard p + qF)",
    )
    mechanical: Mechanical = Field(default_factory=Mechanical)
    ecological: Ecological = Field(default_factory=Ecological)
    social: Social = Field(default_factory=Social)


class Forces(_Section):
    """Forces inside a site that act whatever logic is on (NSPCC 001; Scaling What Works 002)."""

    turnover: bool = _f(True, "staff turnover removes competence and champions")
    learning: float = _f(0.06, "monthly competence gain of a site using the innovation", ge=0, le=1, unit="/month")
    progress: float = _f(0.06, "monthly progress pressure from a site's own capacity", ge=0, le=1, unit="/month")
    drift: float = _f(0.02, "monthly share of fidelity lost to drift", ge=0, le=1, unit="/month", source="Scaling What Works (002)")
    abandon: float = _f(0.003, "monthly abandonment pressure at the worst internal risk", ge=0, le=1, unit="/month", source="NASSS (003)")
    concurrent_initiatives: int = _f(0, "other initiatives competing for the same staff", ge=0, le=100, source="Matching Michigan (004)")
    fatigue_per_initiative: float = _f(0.15, "change fatigue each concurrent initiative adds", ge=0, le=1)
    reentry: float = _f(0.2, "engagement pressure multiplier for declined or discontinued sites", ge=0, le=1)
    reentry_delay: int = _f(12, "months before a declined or discontinued site may re-engage", ge=0, unit="months")
    champion_recruit: float = _f(0.05, "monthly probability (times leadership) a site gains a champion when it has none", ge=0, le=1, unit="/month")
    no_champion_risk: float = _f(2.0, "multiplier on the pressure to abandon of a site with no champion", ge=0, le=10, source="NSPCC (001)")
    fallback: float = _f(0.3, "probability of falling back a stage when the last champion leaves", ge=0, le=1, source="NSPCC (001)")


class Seeding(_Section):
    rule: Literal["random", "most_ready", "most_central", "opinion_leaders", "by_group", "sites"] = _f(
        "random", "order in which sites are seeded and invited by the programme"
    )
    n: int = _f(5, "number of seed sites at month 0", ge=0)
    stage: Literal["exploration", "installation", "initial", "full"] = _f("full", "stage the seeds start in")
    group: str | None = _f(None, "by_group: the group seeded and invited first")
    sites: list[str | int] = Field(default_factory=list, description="sites: site ids seeded first (in order)")


class Support(_Section):
    capacity: int | None = _f(20, "sites the programme can support at once (null = unlimited)", ge=0, unit="sites")
    funding_months: int | None = _f(60, "months the central programme is funded (null = throughout)", ge=0, unit="months")
    cost: float = _f(1.0, "support units per supported site-month", ge=0, unit="units")


class Waves(_Section):
    every: int = _f(0, "months between rollout waves (0 = no waves: everyone eligible at once)", ge=0, unit="months")
    size: int = _f(50, "sites made eligible per wave, in seeding order", ge=1, unit="sites")


class TrainTheTrainer(_Section):
    enabled: bool = _f(False, "experienced sites become trainers (Action Schools! BC, source 004)")
    after: int = _f(12, "months in full implementation before a site can train others", ge=0, unit="months")
    trainees: int = _f(3, "support slots each trainer adds", ge=0, unit="sites")
    max_trainers: int | None = _f(None, "cap on trainers (null = none)", ge=0)
    after_funding: bool = _f(True, "trainers keep training after central funding ends")


class Assurance(_Section):
    interval: int = _f(0, "months between assurance rounds (audit and coaching); 0 = off", ge=0, unit="months", source="Scaling What Works (002)")
    target: float = _f(0.9, "fidelity the assurance loop restores towards", ge=0, le=1)
    repair: float = _f(0.5, "share of the gap to target repaired at each round", ge=0, le=1)
    cost: float = _f(0.1, "support units per site audited", ge=0, unit="units")


class Collaborative(_Section):
    enabled: bool = _f(False, "breakthrough collaboratives: new lateral ties and shared learning (source 003)")
    start: int = _f(12, "month the collaboratives form", ge=0, unit="months")
    size: int = _f(10, "sites per collaborative", ge=2)
    members: Literal["engaged", "all"] = _f("engaged", "who joins: sites engaged at the start, or all")
    learning: float = _f(0.03, "extra monthly competence gain of members", ge=0, le=1, unit="/month")
    cost: float = _f(0.05, "support units per member-month", ge=0, unit="units")


class Strategy(_Section):
    seeding: Seeding = Field(default_factory=Seeding)
    support: Support = Field(default_factory=Support)
    waves: Waves = Field(default_factory=Waves)
    train_the_trainer: TrainTheTrainer = Field(default_factory=TrainTheTrainer)
    replication_package: float = _f(0.3, "quality of manuals and onboarding: protects competence from turnover", ge=0, le=1, source="Scaling What Works (002)")
    assurance: Assurance = Field(default_factory=Assurance)
    adaptation: Literal["strict", "permitted", "free"] = _f(
        "permitted", "strict: no adaptation; permitted: adaptable parts only; free: core too (source 002)"
    )
    collaborative: Collaborative = Field(default_factory=Collaborative)


class Shocks(_Section):
    rate: float = _f(0.0, "monthly probability of a system-wide shock (funding cut, policy change)", ge=0, le=1, unit="/month")
    months: list[int] = Field(default_factory=list, description="months with a shock for certain")
    severity: float = _f(0.3, "abandonment pressure of a shock on a site with no adaptive capability", ge=0, le=1)


class Outputs(_Section):
    sustain_window: int = _f(24, "months after support ends over which sustainment is measured", ge=1, unit="months", source="Wong, Schaper & Saldana (2022)")


class Scenario(_Section):
    """A complete, validated scenario."""

    name: str = _f("unnamed", "short name")
    description: str = _f("", "what the scenario is and what it should show")
    seed: int = _f(0, "default seed", ge=0, le=limits.MAX_SEED)
    months: int = _f(120, "months simulated", ge=1, le=limits.MAX_MONTHS, unit="months")
    pipeline: Literal["staged", "instant"] = _f(
        "staged", "staged: NIRN stages; instant: a triggered site goes straight to full"
    )
    sites: Sites = Field(default_factory=Sites)
    network: Network = Field(default_factory=Network)
    stages: Stages = Field(default_factory=Stages)
    logics: Logics = Field(default_factory=Logics)
    forces: Forces = Field(default_factory=Forces)
    strategy: Strategy = Field(default_factory=Strategy)
    shocks: Shocks = Field(default_factory=Shocks)
    outputs: Outputs = Field(default_factory=Outputs)
    strategies: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named strategies: each a mapping of dotted key paths to values"
    )
    sensitivity: dict[str, Any] | None = Field(None, description="global sensitivity analysis: see the `sensitivity` section below")
    calibration: dict[str, Any] | None = Field(None, description="calibration to observed data: see the `calibration` section below")

    # where the scenario came from; not part of the schema
    _source: str = "<python>"
    _base_dir: str = "."
    _marks: Any = None

    @property
    def source(self) -> str:
        return self._source

    @property
    def base_dir(self) -> Path:
        return Path(self._base_dir)

    def resolve_path(self, p: str) -> Path:
        """A path in the scenario, relative to the scenario file's folder."""
        path = Path(p)
        return path if path.is_absolute() else self.base_dir / path

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def digest(self) -> str:
        """A short hash of the resolved scenario (what a run depends on, seed aside)."""
        d = self.to_dict()
        d.pop("seed", None)
        d.pop("name", None)
        d.pop("description", None)
        blob = json.dumps(d, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def with_overrides(self, overrides: dict[str, Any], label: str = "--set", *, warn: bool = True) -> "Scenario":
        """A copy with dotted-path overrides applied and validated.

        A mapping given for a section is merged into it (``{"strategy.support": {"capacity": 60}}``
        keeps the other support settings). A problem caused by an override is reported under
        ``label`` (the option or strategy it came from), not under the scenario file. Warnings
        (settings with no effect) are issued only for what the overrides set (the scenario's own
        were reported when it was loaded), and not at all with ``warn=False``.
        """
        raw = self.to_dict()
        apply_overrides(raw, overrides, label)
        keys = [str(k) for k in overrides] if warn else []
        return _validate_overridden(raw, overrides, self._source, self._base_dir, {}, label, self._marks,
                                    warn_for=keys, scan={str(k): v for k, v in overrides.items()})


# ----------------------------------------------------------------------------- validation helpers
def _model_at(path: tuple) -> type[BaseModel] | None:
    """The schema model that a key path points into (None if the path leaves the schema)."""
    model: Any = Scenario
    for key in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(str(key))
        if field is None:
            return None
        model = _section_type(field.annotation)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _section_type(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as ``Dist | Literal[...]`` (else the annotation)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(str(key), list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def shown(value: Any) -> str:
    """A value for a message: numbers and switches as they are, anything else by its kind only (a
    message never repeats text from a file; its line and column say where it is)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) < 10**21 else f"{float(value):.3g}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        try:  # a number YAML read as text (YAML 1.1 reads 1e30 without a dot as text)
            number = float(value)
        except ValueError:
            return "text"
        return f"{number:g}" if len(value) <= 40 else "text"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _join(loc: tuple) -> str:
    out = ""
    for x in loc:
        if isinstance(x, int):
            out += f"[{x}]"
        else:
            out += f".{x}" if out else str(x)
    return out


def _problems_from(err: ValidationError, source: str, marks: Marks | None = None) -> list[Problem]:
    problems = []
    seen = set()
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and ("[" in x or x.startswith("function-"))))
        # pydantic adds the union member name to loc (e.g. 'Dist', 'literal['centrality']'); drop them
        loc = tuple(x for x in loc if not (isinstance(x, str) and (x in ("Dist",) or x.startswith("literal"))))
        path = _join(loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            options = parent.model_fields.keys() if parent else []
            key = str(loc[-1])
            key = key if len(key) <= 40 else key[:37] + "..."
            msg = f"unknown key '{key}'{_suggest(loc[-1], options)}"
        elif e["type"] == "missing":
            msg = "this key is required"
        else:
            got = e.get("input")
            msg = e["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
            if e["type"] == "literal_error" and isinstance(got, str):
                choices = re.findall(r"'([^']*)'", str((e.get("ctx") or {}).get("expected", "")))
                msg += _suggest(got, choices)
            if not isinstance(got, dict) and "(got " not in msg:
                msg += f" (got {shown(got)})"
        key = (path, msg)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(source, path, msg))
    return [marks.at(p) for p in problems] if marks else problems


def from_dict(raw: Any, source: str = "<python>", base_dir: str | Path = ".", marks: Marks | None = None,
              warn_for: list[str] | None = None, scan: dict[str, Any] | None = None) -> Scenario:
    """Validate a scenario given as a mapping; raises :class:`InputError` listing every problem.

    Args:
        raw: the mapping (as read from YAML).
        source: the file it came from (named in every problem).
        base_dir: the folder relative paths in the scenario are taken from.
        marks: where each key is in the file (from :func:`simulation.safe_io.load_yaml`).
        warn_for: issue only the warnings about these key paths (and what is under them);
            None: every warning.
        scan: the values that may hold keys that are not text or numbers out of bounds, as
            ``{key path: value}`` (default: all of ``raw``; a validated scenario with overrides
            applied needs only its overrides scanned).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(Problem(source, "", f"a scenario must be a mapping of keys to values, not {shown(raw)}"))
    parts = {"": raw} if scan is None else scan
    bad = [Problem(source, path, msg) for key, value in parts.items() for path, msg in _non_text_keys(value, key)]
    if bad:
        raise InputError([marks.at(p) for p in bad] if marks else bad)
    numbers = [p for key, value in parts.items()  # anywhere, free-form sections included
               for p in check_numbers(value, source, key, marks=marks)]
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as err:
        problems = _problems_from(err, source, marks)
        flagged = [p.field for p in problems]
        problems += [p for p in numbers if not any(_caused_by(p.field, f) for f in flagged)]
        raise InputError(problems) from None
    if numbers:
        raise InputError(numbers)
    sc._source = str(source)
    sc._base_dir = str(base_dir)
    sc._marks = marks
    problems = _check_strategies(sc, raw) + _contradictions(sc)
    if problems:
        raise InputError([marks.at(p) for p in problems] if marks else problems)
    for p in scenario_warnings(sc):
        if warn_for is None or any(_caused_by(p.field, k) for k in warn_for):
            warn(p.source, p.field, p.message, line=p.line, column=p.column, stacklevel=2)
    return sc


def _non_text_keys(raw: Any, path: str = "") -> list[tuple[str, str]]:
    """Keys that YAML read as something other than text (``on:``, ``yes:`` and ``1:`` among them)."""
    out = []
    stack = [(raw, path)]
    while stack:
        node, here_path = stack.pop()
        if isinstance(node, dict):
            for k, v in node.items():
                here = f"{here_path}.{k}" if here_path else str(k)
                if not isinstance(k, str):
                    hint = " (YAML reads on/off/yes/no as true/false: write 'enabled' or quote the key)" if isinstance(k, bool) else ""
                    out.append((here, f"keys must be text, got {shown(k)}{hint}"))
                else:
                    stack.append((v, here))
        elif isinstance(node, list):
            stack.extend((v, here_path) for v in node)
    return out


def _check_strategies(sc: Scenario, raw: dict) -> list[Problem]:
    problems: list[Problem] = []
    for name, overrides in sc.strategies.items():
        try:
            trial = copy.deepcopy(raw)
            trial.pop("strategies", None)
            apply_overrides(trial, overrides, sc._source, prefix=f"strategies.{name}.")
            variant = Scenario.model_validate(trial)
        except InputError as err:
            problems.extend(err.problems)
            continue
        except ValidationError as err:
            for p in _problems_from(err, sc._source):
                problems.append(Problem(p.source, f"strategies.{name}: {p.field}", p.message))
            continue
        problems.extend(Problem(p.source, f"strategies.{name}: {p.field}", p.message) for p in _contradictions(variant))
    return problems


# ------------------------------------------------------------------------- contradictions, warnings
#: fields of ``network`` each generator reads (the others have no effect under that type)
NETWORK_FIELDS = {"small_world": ("k", "p"), "scale_free": ("m",), "random": ("degree",),
                  "regions": ("regions", "within", "degree"), "complete": (), "none": (), "file": ("file", "directed")}


def _contradictions(sc: Scenario) -> list[Problem]:
    """Settings that contradict each other: errors, since the user's intent cannot be guessed."""
    out = []
    src = sc._source
    if sc.network.file is not None and sc.network.type != "file":
        out.append(Problem(src, "network.file", f"a network file is given but network.type is '{sc.network.type}', "
                                               "so it would be ignored: add 'type: file' to read it, or remove 'file'"))
    seeding = sc.strategy.seeding
    if seeding.rule == "sites" and not seeding.sites:
        out.append(Problem(src, "strategy.seeding.sites", "rule 'sites' seeds the sites listed here, but none are "
                                                          "listed: list site ids, or choose another rule"))
    return out


def scenario_warnings(sc: Scenario) -> list[Problem]:
    """Settings that are valid but have no effect in this scenario (each is reported once).

    A setting counts when it differs from its default and the rest of the scenario ignores it: a
    network parameter another network type uses, ``seeding.group`` under a rule other than
    ``by_group``, ``seeding.n`` when ``seeding.sites`` lists the seeds, ``sites.n`` when a file
    gives the sites, a wave size without waves. Strategies are checked the same way.
    """
    out = _warnings_of(sc, sc._source)
    for name, ov in sc.strategies.items():
        try:
            raw = sc.to_dict()
            raw.pop("strategies", None)
            apply_overrides(raw, ov, sc._source)
            variant = Scenario.model_validate(raw)
        except (InputError, ValidationError):  # reported as errors by _check_strategies
            continue
        for p in _warnings_of(variant, sc._source):
            if any(_caused_by(p.field, str(k)) for k in ov):  # only what the strategy itself sets
                out.append(Problem(p.source, f"strategies.{name}: {p.field}", p.message))
    marks = sc._marks
    return [marks.at(p) for p in out] if marks else out


def _default_of(model: type[BaseModel], name: str) -> Any:
    f = model.model_fields[name]
    return f.default_factory() if f.default_factory is not None else f.default


def _warnings_of(sc: Scenario, src: str) -> list[Problem]:
    out = []
    prefix = ""

    def changed(section: BaseModel, name: str) -> bool:
        return getattr(section, name) != _default_of(type(section), name)

    net = sc.network
    used = set(NETWORK_FIELDS.get(net.type, ()))
    for name in sorted({f for fields in NETWORK_FIELDS.values() for f in fields} - used - {"file"}):
        if changed(net, name):
            users = [t for t, fields in NETWORK_FIELDS.items() if name in fields]
            out.append(Problem(src, f"{prefix}network.{name}", f"has no effect with network.type '{net.type}' "
                                                               f"(it is read by {', '.join(users)})"))
    seeding = sc.strategy.seeding
    if seeding.group is not None and seeding.rule != "by_group":
        out.append(Problem(src, f"{prefix}strategy.seeding.group",
                           f"has no effect with rule '{seeding.rule}' (only rule 'by_group' seeds a group first)"))
    if seeding.sites and changed(seeding, "n"):
        out.append(Problem(src, f"{prefix}strategy.seeding.n",
                           f"has no effect: the {len(seeding.sites)} sites listed in strategy.seeding.sites are "
                           "the seeds"))
    if changed(sc.sites, "n") and (sc.sites.file or net.type == "file"):
        out.append(Problem(src, f"{prefix}sites.n", "has no effect: the " + ("site table" if sc.sites.file else
                                                                              "network file") + " gives the sites"))
    waves = sc.strategy.waves
    if waves.every == 0 and changed(waves, "size"):
        out.append(Problem(src, f"{prefix}strategy.waves.size", "has no effect: waves.every is 0 (no waves)"))
    return out


# ---------------------------------------------------------------------------------- overrides
def _merge_into(target: dict, value: dict, model: Any) -> None:
    """Merge a mapping into a section's mapping, key by key (sub-sections merged in turn)."""
    for k, v in value.items():
        sub = None
        if isinstance(model, type) and issubclass(model, BaseModel) and k in model.model_fields:
            sub = _section_type(model.model_fields[k].annotation)
        if isinstance(v, dict) and isinstance(target.get(k), dict) and _mergeable(sub):
            _merge_into(target[k], v, sub)
        else:
            target[k] = copy.deepcopy(v)


def _mergeable(model: Any) -> bool:
    return isinstance(model, type) and issubclass(model, _Section) and model.merge


def apply_overrides(raw: dict, overrides: dict[str, Any], source: str = "--set", prefix: str = "") -> None:
    """Set dotted key paths in a raw scenario mapping, refusing paths that are not in the schema.

    A mapping given for a section (``strategy.support: {capacity: 60}``) is merged into the
    section's current values; a mapping given for a value that is one thing (a distribution, a
    table of group shares, the strategies) replaces it.
    """
    problems = []
    for dotted, value in overrides.items():
        keys = str(dotted).split(".")
        model: Any = Scenario
        target = raw
        for i, key in enumerate(keys):
            is_model = isinstance(model, type) and issubclass(model, BaseModel)
            if is_model:
                if key not in model.model_fields:
                    where = ".".join(keys[:i]) or "the top level"
                    problems.append(Problem(source, prefix + str(dotted),
                                            f"no key '{key}' in {where}{_suggest(key, model.model_fields.keys())}"))
                    break
                model = _section_type(model.model_fields[key].annotation)
            if i == len(keys) - 1:
                if isinstance(value, dict) and isinstance(target.get(key), dict) and _mergeable(model):
                    _merge_into(target[key], value, model)
                else:
                    target[key] = copy.deepcopy(value)
            else:
                nxt = target.get(key)
                if not isinstance(nxt, dict):
                    nxt = {}
                    target[key] = nxt
                target = nxt
    if problems:
        raise InputError(problems)


def _caused_by(field: str, key: str) -> bool:
    field = re.sub(r"\[\d+\]", "", field)
    return field == key or field.startswith(key + ".") or key.startswith(field + ".")


def _validate_overridden(raw: dict, overrides: dict[str, Any], source: str, base_dir, origins: dict[str, tuple[str, str]],
                         label: str, marks: Marks | None, warn_for: list[str] | None = None,
                         scan: dict[str, Any] | None = None) -> Scenario:
    """Validate a mapping with overrides applied; a problem an override caused names the override."""
    try:
        return from_dict(raw, source, base_dir, marks, warn_for, scan)
    except InputError as err:
        if not overrides:
            raise
        problems = []
        for p in err.problems:
            key = next((k for k in overrides if p.source == source and _caused_by(p.field, str(k))), None)
            if key is None:
                problems.append(p)
                continue
            src, field = origins.get(str(key), (label, p.field))
            problems.append(Problem(src, field, p.message))
        raise InputError(problems) from None


def parse_set(items: list[str], source: str = "--set") -> dict[str, Any]:
    """Parse ``key.path=value`` strings (values as YAML scalars, lists or mappings)."""
    out: dict[str, Any] = {}
    problems = []
    for item in items:
        if "=" not in item:
            problems.append(Problem(source, item if len(item) <= 60 else item[:57] + "...", "expected key.path=value"))
            continue
        key, text = item.split("=", 1)
        key = key.strip()
        try:
            value, _ = load_yaml(text, source, field=key) if text.strip() else (None, None)
        except InputError as err:
            problems.extend(Problem(source, key, p.message.replace("malformed YAML", "value is not valid YAML"))
                            for p in err.problems)
            continue
        bad = check_numbers(value, source, key)
        if bad:
            problems.extend(bad)
            continue
        out[key] = value
    if problems:
        raise InputError(problems)
    return out


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file safely (see :func:`simulation.safe_io.load_yaml`); InputError naming the file."""
    return read_yaml_file(path)[0]


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None, *,
                  origins: dict[str, tuple[str, str]] | None = None, label: str = "overrides") -> Scenario:
    """Load and validate a scenario file, with optional dotted-path overrides.

    Args:
        path: the YAML file.
        overrides: ``{"logics.social.q": 0.2, ...}`` applied before validation (a mapping given for
            a section is merged into it).
        origins: where each override came from, for messages: ``{key: (source, field)}`` (the
            command line passes ``{"months": ("--months", "")}``); other keys are named as
            ``label: key``.
        label: how overrides without an origin are named (``--set`` on the command line).

    Raises:
        InputError: listing every problem, each naming the file (or the override) and the key path.
    """
    raw, marks = read_yaml_file(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(Problem(str(path), "", f"a scenario must be a mapping of keys to values, not {shown(raw)}"))
    if overrides:
        apply_overrides(raw, overrides, label)
    return _validate_overridden(raw, overrides or {}, str(path), Path(path).parent, origins or {}, label, marks)


def default_scenario(**overrides: Any) -> Scenario:
    """The default scenario, with optional dotted-path overrides (``default_scenario(**{"sites.n": 50})``)."""
    raw: dict[str, Any] = {}
    apply_overrides(raw, overrides, "<python>")
    return _validate_overridden(raw, overrides, "<python>", ".", {}, "<python>", None)
