"""The scenario schema, put together from the sections each process owns, and its loading.

Every parameter is declared once, with its default, unit, range and source, in the module of the
process that uses it (:mod:`simulation.processes`, :mod:`simulation.logics`); the sites, network,
strategy and shocks sections are declared here. Each numeric parameter says where its value comes
from ("number: ...", "direction: ...; value assumed" or "calibrated: docs/validation.md"; see
:mod:`simulation.schema`). Scenarios are YAML files validated on load: unknown keys are refused with
the nearest valid key suggested, ranges are checked, and every problem names the file, the dotted
key path and the line.

Checks that hold for every field, present and future, without listing them (see
:class:`simulation.schema.Section`):

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


from .logics.ecological import Ecological
from .logics.mechanical import Mechanical
from .logics.social import Social
from .processes.delivery import AdaptationPolicy, Assurance, Delivery
from .processes.outcomes import Outcomes
from .processes.support import Collaborative, LightTouch, Seeding, Support, TrainTheTrainer, Waves
from .processes.transitions import Stages
from .processes.workforce import Workforce
from .schema import DIST_PARAMS, DIST_PARAMS_ALL, Dist, Section, param  # noqa: F401 (re-exported)
from .schema import dist as _d

# the schema's building blocks under their earlier names
_Section = Section
_f = param

# --------------------------------------------------------------------------- trait distributions
class Traits(_Section):
    """Distributions of the site traits (used for sites the site table does not describe)."""

    capacity: Dist = _d(dist="beta", a=4, b=3)
    leadership: Dist = _d(dist="beta", a=3, b=3)
    champions: Dist = _d(dist="poisson", lam=1.0)
    turnover: Dist = _d(dist="uniform", low=0.1, high=0.3)
    fit: Dist = _d(dist="beta", a=3, b=2)
    size: Dist = _d(dist="lognormal", mean=6.2, sigma=0.5)
    threshold: Dist = _d(dist="uniform", low=0.05, high=0.5)
    prestige: Dist | Literal["centrality", "mixed"] = Field(
        "mixed",
        description="opinion-leader standing in [0, 1]; 'centrality' = degree percentile; 'mixed' = the mean of "
                    "the degree percentile and an independent uniform draw (opinion leaders are often, not always, "
                    "the best connected)",
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


class GroupTraits(_Section):
    """A group's own trait distributions (traits not given follow ``sites.traits``)."""

    capacity: Dist | None = None
    leadership: Dist | None = None
    champions: Dist | None = None
    turnover: Dist | None = None
    fit: Dist | None = None
    size: Dist | None = None
    threshold: Dist | None = None
    prestige: Dist | None = None

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


class Group(_Section):
    """One group of sites (rural, urban, a region...): its size, as a share or a count, and its traits."""

    share: float | None = _f(None, "share of the sites in this group", ge=0, le=1)
    n: int | None = _f(None, "number of sites in this group", ge=0)
    traits: GroupTraits = Field(default_factory=GroupTraits)

    @model_validator(mode="after")
    def _size(self) -> "Group":
        if self.share is not None and self.n is not None:
            raise ValueError("give either share or n, not both")
        return self


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
    "capacity": "baseline capacity: resources, staff time and data systems, 0-1; support builds on it (NIRN, source 000)",
    "leadership": "support from leaders, 0-1 (NIRN, source 000; NSPCC, source 001)",
    "champions": "number of local champions (NSPCC, source 001)",
    "turnover": "annual share of staff leaving, 0-1 (about 0.16 teachers, 0.3 child welfare)",
    "fit": "context fit: how well the innovation fits local needs and priorities, 0-1",
    "size": "people served by the site",
    "threshold": "adoption threshold for the linear-threshold rule, 0-1 (Granovetter 1978)",
    "prestige": "opinion-leader standing, 0-1 (default: mixed, half degree percentile and half an independent draw)",
}


class Sites(_Section):
    """The sites (schools, practices, ICUs, local authorities...): how many, their groups and traits."""

    n: int = _f(200, "number of sites (ignored when a network file or site table gives the sites)", ge=1, le=50_000_000)
    file: str | None = _f(None, "site table CSV: a `site` column plus trait columns (relative to the scenario)")
    groups: dict[str, Group] = Field(
        default_factory=lambda: {"all": Group(share=1.0)},
        description="groups (rural/urban, region...) with their share (a number, or {share: x}) or count ({n: k}) "
                    "and optionally their own traits ({traits: {capacity: {...}}}); sizes are exact",
    )
    traits: Traits = Field(default_factory=Traits)

    @field_validator("groups", mode="before")
    @classmethod
    def _bare_shares(cls, v: Any) -> Any:
        """A bare number is the group's share (``{urban: 0.6}`` is ``{urban: {share: 0.6}}``)."""
        if isinstance(v, dict):
            blank = [repr(k) for k in v if isinstance(k, str) and not k.strip()]
            if blank or None in v:
                raise ValueError("a group name is blank or only spaces: give every group a name")
            return {k: ({"share": x} if isinstance(x, (int, float)) and not isinstance(x, bool) else x) for k, x in v.items()}
        return v

    @model_validator(mode="after")
    def _groups(self) -> "Sites":
        if not self.groups:
            raise ValueError("groups needs at least one group, e.g. {all: 1.0}")
        specs = self.group_specs()
        shares = {g: s.share for g, s in specs.items() if s.share is not None}
        counts = {g: s.n for g, s in specs.items() if s.n is not None}
        if shares and counts:
            raise ValueError("give every group a share or every group a count (n), not a mix")
        bad = [g for g, v in shares.items() if not (v >= 0)]
        if bad:
            raise ValueError(f"group shares must be non-negative numbers; check {', '.join(bad)}")
        if len(specs) > 1 and not shares and not counts:
            raise ValueError("give each group its share or its count (n)")
        if shares and abs(sum(shares.values()) - 1.0) > 1e-6:
            raise ValueError(f"group shares must add up to 1 (they add up to {sum(shares.values()):g})")
        if counts and self.file is None and sum(counts.values()) != self.n:
            raise ValueError(f"group sizes add up to {sum(counts.values())} but sites.n is {self.n}")
        return self

    def group_sizes(self, n: int) -> dict[str, int]:
        """Exact number of sites per group among ``n`` sites: counts as given, shares rounded by
        largest remainder (so the sizes always add up to ``n``)."""
        specs = self.group_specs()
        if all(s.n is not None for s in specs.values()):
            return {g: int(s.n) for g, s in specs.items()}
        exact = {g: s.share * n for g, s in specs.items()}
        sizes = {g: int(v // 1) for g, v in exact.items()}
        rest = n - sum(sizes.values())
        for g in sorted(exact, key=lambda g: (-(exact[g] - sizes[g]), list(exact).index(g)))[:rest]:
            sizes[g] += 1
        return sizes

    def group_specs(self) -> dict[str, Group]:
        """Every group as a :class:`Group` (a lone group without a size has the whole share)."""
        out = dict(self.groups)
        if len(out) == 1:
            (g, spec), = out.items()
            if spec.share is None and spec.n is None:
                out[g] = Group(share=1.0, traits=spec.traits)
        return out


class Network(_Section):
    """The ties between sites through which peers influence each other."""

    type: Literal["small_world", "scale_free", "random", "regions", "complete", "none", "file"] = _f(
        "small_world", "how the network of ties between sites is made"
    )
    k: int = _f(6, "small_world: each site's ties in the ring lattice (even)", ge=0)
    p: float = _f(0.1, "small_world: rewiring probability (Watts & Strogatz 1998)", ge=0, le=1)
    m: int = _f(2, "scale_free: ties added per new site (Barabási & Albert 1999)", ge=1)
    degree: float = _f(6.0, "random, regions: expected mean number of ties", ge=0)
    regions: int | Literal["groups"] = _f(
        4, "regions: number of regional clusters (stochastic block model), or `groups`: one block per group of sites")
    within: float = _f(0.9, "regions: expected share of ties inside the region", ge=0, le=1)
    p_within: float | None = _f(None, "regions: probability of a tie between two sites of one block (overrides degree, within)",
                                ge=0, le=1)
    p_between: float | None = _f(None, "regions: probability of a tie between sites of different blocks", ge=0, le=1)
    file: str | None = _f(None, "file: edge list CSV (source,target[,weight]) or GraphML")
    directed: bool = _f(False, "file: ties are directed; a site is influenced by the sites it names")

    @model_validator(mode="after")
    def _rates(self) -> "Network":
        if isinstance(self.regions, int) and self.regions < 1:
            raise ValueError("regions must be at least 1 (or 'groups')")
        if (self.p_within is None) != (self.p_between is None):
            raise ValueError("give p_within and p_between together")
        return self


class Logics(_Section):
    """The three logics of spread (Greenhalgh & Papoutsi, source 004) and how their pressures combine."""

    combine: Literal["independent", "additive"] = _f(
        "independent",
        "independent: 1 - prod(1 - w_i p_i); additive: min(1, sum w_i p_i) (the Bass hazard p + qF)",
    )
    mechanical: Mechanical = Field(default_factory=Mechanical)
    ecological: Ecological = Field(default_factory=Ecological)
    social: Social = Field(default_factory=Social)


class Strategy(_Section):
    """The scale-up strategy: what the programme does."""

    seeding: Seeding = Field(default_factory=Seeding)
    support: Support = Field(default_factory=Support)
    waves: Waves = Field(default_factory=Waves)
    train_the_trainer: TrainTheTrainer = Field(default_factory=TrainTheTrainer)
    replication_package: float = _f(0.3, "quality of manuals and onboarding: protects competence and champions from turnover",
                                    ge=0, le=1, source="direction: Scaling What Works (002); value assumed")
    package_cost: float = _f(0.05, "local support units per delivering site-month of onboarding with a replication package "
                             "of quality 1 (times replication_package)", ge=0, unit="units",
                             source="direction: Scaling What Works (002), onboarding with manuals and shadowing takes local staff time; value assumed")
    light_touch: LightTouch = Field(default_factory=LightTouch)
    assurance: Assurance = Field(default_factory=Assurance)
    adaptation: AdaptationPolicy = _f(
        "permitted", "strict: no adaptation; permitted: adaptable parts only; free: core too (source 002)"
    )
    collaborative: Collaborative = Field(default_factory=Collaborative)


class Shocks(_Section):
    """System-wide shocks (funding cuts, policy change)."""

    rate: float = _f(0.0, "monthly probability of a system-wide shock (funding cut, policy change)", ge=0, le=1, unit="/month")
    months: list[int] = Field(default_factory=list, description="months with a shock for certain")

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        bad = [m for m in v if m < 0]
        if bad:
            raise ValueError(f"shock months count from 0 (the start); got {', '.join(map(str, bad[:3]))}")
        return v
    severity: float = _f(0.3, "abandonment pressure of a shock on a site with no adaptive capability", ge=0, le=1,
                         source="direction: Dynamic Sustainability Framework (003); value assumed")
    funding_cut: float = _f(0.0, "share of the programme's remaining central capacity each shock removes", ge=0, le=1)


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
    workforce: Workforce = Field(default_factory=Workforce)
    delivery: Delivery = Field(default_factory=Delivery)
    strategy: Strategy = Field(default_factory=Strategy)
    shocks: Shocks = Field(default_factory=Shocks)
    outcomes: Outcomes = Field(default_factory=Outcomes)
    strategies: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="named strategies: each a mapping of dotted key paths to values"
    )
    sensitivity: dict[str, Any] | None = Field(None, description="global sensitivity analysis: see the `sensitivity` section below")
    calibration: dict[str, Any] | None = Field(None, description="calibration to observed data or published patterns: see the `calibration` section below")
    uncertainties: dict[str, Any] | None = Field(None, description="what is deeply uncertain, for `spreadsim explore`: each a dotted key path mapped to a range [low, high] (uniform) or to {values: [...]} (discrete)")
    levers: dict[str, Any] | None = Field(None, description="what the programme can choose, for `spreadsim optimise`: each a dotted key path mapped to a range [low, high] or to {values: [...]}")
    optimise: dict[str, Any] | None = Field(None, description="settings of `spreadsim optimise`: objectives, samples, replicates, trials, cost")

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
        for key in ("uncertainties", "levers", "optimise"):  # analysis settings: a run does not read them
            d.pop(key, None)
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
        if abs(value) < 10**21:
            return f"{value:,}"
        if abs(value) <= 10**308:
            return f"{float(value):.3g}"
        return ("-" if value < 0 else "") + "more than 1e308"  # beyond any float: no float(value)
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
    problems = _check_groups(sc) + _check_strategies(sc, raw) + _contradictions(sc)
    if problems:
        raise InputError([marks.at(p) for p in problems] if marks else problems)
    for p in scenario_warnings(sc):
        if warn_for is None or any(_caused_by(p.field, k) for k in warn_for):
            warn(p.source, p.field, p.message, line=p.line, column=p.column, stacklevel=2)
    return sc


def _check_groups(sc: Scenario) -> list[Problem]:
    """Strategy settings that name groups must name groups the sites have (when the scenario lists
    them; a site table's groups are checked once it is read)."""
    if sc.sites.file is not None:
        return []
    groups = list(sc.sites.groups)
    out = []
    w = sc.strategy.waves
    unknown = [g for g in w.order if g not in groups]
    if unknown:
        out.append(Problem(sc.source, "strategy.waves.order", f"names no group of sites.groups: {', '.join(unknown)} "
                                                              f"(groups: {', '.join(groups)})"))
    elif w.order:
        missing = [g for g in groups if g not in w.order]
        if missing:
            out.append(Problem(sc.source, "strategy.waves.order", f"must list every group once; missing: {', '.join(missing)}"))
    unknown = [g for g in sc.strategy.support.reserve if g not in groups]
    if unknown:
        out.append(Problem(sc.source, "strategy.support.reserve", f"names no group of sites.groups: {', '.join(unknown)} "
                                                                  f"(groups: {', '.join(groups)})"))
    if sc.strategy.seeding.rule == "by_group" and sc.strategy.seeding.group not in groups:
        out.append(Problem(sc.source, "strategy.seeding.group", f"by_group needs one of the groups: {', '.join(groups)}"))
    return out


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
                  "regions": ("regions", "within", "degree", "p_within", "p_between"), "complete": (), "none": (), "file": ("file", "directed")}


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
    outcomes = sc.outcomes
    if changed(outcomes, "sustain_window") and outcomes.sustain_window > sc.months:
        out.append(Problem(src, f"{prefix}outcomes.sustain_window", f"{outcomes.sustain_window} months is longer than "
                                                                    f"the run ({sc.months} months): the starters' rates "
                                                                    "over this window cannot be measured "
                                                                    "(they will be empty); shorten it or run longer"))
    if not sc.sites.file and net.type in ("random", "regions"):
        out += structure_problems(sc, sc.sites.n)[1]  # defaults too dense for a small network (errors: at build)
    support = sc.strategy.support
    if support.intake_months is not None:
        funded = support.funding_months is not None and support.funding_months < sc.months
        end = support.funding_months if funded else sc.months
        if support.intake_months >= end:
            out.append(Problem(src, f"{prefix}strategy.support.intake_months",
                               f"has no effect: the programme takes in sites until month {end} anyway "
                               f"({'its funding ends' if funded else 'the run ends'} then)"))
    waves = sc.strategy.waves
    if waves.every == 0 and changed(waves, "size"):
        out.append(Problem(src, f"{prefix}strategy.waves.size", "has no effect: waves.every is 0 (no waves)"))
    return out


# ------------------------------------------------------------------- network structure
def region_sizes(net, sites, n: int) -> list[int]:
    """The sizes of the blocks of a ``regions`` network of ``n`` sites (as :func:`_regions` makes them)."""
    if net.regions == "groups":
        return list(sites.group_sizes(n).values())
    b = max(1, min(int(net.regions), n))
    return [n // b + (1 if i < n % b else 0) for i in range(b)]


def structure_problems(sc: Scenario, n: int) -> tuple[list[Problem], list[Problem]]:
    """Structure a generator cannot make with ``n`` sites: (errors, warnings).

    More regions than sites, or a mean degree above what the sites allow (``random``: n - 1;
    ``regions``: the ties inside a region above its other sites, those between above the sites of
    other regions) would be clipped silently by the generators. Set by the user, each is an error
    naming the key; the defaults (6 ties, 4 regions) in a network too small for them are a warning
    (the network is as dense as it can be).
    """
    net = sc.network
    errors: list[Problem] = []
    warnings_: list[Problem] = []

    def report(key: str, message: str) -> None:
        explicit = getattr(net, key) != _default_of(Network, key)
        if key == "degree" and net.within != _default_of(Network, "within"):
            explicit = True
        (errors if explicit else warnings_).append(Problem(sc.source, f"network.{key}", message if explicit else
                                                           f"{message} (the default; set it to fit the network)"))

    if n < 2:
        return errors, warnings_
    if net.type == "random" and net.degree > n - 1:
        report("degree", f"a mean of {net.degree:g} ties needs more sites: with {n:,} sites each has at most "
                         f"{n - 1:,} others; give at most {n - 1:,}")
    elif net.type == "regions":
        if isinstance(net.regions, int) and net.regions > n:
            report("regions", f"{net.regions:,} regions for {n:,} sites: there can be at most {n:,} (one site each); "
                              "give fewer regions")
            return errors, warnings_
        if net.p_within is None:
            sizes = region_sizes(net, sc.sites, n)
            if not sizes or min(sizes) < 1:
                return errors, warnings_
            inside = net.degree * net.within
            outside = net.degree * (1 - net.within)
            room_in = min(sizes) - 1
            room_out = n - max(sizes)
            if inside > room_in + 1e-9:
                report("degree", f"a mean of {net.degree:g} ties, {net.within:.0%} inside the region, needs "
                                 f"{inside:g} neighbours in a region, but the smallest of the {len(sizes):,} regions "
                                 f"has {min(sizes):,} sites ({room_in:,} neighbours at most); give a smaller degree or within, or fewer regions")
            elif len(sizes) > 1 and outside > room_out + 1e-9:
                report("degree", f"a mean of {net.degree:g} ties, {1 - net.within:.0%} outside the region, needs "
                                 f"{outside:g} neighbours in other regions, but the largest region leaves only "
                                 f"{room_out:,} sites outside it; give a smaller degree or a larger within")
    return errors, warnings_


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
