"""The scenario schema, put together from the sections each process owns, and its loading.

Every parameter is declared once, with its default, unit, range and source, in the module of the
process that uses it (:mod:`simulation.processes`, :mod:`simulation.logics`); the sites, network,
strategy and shocks sections are declared here. Each numeric parameter says where its value comes
from ("number: ...", "direction: ...; value assumed" or "calibrated: docs/validation.md"; see
:mod:`simulation.schema`). Scenarios are YAML files validated on load: unknown keys are refused with
the nearest valid key suggested, ranges are checked, and every problem names the file and the
dotted key path.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from .errors import InputError, Problem
from .logics.ecological import Ecological
from .logics.mechanical import Mechanical
from .logics.social import Social
from .processes.delivery import AdaptationPolicy, Assurance, Delivery
from .processes.outcomes import Outcomes
from .processes.support import Collaborative, Seeding, Support, TrainTheTrainer, Waves
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


# Range of each trait: (low, high, integer?). Values drawn or read are checked/clipped to this.
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
    groups: dict[str, float | Group] = Field(
        default_factory=lambda: {"all": 1.0},
        description="groups (rural/urban, region...) with their share (a number, or {share: x}) or count ({n: k}) "
                    "and optionally their own traits ({traits: {capacity: {...}}}); sizes are exact",
    )
    traits: Traits = Field(default_factory=Traits)

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
        """Every group as a :class:`Group` (a bare number is its share)."""
        out = {}
        for g, v in self.groups.items():
            out[g] = v if isinstance(v, Group) else Group(share=float(v))
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
    assurance: Assurance = Field(default_factory=Assurance)
    adaptation: AdaptationPolicy = _f(
        "permitted", "strict: no adaptation; permitted: adaptable parts only; free: core too (source 002)"
    )
    collaborative: Collaborative = Field(default_factory=Collaborative)


class Shocks(_Section):
    """System-wide shocks (funding cuts, policy change)."""

    rate: float = _f(0.0, "monthly probability of a system-wide shock (funding cut, policy change)", ge=0, le=1, unit="/month")
    months: list[int] = Field(default_factory=list, description="months with a shock for certain")
    severity: float = _f(0.3, "abandonment pressure of a shock on a site with no adaptive capability", ge=0, le=1,
                         source="direction: Dynamic Sustainability Framework (003); value assumed")
    funding_cut: float = _f(0.0, "share of the programme's remaining central capacity each shock removes", ge=0, le=1)


class Scenario(_Section):
    """A complete, validated scenario."""

    name: str = _f("unnamed", "short name")
    description: str = _f("", "what the scenario is and what it should show")
    seed: int = _f(0, "default seed", ge=0)
    months: int = _f(120, "months simulated", ge=1, le=100_000, unit="months")
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
    sensitivity: dict[str, Any] | None = Field(None, description="sensitivity analysis: see docs")
    calibration: dict[str, Any] | None = Field(None, description="calibration: see docs")

    # where the scenario came from; not part of the schema
    _source: str = "<python>"
    _base_dir: str = "."

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

    def with_overrides(self, overrides: dict[str, Any], label: str = "--set") -> "Scenario":
        """A copy with dotted-path overrides applied and validated."""
        raw = self.to_dict()
        apply_overrides(raw, overrides, label)
        return from_dict(raw, self._source, self._base_dir)


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


def _problems_from(err: ValidationError, source: str) -> list[Problem]:
    problems = []
    seen = set()
    for e in err.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and ("[" in x or x.startswith("function-"))))
        # pydantic adds the union member name to loc (e.g. 'Dist', 'literal['centrality']'); drop them
        loc = tuple(x for x in loc if not (isinstance(x, str) and (x in ("Dist",) or x.startswith("literal"))))
        path = ".".join(str(x) for x in loc)
        if e["type"] == "extra_forbidden":
            parent = _model_at(loc[:-1])
            options = parent.model_fields.keys() if parent else []
            msg = f"unknown key '{loc[-1]}'{_suggest(loc[-1], options)}"
        elif e["type"] == "missing":
            msg = "this key is required"
        else:
            got = e.get("input")
            msg = e["msg"].removeprefix("Value error, ")
            if not isinstance(got, dict):
                shown = json.dumps(got, default=str)
                msg += f" (got {shown[:57] + '...' if len(shown) > 60 else shown})"
        key = (path, msg)
        if key not in seen:
            seen.add(key)
            problems.append(Problem(source, path, msg))
    return problems


def from_dict(raw: Any, source: str = "<python>", base_dir: str | Path = ".") -> Scenario:
    """Validate a scenario given as a mapping; raises :class:`InputError` listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(Problem(source, "", f"a scenario must be a mapping of keys to values, not {type(raw).__name__}"))
    bad = _non_text_keys(raw)
    if bad:
        raise InputError([Problem(source, path, msg) for path, msg in bad])
    try:
        sc = Scenario.model_validate(raw)
    except ValidationError as err:
        raise InputError(_problems_from(err, source)) from None
    sc._source = str(source)
    sc._base_dir = str(base_dir)
    problems = _check_groups(sc) + _check_strategies(sc, raw)
    if problems:
        raise InputError(problems)
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
    if isinstance(raw, dict):
        for k, v in raw.items():
            here = f"{path}.{k}" if path else str(k)
            if not isinstance(k, str):
                hint = " (YAML reads on/off/yes/no as true/false: write 'enabled' or quote the key)" if isinstance(k, bool) else ""
                out.append((here, f"keys must be text, got {k!r}{hint}"))
            else:
                out.extend(_non_text_keys(v, here))
    return out


def _check_strategies(sc: Scenario, raw: dict) -> list[Problem]:
    problems: list[Problem] = []
    for name, overrides in sc.strategies.items():
        try:
            trial = copy.deepcopy(raw)
            trial.pop("strategies", None)
            apply_overrides(trial, overrides, sc._source, prefix=f"strategies.{name}.")
            Scenario.model_validate(trial)
        except InputError as err:
            problems.extend(err.problems)
        except ValidationError as err:
            for p in _problems_from(err, sc._source):
                problems.append(Problem(p.source, f"strategies.{name}: {p.field}", p.message))
    return problems


def apply_overrides(raw: dict, overrides: dict[str, Any], source: str = "--set", prefix: str = "") -> None:
    """Set dotted key paths in a raw scenario mapping, refusing paths that are not in the schema."""
    problems = []
    for dotted, value in overrides.items():
        keys = str(dotted).split(".")
        model: Any = Scenario
        target = raw
        ok = True
        for i, key in enumerate(keys):
            is_model = isinstance(model, type) and issubclass(model, BaseModel)
            if is_model:
                if key not in model.model_fields:
                    where = ".".join(keys[:i]) or "the top level"
                    problems.append(Problem(source, prefix + str(dotted),
                                            f"no key '{key}' in {where}{_suggest(key, model.model_fields.keys())}"))
                    ok = False
                    break
                model = _section_type(model.model_fields[key].annotation)
            if i == len(keys) - 1:
                target[key] = value
            else:
                nxt = target.get(key)
                if not isinstance(nxt, dict):
                    nxt = {}
                    target[key] = nxt
                target = nxt
        if not ok:
            continue
    if problems:
        raise InputError(problems)


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``key.path=value`` strings (values as YAML scalars or lists)."""
    out: dict[str, Any] = {}
    problems = []
    for item in items:
        if "=" not in item:
            problems.append(Problem("--set", item, "expected key.path=value"))
            continue
        key, text = item.split("=", 1)
        try:
            out[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError as err:
            problems.append(Problem("--set", key, f"value is not valid YAML: {err}"))
    if problems:
        raise InputError(problems)
    return out


def read_yaml(path: str | Path) -> Any:
    """Read a YAML file, turning every failure into an :class:`InputError` naming the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(Problem(str(path), "", "file not found"))
    if path.is_dir():
        raise InputError(Problem(str(path), "", "is a folder, not a scenario file"))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(Problem(str(path), "", f"cannot read file: {err}")) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(err, "problem", None) or str(err)
        raise InputError(Problem(str(path), where, f"malformed YAML: {reason}")) from None


def load_scenario(path: str | Path, overrides: dict[str, Any] | None = None) -> Scenario:
    """Load and validate a scenario file, with optional dotted-path overrides.

    Args:
        path: the YAML file.
        overrides: ``{"logics.social.q": 0.2, ...}`` applied before validation.

    Raises:
        InputError: listing every problem, each naming the file and the key path.
    """
    raw = read_yaml(path)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError(Problem(str(path), "", f"a scenario must be a mapping of keys to values, not {type(raw).__name__}"))
    if overrides:
        apply_overrides(raw, overrides)
    return from_dict(raw, str(path), Path(path).parent)


def default_scenario(**overrides: Any) -> Scenario:
    """The default scenario, with optional dotted-path overrides (``default_scenario(**{"sites.n": 50})``)."""
    raw: dict[str, Any] = {}
    apply_overrides(raw, overrides, "<python>")
    return from_dict(raw)
