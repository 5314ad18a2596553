"""The ``sensitivity:`` section of a scenario: uncertain parameters, outputs and method settings.

The section is free-form in the scenario schema and validated here. Every problem is reported as an
:class:`~simulation.errors.InputError` naming the scenario file and the key path, for example
``scenarios/x.yaml: sensitivity.parameters[2].path: no key 'socal' in logics (did you mean 'social'?)``.

Format (every key but ``parameters`` is optional)::

    sensitivity:
      method: sobol            # sobol | morris | fast
      samples: 256             # N: base samples (sobol, a power of 2), trajectories (morris), per-curve points (fast)
      replicates: 4            # runs per sample, with the same seeds in every sample (common random numbers)
      seed: 7                  # decides the sample, the replicate seeds and the bootstrap (default: scenario seed)
      second_order: true       # sobol: also S2 (N(2D+2) samples instead of N(D+2))
      num_levels: 4            # morris: grid levels (even)
      harmonics: 4             # fast: interference parameter M
      resamples: 200           # bootstrap resamples for the confidence intervals
      conf_level: 0.95
      strategies: [a, b]       # names from the scenario's `strategies:` (default: the scenario as written)
      outputs: [adopted_share, adopted_share@60, sustained_delivering_24, {name: equity_gap, goal: min}]
      warn: {noise_share: 0.1, ci: 0.1, convergence: 0.05}
      parameters:
        - path: logics.social.q          # a dotted key path into the scenario
          bounds: [0.05, 0.3]
          dist: uniform                  # uniform | loguniform | triangular (peak) | truncnormal (mean, sd)
          group: peers                   # optional: parameters in a group get one index together
          name: imitation q              # optional label for tables and figures (default: the path)
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import InputError, Problem
from ..limits import MAX_SEED

METHODS = ("sobol", "morris", "fast")
DISTS = {"uniform": "unif", "loguniform": "logunif", "triangular": "triang", "truncnormal": "truncnorm"}

#: every key of the section: (meaning, default, allowed values), for parsing and for the reference
SECTION_DOCS: dict[str, tuple[str, str, str]] = {
    "method": ("the analysis: Sobol' indices (Saltelli's scheme), Morris elementary effects, or eFAST",
               "`sobol`", "one of `sobol`, `morris`, `fast`"),
    "samples": ("N: base samples (sobol), trajectories (morris), points per search curve (fast)",
                "256 (sobol), 20 (morris), 257 (fast)",
                "whole number from 2 to 1,048,576; sobol: a power of 2, at least 4; morris: at least 4; "
                "fast: N/2 > 4 M²"),
    "replicates": ("runs per sample, the same seeds in every sample and strategy (common random numbers)", "4",
                   "whole number from 1 to 10,000"),
    "seed": ("decides the sample, the replicate seeds and the bootstrap", "the scenario's `seed`",
             "whole number from 0 to 2⁶³ - 1"),
    "second_order": ("sobol: also second-order indices S2 (N(2D+2) samples instead of N(D+2))", "true",
                     "true or false"),
    "num_levels": ("morris: levels of the grid", "4", "even whole number from 2 to 1,000"),
    "harmonics": ("fast: interference parameter M", "4", "whole number from 1 to 100"),
    "resamples": ("bootstrap resamples for the confidence intervals", "200", "whole number from 10 to 100,000"),
    "conf_level": ("level of the confidence intervals", "0.95", "number between 0 and 1"),
    "strategies": ("strategies analysed: names from `strategies:`, `baseline` for the scenario as written",
                   "[baseline]", "a list of names (or one comma-separated text)"),
    "outputs": ("outputs analysed: per-run outcomes, or a monthly series at a month (`adopted_share@60`); an item "
                "may be `{name: ..., goal: max or min}`",
                "[adopted_share, reach_share, attributable_benefit_years, mean_fidelity, equity_gap]",
                "a non-empty list of output names"),
    "warn": ("thresholds of the report's warnings: `noise_share` (noise share of the variance), `ci` (half-width "
             "of an interval), `convergence` (change of an index between N/2 and N)",
             "{noise_share: 0.1, ci: 0.1, convergence: 0.05}", "a mapping of numbers in (0, 1]"),
    "parameters": ("the uncertain inputs (see `sensitivity.parameters[]` below)", "required",
                   "a list of at least two parameters (or groups)"),
}
#: every key of one uncertain parameter: (meaning, default, allowed values)
PARAM_DOCS: dict[str, tuple[str, str, str]] = {
    "path": ("dotted key path of a number in the scenario (`logics.social.q`)", "required",
             "a key path of a numeric field (not `strategies`, `sensitivity`, `calibration`, `seed`, `name`)"),
    "bounds": ("the range of values sampled", "required", "[low, high], finite numbers with low < high, "
               "within the field's own range"),
    "dist": ("distribution over the range", "`uniform`", "one of `uniform`, `loguniform` (low > 0), "
             "`triangular` (needs `peak`), `truncnormal` (needs `mean`, `sd`)"),
    "peak": ("triangular: the most likely value", "–", "a number with low ≤ peak < high"),
    "mean": ("truncnormal: mean", "–", "a number"),
    "sd": ("truncnormal: standard deviation", "–", "a number > 0"),
    "group": ("parameters with the same group get one index together (not with fast)", "none", "text"),
    "name": ("label in tables and figures", "the path's human label", "text"),
    "integer": ("values are rounded to whole numbers", "true for whole-number fields, else false",
                "true or false (true for whole-number fields)"),
}
SECTION_KEYS = tuple(SECTION_DOCS)
PARAM_KEYS = tuple(PARAM_DOCS)
WARN_KEYS = ("noise_share", "ci", "convergence")
#: the scenario as written, without any strategy's overrides
BASELINE = "baseline"
#: the row of the wins table for samples in which two or more strategies tie for best
TIE = "(tie)"
#: most base samples (N) an analysis may ask for; the runs are also capped (limits.MAX_RUNS)
MAX_SAMPLES = 2**20

#: per-run outcomes, and whether more is better (the direction used to say which strategy wins)
SUMMARY_GOALS = {
    "adopted_share": "max", "reach": "max", "reach_share": "max", "mean_fidelity": "max", "benefit": "max",
    "attributable_benefit": "max", "attributable_benefit_years": "max",
    "sustained_delivering_12": "max", "sustained_delivering_24": "max", "sustained_full_12": "max",
    "sustained_full_24": "max", "sustained_startup": "max", "sustained_competent": "max", "competence_rate": "max",
    "time_to_50": "min", "abandonment": "min", "equity_gap": "min",
    "support_used": "min", "local_cost": "min", "total_cost": "min", "cost_per_sustained_site": "min",
}
#: monthly series usable as ``column@month`` outputs, with their direction
SERIES_GOALS = {
    "adopted": "max", "adopted_share": "max", "reach": "max", "mean_fidelity": "max", "benefit": "max",
    "support_used": "min", "supported": "max", "trainers": "max", "not_engaged": "min",
    "exploration": "max", "installation": "max", "initial": "max", "full": "max", "declined": "min",
    "discontinued": "min",
}
#: a top-level key the sample may not vary (not model parameters)
FORBIDDEN_TOP = ("strategies", "sensitivity", "calibration", "uncertainties", "levers", "optimise", "seed", "name",
                 "description")


@dataclass(frozen=True)
class Parameter:
    """One uncertain input.

    Attributes:
        path: dotted key path into the scenario (``logics.social.q``).
        bounds: SALib bounds for the distribution (``[lo, hi]``, ``[lo, hi, peak share]`` for
            triangular, ``[lo, hi, mean, sd]`` for truncnormal).
        dist: SALib distribution code (``unif``, ``logunif``, ``triang``, ``truncnorm``).
        low, high: the range of values the parameter can take.
        name: label used in tables and figures.
        group: group label (``None``: the parameter is its own group).
        integer: values are rounded to whole numbers (the schema field is an integer).
    """

    path: str
    low: float
    high: float
    dist: str = "unif"
    bounds: tuple[float, ...] = ()
    name: str = ""
    group: str | None = None
    integer: bool = False

    def value(self, x: float) -> float | int:
        """The scenario value for a sampled number (clipped to the range, rounded if integer)."""
        v = min(max(float(x), self.low), self.high)
        return int(round(v)) if self.integer else v


@dataclass(frozen=True)
class Output:
    """An output of interest: a per-run summary key, or ``column@month`` from the monthly series."""

    name: str
    goal: str = "max"

    @property
    def column(self) -> str:
        return self.name.split("@", 1)[0]

    @property
    def month(self) -> int | None:
        return int(self.name.split("@", 1)[1]) if "@" in self.name else None


@dataclass
class SensitivitySpec:
    """A validated ``sensitivity:`` section (see the module docstring for the format)."""

    parameters: list[Parameter]
    outputs: list[Output]
    method: str = "sobol"
    samples: int = 256
    replicates: int = 4
    seed: int = 0
    second_order: bool = True
    num_levels: int = 4
    harmonics: int = 4
    resamples: int = 200
    conf_level: float = 0.95
    strategies: list[str] = field(default_factory=lambda: [BASELINE])
    warn_noise_share: float = 0.1
    warn_ci: float = 0.1
    warn_convergence: float = 0.05
    source: str = "<python>"

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.parameters]

    @property
    def groups(self) -> list[str] | None:
        """Group of each parameter, or ``None`` when no parameter is grouped."""
        if not any(p.group for p in self.parameters):
            return None
        return [p.group or p.name for p in self.parameters]

    @property
    def factors(self) -> list[str]:
        """What the indices are about: the groups (in first-seen order) or the parameters."""
        g = self.groups
        return list(dict.fromkeys(g)) if g else self.names

    def problem_dict(self) -> dict[str, Any]:
        """The SALib problem definition (names, bounds, dists, groups, outputs)."""
        d: dict[str, Any] = {
            "names": self.names,
            "bounds": [list(p.bounds) for p in self.parameters],
            "outputs": [o.name for o in self.outputs],
        }
        if any(p.dist != "unif" for p in self.parameters):
            d["dists"] = [p.dist for p in self.parameters]
        if self.groups:
            d["groups"] = self.groups
        return d

    def n_runs(self, n_strategies: int | None = None) -> int:
        """How many model runs the analysis needs (convergence check included)."""
        return self.n_samples() * self.replicates * (n_strategies or len(self.strategies))

    def n_samples(self) -> int:
        """Rows of the sample matrix (for FAST, with the N/2 design of the convergence check)."""
        d = len(self.factors)
        if self.method == "sobol":
            return self.samples * ((2 * d + 2) if self.second_order else (d + 2))
        if self.method == "morris":
            return self.samples * (d + 1)
        n = len(self.parameters)
        return self.samples * n + (self.samples // 2) * n

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping for the manifest."""
        return {
            "method": self.method, "samples": self.samples, "replicates": self.replicates, "seed": self.seed,
            "second_order": self.second_order, "num_levels": self.num_levels, "harmonics": self.harmonics,
            "resamples": self.resamples, "conf_level": self.conf_level, "strategies": list(self.strategies),
            "outputs": [{"name": o.name, "goal": o.goal} for o in self.outputs],
            "warn": {"noise_share": self.warn_noise_share, "ci": self.warn_ci, "convergence": self.warn_convergence},
            "parameters": [{"path": p.path, "name": p.name, "low": p.low, "high": p.high, "dist": p.dist,
                            "bounds": list(p.bounds), "group": p.group, "integer": p.integer}
                           for p in self.parameters],
        }


def _shown(v: Any) -> str:
    """A value in a message: numbers as they are, text and lists by their kind only."""
    from ..scenario import shown

    return shown(v)


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(str(key), list(options), n=1, cutoff=0.5)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _leaf_kind(path: str) -> tuple[str | None, str]:
    """What the schema field at ``path`` holds: ('int'|'float'|'bool'|'text'|'section'|'any', why).

    ``'any'`` when the path goes into a free-form mapping (such as ``sites.groups.urban``).
    ``None`` with a message when the path is not in the schema.
    """
    import typing

    from pydantic import BaseModel

    from ..scenario import Scenario, _section_type

    model: Any = Scenario
    keys = path.split(".")
    for i, key in enumerate(keys):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return "any", ""
        f = model.model_fields.get(key)
        if f is None:
            where = ".".join(keys[:i]) or "the top level"
            return None, f"no key '{key}' in {where}{_suggest(key, model.model_fields.keys())}"
        ann = f.annotation
        if i == len(keys) - 1:
            sec = _section_type(ann)
            if isinstance(sec, type) and issubclass(sec, BaseModel):
                return "section", ""
            args = set(typing.get_args(ann)) or {ann}
            args.discard(type(None))
            if args == {bool}:
                return "bool", ""
            if args <= {int}:
                return "int", ""
            if args <= {int, float}:
                return "float", ""
            if getattr(ann, "__origin__", None) is dict or typing.get_origin(ann) is dict:
                return "section", ""
            return "text", ""
        model = _section_type(ann)
    return "any", ""


def parse(section: Any, scenario=None, source: str | None = None, *, overrides: dict[str, Any] | None = None
          ) -> SensitivitySpec:
    """Validate a ``sensitivity:`` section.

    Args:
        section: the mapping from the scenario (``scenario.sensitivity``) or written in Python.
        scenario: the scenario it belongs to; when given, key paths, bounds (against the schema's
            ranges), strategies and outputs are checked against it. Without one (a test function
            plugged in where the model would be), paths are free labels and outputs free names.
        source: the file named in error messages (default: the scenario's file).
        overrides: values that take precedence over the section (the command line's ``--method``,
            ``--samples``, ``--replicates``, ``--seed``, ``--strategies``, ``--outputs``).

    Returns:
        The validated :class:`SensitivitySpec`.

    Raises:
        InputError: listing every problem, each naming the file and the key path.
    """
    src = source or (scenario.source if scenario is not None else "<python>")
    problems: list[Problem] = []

    def bad(fieldpath: str, msg: str) -> None:
        problems.append(Problem(src, fieldpath, msg))

    if section is None:
        raise InputError(Problem(src, "sensitivity", "no 'sensitivity:' section: add one with 'parameters:' (a list of "
                                 "{path, bounds}) and 'outputs:' (see `spreadsim sensitivity --help`)"))
    if not isinstance(section, dict):
        raise InputError(Problem(src, "sensitivity", f"must be a mapping of keys to values, not {type(section).__name__}"))
    for k in section:
        if not isinstance(k, str):
            bad(f"sensitivity.{k}", f"keys must be text, got {k!r}")
        elif k not in SECTION_KEYS:
            bad(f"sensitivity.{k}", f"unknown key '{k}'{_suggest(k, SECTION_KEYS)}; "
                                    f"known keys: {', '.join(SECTION_KEYS)}")
    sec = dict(section)
    cli_src: dict[str, str] = {}
    for k, v in (overrides or {}).items():
        if v is not None:
            sec[k] = v
            cli_src[k] = f"--{k.replace('_', '-')}"

    def at(key: str, suffix: str = "") -> Problem:
        """Where a top-level key came from: the command line option, or the file and key path."""
        if key in cli_src:
            return Problem(cli_src[key], suffix.strip("[]") and f"item {suffix.strip('[]')}", "")
        return Problem(src, f"sensitivity.{key}{suffix}", "")

    def bad_key(key: str, msg: str, suffix: str = "") -> None:
        p = at(key, suffix)
        problems.append(Problem(p.source, p.field, msg))

    # ---------------------------------------------------------------- method settings
    method = sec.get("method", "sobol")
    if method not in METHODS:
        bad_key("method", f"unknown method {method!r}{_suggest(str(method), METHODS)}; choose from {', '.join(METHODS)}")
        method = "sobol"

    def integer(key: str, default: int, lo: int, hi: int | None = None) -> int:
        v = sec.get(key, default)
        if not _is_int(v) or v < lo or (hi is not None and v > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            bad_key(key, f"must be a whole number {rng} (got {_shown(v)})")
            return default
        return int(v)

    default_samples = {"sobol": 256, "morris": 20, "fast": 257}[method]
    samples = integer("samples", default_samples, 2, MAX_SAMPLES)
    replicates = integer("replicates", 4, 1, 10_000)
    seed_default = int(getattr(scenario, "seed", 0) or 0)
    seed = integer("seed", seed_default, 0, MAX_SEED)
    num_levels = integer("num_levels", 4, 2, 1000)
    harmonics = integer("harmonics", 4, 1, 100)
    resamples = integer("resamples", 200, 10, 100_000)
    second_order = sec.get("second_order", True)
    if not isinstance(second_order, bool):
        bad_key("second_order", f"must be true or false (got {_shown(second_order)})")
        second_order = True
    conf = sec.get("conf_level", 0.95)
    if not _is_number(conf) or not 0 < conf < 1:
        bad_key("conf_level", f"must be a number between 0 and 1, such as 0.95 (got {_shown(conf)})")
        conf = 0.95

    if method == "sobol" and samples >= 4 and samples & (samples - 1):
        lo = 1 << (samples.bit_length() - 1)
        bad_key("samples", f"sobol needs a power of 2 (Sobol' sequences keep their balance only at 2^m points); "
                           f"got {samples}, use {lo} or {lo * 2}")
    if method == "sobol" and samples < 4:
        bad_key("samples", f"sobol needs at least 4 base samples (the convergence check uses N/2); got {samples}")
    if method == "morris":
        if num_levels % 2:
            bad_key("num_levels", f"morris needs an even number of levels (got {num_levels})")
        if samples < 4:
            bad_key("samples", f"morris needs at least 4 trajectories (the convergence check uses N/2); got {samples}")
    if method == "fast" and samples // 2 <= 4 * harmonics ** 2:
        need = 8 * harmonics ** 2 + 2
        bad_key("samples", f"fast needs N/2 > 4 M^2 = {4 * harmonics ** 2} (M = harmonics = {harmonics}) for the "
                           f"convergence check at N/2; got N = {samples}, use at least {need}")

    # ---------------------------------------------------------------- warning thresholds
    warn = sec.get("warn", {}) or {}
    thresholds = {"noise_share": 0.1, "ci": 0.1, "convergence": 0.05}
    if not isinstance(warn, dict):
        bad("sensitivity.warn", f"must be a mapping with {', '.join(WARN_KEYS)} (got {_shown(warn)})")
    else:
        for k, v in warn.items():
            if k not in WARN_KEYS:
                bad(f"sensitivity.warn.{k}", f"unknown key '{k}'{_suggest(k, WARN_KEYS)}; known: {', '.join(WARN_KEYS)}")
            elif not _is_number(v) or not 0 < v <= 1:
                bad(f"sensitivity.warn.{k}", f"must be a number in (0, 1] (got {_shown(v)})")
            else:
                thresholds[k] = float(v)

    # ---------------------------------------------------------------- strategies
    strategies = sec.get("strategies", [BASELINE])
    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    if not isinstance(strategies, list) or not strategies or not all(isinstance(s, str) for s in strategies):
        bad_key("strategies", f"must be a list of strategy names (got {_shown(strategies)})")
        strategies = [BASELINE]
    if len(set(strategies)) != len(strategies):
        bad_key("strategies", f"lists a strategy twice: {', '.join(strategies)}")
    if scenario is not None:
        known = list(scenario.strategies)
        for s in strategies:
            if s != BASELINE and s not in scenario.strategies:
                opts = ", ".join([BASELINE] + known)
                bad_key("strategies", f"no strategy '{s}' in the scenario's 'strategies:'{_suggest(s, known + [BASELINE])}; "
                                      f"choose from {opts}")

    # ---------------------------------------------------------------- outputs
    outputs: list[Output] = []
    raw_outputs = sec.get("outputs", ["adopted_share", "reach_share", "attributable_benefit_years", "mean_fidelity", "equity_gap"]
                          if scenario is not None else ["Y"])
    if isinstance(raw_outputs, str):
        raw_outputs = [s.strip() for s in raw_outputs.split(",") if s.strip()]
    if not isinstance(raw_outputs, list) or not raw_outputs:
        bad_key("outputs", f"must be a non-empty list of output names (got {_shown(raw_outputs)})")
        raw_outputs = []
    for i, o in enumerate(raw_outputs):
        def obad(msg: str, i: int = i) -> None:
            bad_key("outputs", msg, f"[{i}]")

        goal = None
        if isinstance(o, dict):
            extra = [k for k in o if k not in ("name", "goal")]
            if extra:
                obad(f"unknown key '{extra[0]}'; an output takes name and goal")
            goal = o.get("goal")
            o = o.get("name")
            if goal not in (None, "max", "min"):
                obad(f"goal must be 'max' or 'min' (got {_shown(goal)})")
                goal = None
        if not isinstance(o, str) or not o:
            obad(f"an output must be a name such as adopted_share (got {_shown(o)})")
            continue
        out, msg = check_output(o, goal, scenario)
        if msg:
            obad(msg)
            continue
        outputs.append(out)
    if len({o.name for o in outputs}) != len(outputs):
        bad_key("outputs", "lists an output twice")

    # ---------------------------------------------------------------- parameters
    params: list[Parameter] = []
    raw_params = section.get("parameters")
    if not isinstance(raw_params, list) or not raw_params:
        bad("sensitivity.parameters", "must be a list of uncertain parameters, each {path: key.path, bounds: [low, high]}"
            + (f" (got {_shown(raw_params)})" if raw_params is not None else ""))
        raw_params = []
    for i, p in enumerate(raw_params):
        here = f"sensitivity.parameters[{i}]"
        if not isinstance(p, dict):
            bad(here, f"must be a mapping with path and bounds (got {_shown(p)})")
            continue
        n_before = len(problems)
        for k in p:
            if not isinstance(k, str):
                bad(f"{here}.{k}", f"keys must be text, got {k!r}" + (" (YAML reads on/off/yes/no as true/false)"
                                                                     if isinstance(k, bool) else ""))
            elif k not in PARAM_KEYS:
                bad(f"{here}.{k}", f"unknown key '{k}'{_suggest(k, PARAM_KEYS)}; known keys: {', '.join(PARAM_KEYS)}")
        path = p.get("path")
        if not isinstance(path, str) or not path.strip():
            bad(f"{here}.path", f"must be a dotted key path such as logics.social.q (got {_shown(path)})")
            continue
        path = path.strip()
        kind = "float"
        if scenario is not None:
            top = path.split(".", 1)[0]
            if top in FORBIDDEN_TOP:
                bad(f"{here}.path", f"'{top}' is not a model parameter and cannot be varied")
                continue
            kind, why = _leaf_kind(path)
            if kind is None:
                bad(f"{here}.path", why)
                continue
            if kind == "section":
                bad(f"{here}.path", f"'{path}' is a section, not a number; name one of its keys (such as {path}.<key>)")
                continue
            if kind in ("bool", "text"):
                bad(f"{here}.path", f"'{path}' is not numeric ({'true/false' if kind == 'bool' else 'a choice of words'}); "
                                    f"compare such settings as strategies instead")
                continue
        bounds = p.get("bounds")
        if (not isinstance(bounds, list) or len(bounds) != 2 or not all(_is_number(b) for b in bounds)):
            bad(f"{here}.bounds", f"must be [low, high], two numbers (got {_shown(bounds)})")
            continue
        lo, hi = float(bounds[0]), float(bounds[1])
        if not lo < hi:
            bad(f"{here}.bounds", f"low ({bounds[0]}) must be below high ({bounds[1]})")
            continue
        integer_ = p.get("integer", kind == "int")
        if not isinstance(integer_, bool):
            bad(f"{here}.integer", f"must be true or false (got {_shown(integer_)})")
            continue
        if kind == "int" and not integer_:
            bad(f"{here}.integer", f"'{path}' holds whole numbers in the scenario; leave integer out or set it true")
            continue
        if integer_ and (round(hi) - round(lo)) < 1:
            bad(f"{here}.bounds", f"'{path}' holds whole numbers: the bounds must span at least two of them (got {bounds})")
            continue
        dist = p.get("dist", "uniform")
        if dist not in DISTS:
            bad(f"{here}.dist", f"unknown distribution {dist!r}{_suggest(str(dist), DISTS)}; choose from {', '.join(DISTS)}")
            continue
        needs = {"uniform": (), "loguniform": (), "triangular": ("peak",), "truncnormal": ("mean", "sd")}[dist]
        for k in ("peak", "mean", "sd"):
            if k in p and k not in needs:
                bad(f"{here}.{k}", f"'{dist}' takes no '{k}'" + (f"; it takes {', '.join(needs)}" if needs else ""))
            if k in needs and not _is_number(p.get(k)):
                bad(f"{here}.{k}", f"'{dist}' needs a number '{k}' (got {_shown(p.get(k))})")
        if len(problems) > n_before:
            continue
        if dist == "uniform":
            sb: tuple[float, ...] = (lo, hi)
        elif dist == "loguniform":
            if lo <= 0:
                bad(f"{here}.bounds", f"loguniform needs a positive low bound (got {bounds[0]})")
                continue
            sb = (lo, hi)
        elif dist == "triangular":
            peak = float(p["peak"])
            if not lo <= peak < hi:
                bad(f"{here}.peak", f"must be within the bounds, at or above low and below high ({lo} <= peak < {hi}; got {peak})")
                continue
            if hi < 0:
                bad(f"{here}.bounds", "triangular needs a high bound of at least 0 (SALib's triangular scaling)")
                continue
            sb = (lo, hi, (peak - lo) / (hi - lo))
        else:
            mean, sd = float(p["mean"]), float(p["sd"])
            if sd <= 0:
                bad(f"{here}.sd", f"must be above 0 (got {sd})")
                continue
            sb = (lo, hi, mean, sd)
        group = p.get("group")
        if group is not None and (not isinstance(group, str) or not group.strip()):
            bad(f"{here}.group", f"must be a name (got {_shown(group)})")
            continue
        name = p.get("name", path)
        if not isinstance(name, str) or not name.strip():
            bad(f"{here}.name", f"must be text (got {_shown(name)})")
            continue
        if scenario is not None:
            msg = _check_range(scenario, path, lo, hi, integer_)
            if msg:
                bad(f"{here}.bounds", msg)
                continue
        params.append(Parameter(path=path, low=lo, high=hi, dist=DISTS[dist], bounds=sb, name=name.strip(),
                                group=group.strip() if group else None, integer=integer_))

    seen: dict[str, int] = {}
    for i, p in enumerate(params):
        if p.path in seen:
            bad(f"sensitivity.parameters[{i}].path", f"'{p.path}' is already varied by parameters[{seen[p.path]}]")
        seen.setdefault(p.path, i)
    names = [p.name for p in params]
    if len(set(names)) != len(names):
        bad("sensitivity.parameters", "two parameters have the same name; give them distinct 'name:' labels")
    if params and not problems:
        groups = [p.group or p.name for p in params]
        if len(set(groups)) < 2:
            bad("sensitivity.parameters", "needs at least two parameters (or two groups): with one, every effect is its own")
        if method == "fast" and any(p.group for p in params):
            bad("sensitivity.parameters", "fast does not support groups (SALib's eFAST indexes single parameters); "
                                          "remove 'group:' or use sobol or morris")

    # strategies that set a key the sample varies would be overridden by the sample
    if scenario is not None:
        for s in strategies:
            for i, p in enumerate(params):
                if s != BASELINE and s in scenario.strategies and p.path in scenario.strategies[s]:
                    bad(f"sensitivity.parameters[{i}].path",
                        f"strategy '{s}' sets '{p.path}' too; the sample would override it, so the comparison "
                        f"would not show the strategy. Vary another key or drop it from the strategy")

    if problems:
        raise InputError(problems)
    return SensitivitySpec(
        parameters=params, outputs=outputs, method=method, samples=samples, replicates=replicates, seed=seed,
        second_order=second_order, num_levels=num_levels, harmonics=harmonics, resamples=resamples,
        conf_level=float(conf), strategies=list(strategies), warn_noise_share=thresholds["noise_share"],
        warn_ci=thresholds["ci"], warn_convergence=thresholds["convergence"], source=src,
    )


def check_output(name: str, goal: str | None, scenario) -> tuple[Output | None, str | None]:
    """Validate an output name against the scenario: ``(Output, None)`` or ``(None, message)``.

    Without a scenario (a test function standing in for the model) any name is accepted.
    """
    if scenario is None:
        return Output(name, goal or "max"), None
    months = int(scenario.months)
    col, _, month = name.partition("@")
    if month or "@" in name:
        if col not in SERIES_GOALS:
            return None, f"no monthly series '{col}'{_suggest(col, SERIES_GOALS)}; choose from {', '.join(SERIES_GOALS)}"
        if not month.isdigit() or not 0 <= int(month) <= months:
            return None, f"'{name}': the month after @ must be a whole number from 0 to {months} (the horizon)"
        return Output(name, goal or SERIES_GOALS[col]), None
    if name not in SUMMARY_GOALS:
        return None, (f"unknown output '{name}'{_suggest(name, SUMMARY_GOALS)}; choose from {', '.join(SUMMARY_GOALS)}, "
                      f"or a monthly series at a month such as adopted_share@60")
    return Output(name, goal or SUMMARY_GOALS[name]), None


def _check_range(scenario, path: str, lo: float, hi: float, integer: bool) -> str | None:
    """A message when the scenario refuses the bounds (out of the schema's range), else None."""
    for v in (lo, hi):
        val: Any = int(round(v)) if integer else v
        try:
            scenario.with_overrides({path: val}, "sensitivity")
        except InputError as err:
            msgs = "; ".join(p.message for p in err.problems)
            return f"the scenario refuses {path} = {val}: {msgs}"
    return None


def replicate_seeds(seed: int, replicates: int) -> list[int]:
    """The seeds of replicates 0..R-1, the same for every sample and strategy (common random numbers).

    The experiment runner's derivation (:func:`simulation.experiments.replicate_seed`), so replicate
    *r* here is replicate *r* of ``spreadsim compare`` with the same seed.
    """
    from ..experiments import replicate_seed

    return [replicate_seed(int(seed), r) for r in range(int(replicates))]


def derived_seed(seed: int, purpose: int) -> int:
    """A positive seed for the sampler (1) or the bootstrap (2), decided by ``seed``."""
    return int(np.random.SeedSequence([int(seed), purpose]).generate_state(1, dtype=np.uint32)[0]) | 1
