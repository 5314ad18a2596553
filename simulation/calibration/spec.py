"""The ``calibration:`` section of a scenario: unknown parameters, their priors and the fit settings.

A scenario declares what is unknown as dotted key paths of the scenario, each with a prior::

    calibration:
      data: observed.csv              # relative to the scenario file; --data overrides it
      targets: [adopted]              # series compared (default: every data column the model makes)
      holdout: 0                      # last months of data kept out of the fit, to check forecasts
      parameters:
        logics.mechanical.push: {low: 0.0, high: 0.5}                  # uniform (the default)
        logics.social.q: {dist: loguniform, low: 0.01, high: 0.5}
        logics.ecological.explore: {dist: normal, mean: 0.01, sd: 0.005, low: 0, high: 0.05}
        stages.progress: {dist: beta, a: 2, b: 5, low: 0, high: 0.3}   # beta stretched over [low, high]
      abc: {population: 200, generations: 8, min_acceptance: 0.05, max_simulations: 50000}
      optimize: {trials: 60, replicates: 5, batch: 4}
      draws: 100                      # posterior predictive simulations for the fit figure
      seed: 0

Every problem raises :class:`~simulation.errors.InputError` naming the scenario file and the key
path (``calibration.parameters.logics.social.q.high``), with the nearest valid key suggested.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ..errors import InputError, Problem
from ..limits import MAX_FLOAT, MAX_INT, MAX_RUNS, MAX_SEED
from ..scenario import Scenario

PRIOR_DISTS: dict[str, tuple[str, ...]] = {
    "uniform": (),
    "loguniform": (),
    "normal": ("mean", "sd"),
    "beta": ("a", "b"),
}
"""Prior families and the keys each needs besides ``low`` and ``high`` (all priors are bounded)."""

#: every key of the section: (meaning, default, allowed values), for parsing and for the reference
SECTION_DOCS: dict[str, tuple[str, str, str]] = {
    "data": ("observed data CSV, relative to the scenario file: counts (`month` plus series such as `adopted`) or "
             "a site table (`site`, `adoption_month`); `--data` replaces it", "none (give `--data`)", "a file path"),
    "patterns": ("published patterns to fit instead of data (simulation.patterns; docs/validation.md)", "none",
                 "`all` or a list of pattern names"),
    "pattern_replicates": ("replicates per pattern scenario", "{default: 8, cases/keystone_michigan.yaml: 8, "
                           "cases/action_schools_bc.yaml: 2}", "a whole number, or a mapping of scenario to number"),
    "targets": ("series compared with the data", "every data column the model makes",
                "a list of series names (`adopted`, `full`, `ever_adopted`, `adopted_share`...)"),
    "holdout": ("months at the end of the data kept out of the fit, to check forecasts", "0",
                "whole number ≥ 0, below the last observed month"),
    "parameters": ("the unknowns: a mapping of dotted key paths to priors (see `calibration.parameters.<path>`)",
                   "required (or `--param`)", "a mapping; paths of numeric fields, not `months`, `seed`, `sites.n`, "
                   "`sites.file`, `network.file`, `network.type`"),
    "method": ("`abc`: ABC-SMC posterior (pyabc); `optimize`: Optuna point estimate", "`abc`",
               "one of `abc`, `optimize`"),
    "abc": ("ABC-SMC budget (see `calibration.abc`)", "{}", "a mapping"),
    "optimize": ("optimiser budget (see `calibration.optimize`)", "{}", "a mapping"),
    "draws": ("posterior predictive runs for the fit figure and checks", "100", "whole number ≥ 1"),
    "seed": ("decides the calibration (bit for bit with `--executor serial`)", "the scenario's `seed`",
             "whole number from 0 to 2⁶³ - 1"),
}
#: every key of the ``abc:`` budget
ABC_DOCS: dict[str, tuple[str, str, str]] = {
    "population": ("particles per generation", "200", "whole number ≥ 2"),
    "generations": ("generations at most", "8", "whole number ≥ 1"),
    "min_epsilon": ("stop when the threshold falls below this distance", "0", "number ≥ 0"),
    "max_simulations": ("stop after this many simulations", "50,000", "whole number from 1 to 10,000,000"),
    "max_minutes": ("stop after this wall time", "none", "number ≥ 0, or null"),
    "min_acceptance": ("stop when a generation accepts fewer than this share of its proposals", "0.05", "number in (0, 1]"),
}
#: every key of the ``optimize:`` budget
OPTIMIZE_DOCS: dict[str, tuple[str, str, str]] = {
    "trials": ("trials", "60", "whole number ≥ 1"),
    "replicates": ("model runs per trial (their mean distance is minimised)", "5", "whole number ≥ 1"),
    "batch": ("trials proposed at once (run in parallel)", "4", "whole number ≥ 1"),
}
#: every key of one prior
PRIOR_DOCS: dict[str, tuple[str, str, str]] = {
    "dist": ("prior family; all are bounded by low and high", "`uniform`",
             "one of `uniform`, `loguniform`, `normal` (truncated), `beta` (stretched over [low, high])"),
    "low": ("lower bound of the prior", "required", "a number the scenario accepts for the path"),
    "high": ("upper bound of the prior", "required", "a number above low that the scenario accepts"),
    "mean": ("normal: mean", "–", "a number"),
    "sd": ("normal: standard deviation", "–", "a number > 0"),
    "a": ("beta: shape a", "–", "a number > 0"),
    "b": ("beta: shape b", "–", "a number > 0"),
}
SECTION_KEYS = tuple(SECTION_DOCS)
ABC_KEYS = tuple(ABC_DOCS)
OPTIMIZE_KEYS = tuple(OPTIMIZE_DOCS)
METHODS = ("abc", "optimize")

#: scenario paths a calibration may not vary: they decide which sites exist or the run's length
FORBIDDEN_PREFIXES = ("months", "seed", "sites.n", "sites.file", "network.file", "network.type", "calibration",
                      "strategies", "sensitivity", "name", "description")


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(str(key), list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


@dataclass(frozen=True)
class Prior:
    """A bounded prior for one scenario value.

    Attributes:
        path: dotted key path in the scenario (``logics.social.q``).
        dist: ``uniform``, ``loguniform``, ``normal`` (truncated to [low, high]) or ``beta``
            (stretched over [low, high]).
        low, high: bounds (the support of the prior).
        mean, sd: normal only.
        a, b: beta only.
        integer: the scenario field takes whole numbers; draws are rounded before a run.
    """

    path: str
    dist: str = "uniform"
    low: float = 0.0
    high: float = 1.0
    mean: float | None = None
    sd: float | None = None
    a: float | None = None
    b: float | None = None
    integer: bool = False

    def scipy(self):
        """The prior as a frozen :mod:`scipy.stats` distribution."""
        from scipy import stats

        width = self.high - self.low
        if self.dist == "uniform":
            return stats.uniform(loc=self.low, scale=width)
        if self.dist == "loguniform":
            return stats.loguniform(self.low, self.high)
        if self.dist == "normal":
            return stats.truncnorm((self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd,
                                   loc=self.mean, scale=self.sd)
        return stats.beta(self.a, self.b, loc=self.low, scale=width)

    def pyabc_rv(self):
        """The prior as a :class:`pyabc.RV` (pyabc wraps scipy.stats by name)."""
        import pyabc

        width = self.high - self.low
        if self.dist == "uniform":
            return pyabc.RV("uniform", self.low, width)
        if self.dist == "loguniform":
            return pyabc.RV("loguniform", self.low, self.high)
        if self.dist == "normal":
            return pyabc.RV("truncnorm", (self.low - self.mean) / self.sd, (self.high - self.mean) / self.sd,
                            self.mean, self.sd)
        return pyabc.RV("beta", self.a, self.b, self.low, width)

    def value(self, x: float) -> float | int:
        """A drawn value as the scenario takes it (rounded for whole-number fields)."""
        return round(x) if self.integer else float(x)

    def describe(self) -> str:
        if self.dist == "normal":
            return f"normal(mean {self.mean:g}, sd {self.sd:g}) on [{self.low:g}, {self.high:g}]"
        if self.dist == "beta":
            return f"beta({self.a:g}, {self.b:g}) on [{self.low:g}, {self.high:g}]"
        return f"{self.dist} on [{self.low:g}, {self.high:g}]"

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"dist": self.dist, "low": self.low, "high": self.high}
        for k in PRIOR_DISTS[self.dist]:
            d[k] = getattr(self, k)
        return d


@dataclass(frozen=True)
class AbcSettings:
    """ABC-SMC budget (pyabc): particles per generation and when to stop.

    ABC stops at ``generations``, at ``max_simulations``, after ``max_minutes``, when epsilon falls
    below ``min_epsilon``, or when a generation accepts fewer than ``min_acceptance`` of its
    proposals: by then the threshold is at the model's own noise floor (two runs with the same
    values differ by about that much), and further generations cost many runs and change little.
    """

    population: int = 200
    generations: int = 8
    min_epsilon: float = 0.0
    max_simulations: int = 50_000
    max_minutes: float | None = None
    min_acceptance: float = 0.05


@dataclass(frozen=True)
class OptimizeSettings:
    """Optuna point estimate: trials, model replicates per trial, trials proposed per batch."""

    trials: int = 60
    replicates: int = 5
    batch: int = 4


@dataclass(frozen=True)
class CalibrationSpec:
    """A validated calibration: priors, data, targets and budgets.

    Attributes:
        parameters: the priors, in the order given.
        data: observed data file (resolved), or None when it comes from the command line.
        targets: series to compare (None = every model series found in the data).
        holdout: months at the end of the data kept out of the fit.
        method: ``abc`` or ``optimize``.
        draws: posterior predictive simulations for the fit figure and checks.
        seed: decides the calibration (with the serial executor, bit for bit).
        source: the scenario file the section came from.
    """

    parameters: tuple[Prior, ...]
    data: str | None = None
    targets: tuple[str, ...] | None = None
    holdout: int = 0
    method: str = "abc"
    abc: AbcSettings = field(default_factory=AbcSettings)
    optimize: OptimizeSettings = field(default_factory=OptimizeSettings)
    draws: int = 100
    seed: int = 0
    source: str = "<python>"
    patterns: tuple[str, ...] | None = None  # published patterns to fit instead of data (simulation.patterns)
    pattern_replicates: dict | None = None

    @property
    def paths(self) -> list[str]:
        return [p.path for p in self.parameters]

    def with_changes(self, **kw) -> CalibrationSpec:
        return replace(self, **kw)

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": {p.path: p.to_dict() for p in self.parameters},
            "data": self.data, "targets": list(self.targets) if self.targets else None,
            "holdout": self.holdout, "method": self.method,
            "abc": self.abc.__dict__, "optimize": self.optimize.__dict__,
            "draws": self.draws, "seed": self.seed,
            "patterns": list(self.patterns) if self.patterns else None,
        }


# ------------------------------------------------------------------------------------ schema walk
def _section(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return annotation


def field_kind(path: str) -> tuple[str | None, str | None]:
    """What a dotted scenario path holds: ``("float" | "int" | other, None)`` or ``(None, problem)``."""
    model: Any = Scenario
    keys = path.split(".")
    for i, key in enumerate(keys):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None, f"'{'.'.join(keys[:i])}' is a value, not a section"
        fields = model.model_fields
        if key not in fields:
            where = ".".join(keys[:i]) or "the top level"
            return None, f"no key '{key}' in {where}{_suggest(key, fields.keys())}"
        ann = fields[key].annotation
        if i < len(keys) - 1:
            model = _section(ann)
        else:
            args = set(typing.get_args(ann)) - {type(None)} if isinstance(ann, types.UnionType) or typing.get_origin(ann) is typing.Union else {ann}
            if args == {float} or args == {float, int}:
                return "float", None
            if args == {int}:
                return "int", None
            return "other", None
    return None, "empty path"


# -------------------------------------------------------------------------------------- parsing
def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(float(v)) else None


def parse_prior(path: str, raw: Any, src: str, where: str) -> tuple[Prior | None, list[Problem]]:
    """Parse one prior mapping (``{low, high[, dist, mean, sd, a, b]}``); ``where`` prefixes field names."""
    probs: list[Problem] = []
    if not isinstance(raw, dict):
        return None, [Problem(src, where, "a prior must be a mapping such as {low: 0.0, high: 0.5}")]
    allowed = tuple(PRIOR_DOCS)
    for k in raw:
        if k not in allowed:
            probs.append(Problem(src, f"{where}.{k}", f"unknown key '{k}'{_suggest(k, allowed)}; a prior takes {', '.join(allowed)}"))
    dist = raw.get("dist", "uniform")
    if dist not in PRIOR_DISTS:
        probs.append(Problem(src, f"{where}.dist", f"unknown prior '{dist}'{_suggest(dist, PRIOR_DISTS)}; use one of {', '.join(PRIOR_DISTS)}"))
        return None, probs
    vals: dict[str, float] = {}
    for k in ("low", "high", *PRIOR_DISTS[dist]):
        if k not in raw:
            probs.append(Problem(src, f"{where}.{k}", f"a {dist} prior needs '{k}'"))
            continue
        x = _num(raw[k])
        if x is None:
            probs.append(Problem(src, f"{where}.{k}", f"must be a number (got {_shown(raw[k])})"))
        else:
            vals[k] = x
    for k in ("mean", "sd", "a", "b"):
        if k in raw and k not in PRIOR_DISTS[dist]:
            probs.append(Problem(src, f"{where}.{k}", f"a {dist} prior takes no '{k}'"))
    if probs:
        return None, probs
    if not vals["low"] < vals["high"]:
        probs.append(Problem(src, f"{where}.high", f"must be above low ({vals['low']:g}), got {vals['high']:g}"))
    if dist == "loguniform" and vals["low"] <= 0:
        probs.append(Problem(src, f"{where}.low", "a loguniform prior needs low > 0"))
    for k in ("sd", "a", "b"):
        if k in vals and vals[k] <= 0:
            probs.append(Problem(src, f"{where}.{k}", f"must be positive, got {vals[k]:g}"))
    if probs:
        return None, probs
    return Prior(path=path, dist=dist, **vals), []


def parse_param_option(text: str) -> tuple[str, dict]:
    """Parse ``--param PATH=LOW:HIGH``, ``PATH=loguniform:LOW:HIGH`` or ``PATH={yaml mapping}``."""
    if "=" not in text:
        raise InputError(Problem("--param", text, "expected PATH=LOW:HIGH, PATH=DIST:LOW:HIGH or PATH={low: .., high: ..}"))
    path, spec = (s.strip() for s in text.split("=", 1))
    if spec.startswith("{"):
        from ..safe_io import load_yaml

        try:
            raw, _ = load_yaml(spec, "--param", field=path)
        except InputError as err:
            raise InputError([Problem("--param", path, "not a valid YAML mapping: " + p.message) for p in err.problems]) from None
        return path, raw
    parts = spec.split(":")
    dist = "uniform"
    if parts and parts[0] in PRIOR_DISTS:
        dist = parts.pop(0)
    if dist not in ("uniform", "loguniform") or len(parts) != 2:
        raise InputError(Problem("--param", path, "expected LOW:HIGH or uniform|loguniform:LOW:HIGH "
                                                  "(normal and beta priors: PATH={dist: normal, mean: .., sd: .., low: .., high: ..})"))
    try:
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise InputError(Problem("--param", path, f"bounds must be numbers, got '{parts[0]}' and '{parts[1]}'")) from None
    if not (math.isfinite(low) and math.isfinite(high)):
        raise InputError(Problem("--param", path, "bounds must be finite numbers"))
    return path, {"dist": dist, "low": low, "high": high}


def _check_param(scenario: Scenario, prior: Prior, src: str, where: str) -> tuple[Prior | None, list[Problem]]:
    """Check the path exists, holds a number, and that the prior's bounds are values the scenario accepts."""
    path = prior.path
    for bad in FORBIDDEN_PREFIXES:
        if path == bad or path.startswith(bad + "."):
            return None, [Problem(src, where, f"'{path}' cannot be calibrated: it decides which sites exist or the run's length")]
    kind, problem = field_kind(path)
    if problem:
        return None, [Problem(src, where, f"not a scenario value: {problem}")]
    if kind not in ("float", "int"):
        return None, [Problem(src, where, f"'{path}' is not a number, so it cannot be calibrated")]
    prior = replace(prior, integer=kind == "int")
    probs = []
    for bound in ("low", "high"):
        value = prior.value(getattr(prior, bound))
        try:
            scenario.with_overrides({path: value}, label=src)
        except InputError as err:
            msg = "; ".join(p.message for p in err.problems)
            probs.append(Problem(src, f"{where}.{bound}", f"the scenario does not accept {value:g} for {path}: {msg}"))
    return (None if probs else prior), probs


def _int(raw: dict, key: str, default: int, src: str, where: str, probs: list, lo: int = 0, allow_none: bool = False,
         hi: int = MAX_INT):
    v = raw.get(key, default)
    if v is None and allow_none:
        return None
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        probs.append(Problem(src, f"{where}.{key}", f"must be a whole number from {lo:,} to {hi:,} (got {_shown(v)})"))
        return default
    return v


def _shown(v: Any) -> str:
    from ..scenario import shown

    return shown(v)


def _float(raw: dict, key: str, default, src: str, where: str, probs: list, lo: float = 0.0, allow_none: bool = False):
    v = raw.get(key, default)
    if v is None and allow_none:
        return None
    x = _num(v)
    if x is None or x < lo or x > MAX_FLOAT:
        probs.append(Problem(src, f"{where}.{key}", f"must be a number from {lo:g} to {MAX_FLOAT:g} (got {_shown(v)})"))
        return default
    return x


def _mapping(raw: Any, keys: tuple[str, ...], src: str, where: str, probs: list) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        probs.append(Problem(src, where, "must be a mapping"))
        return {}
    for k in raw:
        if k not in keys:
            probs.append(Problem(src, f"{where}.{k}", f"unknown key '{k}'{_suggest(k, keys)}; known: {', '.join(keys)}"))
    return raw


def calibration_spec(scenario: Scenario, params: dict[str, Any] | None = None, **settings: Any) -> CalibrationSpec:
    """The validated calibration of a scenario, with command-line or Python additions.

    Args:
        scenario: the scenario; its ``calibration:`` section is read if present.
        params: extra or replacing priors ``{path: {low, high, ...}}`` (from ``--param`` or Python);
            they replace the section's parameters when given.
        **settings: ``data``, ``targets``, ``holdout``, ``method``, ``draws``, ``seed`` and the
            budgets ``population``, ``generations``, ``min_epsilon``, ``max_simulations``,
            ``max_minutes``, ``trials``, ``replicates``, ``batch``; None values are ignored.

    Raises:
        InputError: naming the scenario file (or ``--param``) and the key path of every problem.
    """
    src = scenario.source
    raw = dict(scenario.calibration or {})
    probs: list[Problem] = []
    for k in raw:
        if k not in SECTION_KEYS:
            probs.append(Problem(src, f"calibration.{k}", f"unknown key '{k}'{_suggest(k, SECTION_KEYS)}; known: {', '.join(SECTION_KEYS)}"))
    # parameters: from the section, or replaced by those given on the command line / in Python
    priors: list[Prior] = []
    if params:
        items = [(path, spec, "--param", path) for path, spec in params.items()]
    else:
        section = raw.get("parameters")
        if section is not None and not isinstance(section, dict):
            probs.append(Problem(src, "calibration.parameters", "must be a mapping of dotted key paths to priors"))
            section = {}
        items = [(path, spec, src, f"calibration.parameters.{path}") for path, spec in (section or {}).items()]
    if not items:
        probs.append(Problem(src, "calibration.parameters",
                             "no unknown parameters: declare them in the scenario's calibration.parameters "
                             "or with --param PATH=LOW:HIGH"))
    for path, spec, psrc, where in items:
        prior, pp = parse_prior(str(path), spec, psrc, where)
        probs.extend(pp)
        if prior is not None:
            prior, pp = _check_param(scenario, prior, psrc, where)
            probs.extend(pp)
            if prior is not None:
                priors.append(prior)

    def pick(key: str, default: Any) -> Any:
        v = settings.get(key)
        return raw.get(key, default) if v is None else v

    merged = {k: pick(k, None) for k in ("holdout", "method", "draws", "seed")}
    merged = {k: v for k, v in merged.items() if v is not None}
    holdout = _int(merged, "holdout", 0, src, "calibration", probs)
    draws = _int(merged, "draws", 100, src, "calibration", probs, lo=1)
    seed = _int(merged, "seed", scenario.seed, src, "calibration", probs, hi=MAX_SEED)
    method = merged.get("method", "abc")
    if method not in METHODS:
        probs.append(Problem(src, "calibration.method", f"unknown method '{method}'{_suggest(method, METHODS)}; use abc or optimize"))
        method = "abc"

    targets = pick("targets", None)
    if targets is not None:
        if isinstance(targets, str):
            targets = [t.strip() for t in targets.split(",") if t.strip()]
        if not isinstance(targets, (list, tuple)) or not targets or not all(isinstance(t, str) for t in targets):
            probs.append(Problem(src, "calibration.targets", "must be a list of series names, e.g. [adopted]"))
            targets = None
        else:
            targets = tuple(targets)

    data = settings.get("data")
    if data is None and raw.get("data") is not None:
        if not isinstance(raw["data"], str):
            probs.append(Problem(src, "calibration.data", "must be a file path"))
        else:
            data = str(scenario.resolve_path(raw["data"]))

    a_raw = dict(_mapping(raw.get("abc"), ABC_KEYS, src, "calibration.abc", probs))
    o_raw = dict(_mapping(raw.get("optimize"), OPTIMIZE_KEYS, src, "calibration.optimize", probs))
    for k in ABC_KEYS:
        if settings.get(k) is not None:
            a_raw[k] = settings[k]
    for k in OPTIMIZE_KEYS:
        if settings.get(k) is not None:
            o_raw[k] = settings[k]
    abc = AbcSettings(
        population=_int(a_raw, "population", 200, src, "calibration.abc", probs, lo=2),
        generations=_int(a_raw, "generations", 8, src, "calibration.abc", probs, lo=1),
        min_epsilon=_float(a_raw, "min_epsilon", 0.0, src, "calibration.abc", probs),
        max_simulations=_int(a_raw, "max_simulations", 50_000, src, "calibration.abc", probs, lo=1, hi=MAX_RUNS),
        max_minutes=_float(a_raw, "max_minutes", None, src, "calibration.abc", probs, allow_none=True),
        min_acceptance=_float(a_raw, "min_acceptance", 0.05, src, "calibration.abc", probs),
    )
    if not 0 < abc.min_acceptance <= 1:
        probs.append(Problem(src, "calibration.abc.min_acceptance", f"is a share of proposals: it must lie in (0, 1] "
                                                                   f"(got {abc.min_acceptance:g})"))
    opt = OptimizeSettings(
        trials=_int(o_raw, "trials", 60, src, "calibration.optimize", probs, lo=1),
        replicates=_int(o_raw, "replicates", 5, src, "calibration.optimize", probs, lo=1),
        batch=_int(o_raw, "batch", 4, src, "calibration.optimize", probs, lo=1),
    )
    patterns = reps = None
    if raw.get("patterns") is not None:
        try:
            patterns = pattern_names(raw["patterns"], src)
            reps = replicates_of(raw.get("pattern_replicates"), src)
        except InputError as err:
            probs.extend(err.problems)
        if raw.get("data") is not None:
            probs.append(Problem(src, "calibration.data", "give data or patterns to fit, not both"))
    if probs:
        raise InputError(probs)
    return CalibrationSpec(parameters=tuple(priors), data=data, targets=targets, holdout=holdout, method=method,
                           abc=abc, optimize=opt, draws=draws, seed=seed, source=src, patterns=patterns,
                           pattern_replicates=reps)


def describe(spec: CalibrationSpec) -> str:
    lines = [f"  {p.path}: {p.describe()}" + (" (whole numbers)" if p.integer else "") for p in spec.parameters]
    return "\n".join(lines)


def resolve_data_path(spec: CalibrationSpec, data: str | Path | None) -> Path:
    """The observed data file: the one given, else the section's ``calibration.data``."""
    if data is not None:
        return Path(data)
    if spec.data is None:
        raise InputError(Problem(spec.source, "calibration.data", "no observed data: give --data FILE or calibration.data in the scenario"))
    return Path(spec.data)


# ------------------------------------------------------------------ patterns (calibration to published patterns)
def pattern_names(raw: Any, src: str) -> tuple[str, ...]:
    """The patterns a section names (``all``: the calibration set; or a list of calibration-set
    names), checked. Validation patterns are never fitted: naming one is an error."""
    from .. import patterns as P

    known = P.CALIBRATION_NAMES
    if raw == "all" or raw is True:
        return known
    if isinstance(raw, str):
        raw = [x.strip() for x in raw.split(",") if x.strip()]
    if not isinstance(raw, (list, tuple)) or not raw or not all(isinstance(x, str) for x in raw):
        raise InputError(Problem(src, "calibration.patterns", f"must be 'all' or a list of pattern names: {', '.join(known)}"))
    held_out = [x for x in raw if x in P.VALIDATION_NAMES]
    if held_out:
        raise InputError(Problem(src, "calibration.patterns",
                                 f"{', '.join(held_out)}: in the validation set, which is never tuned on "
                                 f"(docs/validation.md); calibration patterns: {', '.join(known)}"))
    unknown = [x for x in raw if x not in known]
    if unknown:
        raise InputError(Problem(src, "calibration.patterns", f"unknown pattern(s) {', '.join(unknown)}; known: {', '.join(known)}"))
    return tuple(raw)


def replicates_of(raw: Any, src: str) -> dict[str | None, int]:
    """Replicates per pattern scenario: a number for all, or ``{default: k, cases/x.yaml: k}``."""
    from .. import patterns as P

    base = {None: 8, P.KEYSTONE_CASE: 8, P.MATCHING_CASE: 8, P.AS_BC_CASE: 2}
    if raw is None:
        return base
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return {k: raw for k in base}
    if isinstance(raw, dict):
        out = dict(base)
        for k, v in raw.items():
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise InputError(Problem(src, f"calibration.replicates.{k}", "must be a whole number of at least 1"))
            out[None if k == "default" else str(k)] = v
        return out
    raise InputError(Problem(src, "calibration.replicates", "a whole number, or a mapping {default: k, cases/file.yaml: k}"))
