"""The scenario schema: every parameter of the model, its default, unit, range and source.

Defaults live here and nowhere else. Each field carries a description with its unit and, where a
value comes from the literature, the source (see ``docs/ODD.md`` and ``../shared/sources``).
Scenarios are YAML files validated on load: unknown keys are refused with the nearest valid key
suggested, ranges are checked, and every problem names the file and the dotted key path.
"""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import InputError, Problem



class _Section(BaseModel):
    """A scenario section: unknown keys are refused, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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
    """A distribution a site trait is drawn from (values are clipped to the trait's range)."""

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
    seed: int = _f(0, "default seed", ge=0)
    months: int = _f(120, "months simulated", ge=1, le=100_000, unit="months")
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
    problems = _check_strategies(sc, raw)
    if problems:
        raise InputError(problems)
    return sc


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
