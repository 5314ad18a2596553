"""The ``uncertainties:``, ``levers:`` and ``optimise:`` sections of a scenario.

``uncertainties:`` maps a dotted key path to a range ``[low, high]`` (drawn uniformly; whole
numbers for whole-number keys) or to ``{values: [...]}`` (one of the values, each equally likely)::

    uncertainties:
      logics.social.q: [0.05, 0.3]
      strategy.support.funding_months: {values: [36, 48, 60]}

``levers:`` has the same form and lists what ``spreadsim optimise`` may choose. Every path must be a
key of the scenario that holds a single value, and every bound or value must be one the scenario
accepts at that key (checked by applying it); otherwise the problem names the file and the key
(exit code 2).
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError, Problem

#: outputs named by default (taken from the summary keys, see simulation/runner.SUMMARY_KEYS)
DEFAULT_OBJECTIVES = ({"name": "attributable_benefit_years", "goal": "max"}, {"name": "support_used", "goal": "min"},
                      {"name": "regret", "goal": "min"})
OPTIMISE_KEYS = ("objectives", "samples", "replicates", "trials", "cost", "seed", "outcome")


@dataclass(frozen=True)
class Uncertain:
    """One uncertainty (or lever): a key path with a range or a list of values."""

    path: str
    kind: str  # "float", "int" or "discrete"
    low: float | None = None
    high: float | None = None
    values: tuple = ()

    def value(self, u: float) -> Any:
        """The value at ``u`` in [0, 1) (a Latin hypercube coordinate)."""
        u = min(max(float(u), 0.0), np.nextafter(1.0, 0.0))
        if self.kind == "discrete":
            return self.values[int(u * len(self.values))]
        if self.kind == "int":
            lo, hi = int(self.low), int(self.high)
            return int(min(hi, lo + math.floor(u * (hi - lo + 1))))
        return float(self.low + u * (self.high - self.low))

    @property
    def numeric(self) -> bool:
        return self.kind != "discrete" or all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                              for v in self.values)

    def describe(self) -> str:
        if self.kind == "discrete":
            return "{" + ", ".join(map(str, self.values)) + "}"
        return f"[{self.low:g}, {self.high:g}]"


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def parse_ranges(section: Any, scenario, name: str = "uncertainties") -> list[Uncertain]:
    """Validate a section of key paths with ranges (``uncertainties:`` or ``levers:``).

    Raises:
        InputError: one problem per bad entry, naming the scenario file and ``name.KEY.PATH``.
    """
    from ..sensitivity.spec import _leaf_kind

    src = scenario.source
    marks = getattr(scenario, "_marks", None)
    problems: list[Problem] = []

    def bad(path: str, msg: str) -> None:
        p = Problem(src, f"{name}.{path}" if path else name, msg)
        problems.append(marks.at(p) if marks else p)

    if section is None:
        raise InputError(Problem(src, name, f"the scenario has no '{name}:' section; add one mapping key paths to "
                                            "ranges, e.g. 'logics.social.q: [0.05, 0.3]'"))
    if not isinstance(section, dict) or not section:
        raise InputError(Problem(src, name, "must map key paths to ranges [low, high] or to {values: [...]}"))
    out: list[Uncertain] = []
    for path, spec in section.items():
        path = str(path)
        kind, why = _leaf_kind(path)
        if kind is None:
            bad(path, f"not a key of the scenario: {why}")
            continue
        if kind == "section":
            bad(path, "is a section, not a single value; name a key inside it")
            continue
        top = path.split(".")[0]
        if top in ("strategies", "sensitivity", "calibration", "uncertainties", "levers", "optimise", "seed",
                   "name", "description"):
            bad(path, f"'{top}' cannot be uncertain")
            continue
        if isinstance(spec, dict):
            extra = [k for k in spec if k != "values"]
            vals = spec.get("values")
            if extra or not isinstance(vals, list) or not vals:
                bad(path, "a discrete uncertainty is {values: [v1, v2, ...]} with at least one value")
                continue
            if len({repr(v) for v in vals}) != len(vals):
                bad(path, "lists a value twice")
                continue
            u = Uncertain(path, "discrete", values=tuple(vals))
            tests = list(vals)
        elif isinstance(spec, (list, tuple)):
            if len(spec) != 2 or not all(_is_number(v) for v in spec):
                bad(path, f"a range is [low, high] with two numbers (got {spec!r})")
                continue
            lo, hi = spec
            if not lo < hi:
                bad(path, f"low must be below high (got [{lo}, {hi}]); a fixed value belongs in the scenario itself")
                continue
            if kind == "bool" or kind == "text":
                bad(path, f"holds {'true/false' if kind == 'bool' else 'text'}: list its values as {{values: [...]}}")
                continue
            if kind == "int":
                if not (float(lo).is_integer() and float(hi).is_integer()):
                    bad(path, f"holds whole numbers: give whole-number bounds (got [{lo}, {hi}])")
                    continue
                u = Uncertain(path, "int", int(lo), int(hi))
                tests = [int(lo), int(hi)]
            else:
                u = Uncertain(path, "float", float(lo), float(hi))
                tests = [float(lo), float(hi)]
        else:
            bad(path, f"must be a range [low, high] or {{values: [...]}} (got {spec!r})")
            continue
        refused = None
        for v in tests:
            try:
                scenario.with_overrides({path: v}, name, warn=False)
            except InputError as err:
                refused = f"{v!r} is outside what the scenario accepts here: " + "; ".join(p.message for p in err.problems)
                break
        if refused:
            bad(path, refused)
            continue
        out.append(u)
    if problems:
        raise InputError(problems)
    return out


def uncertainties(scenario) -> list[Uncertain]:
    """The scenario's ``uncertainties:``, validated."""
    return parse_ranges(scenario.uncertainties, scenario, "uncertainties")


def levers(scenario) -> list[Uncertain]:
    """The scenario's ``levers:``, validated."""
    return parse_ranges(scenario.levers, scenario, "levers")


def latin_hypercube(items: list[Uncertain], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points of a Latin hypercube over ``items`` (scipy.stats.qmc), decided by ``seed``."""
    from scipy.stats import qmc

    if not items:
        return [{} for _ in range(n)]
    ss = np.random.SeedSequence([int(seed), 17])
    u = qmc.LatinHypercube(d=len(items), rng=np.random.default_rng(ss)).random(n)
    return [{it.path: it.value(u[i, j]) for j, it in enumerate(items)} for i in range(n)]


@dataclass(frozen=True)
class OptimiseSpec:
    objectives: tuple[tuple[str, str], ...]  # (name, "max"|"min")
    samples: int
    replicates: int
    trials: int
    cost: str
    outcome: str
    seed: int | None


def optimise_spec(scenario) -> OptimiseSpec:
    """The ``optimise:`` section (all keys optional), validated."""
    from ..runner import SUMMARY_KEYS

    sec = scenario.optimise or {}
    src = scenario.source
    problems: list[Problem] = []

    def bad(key: str, msg: str) -> None:
        problems.append(Problem(src, f"optimise.{key}" if key else "optimise", msg))

    if not isinstance(sec, dict):
        raise InputError(Problem(src, "optimise", "must be a mapping"))
    for k in sec:
        if k not in OPTIMISE_KEYS:
            close = difflib.get_close_matches(str(k), OPTIMISE_KEYS, n=1)
            bad(str(k), "unknown key" + (f" (did you mean '{close[0]}'?)" if close else "")
                + f"; known: {', '.join(OPTIMISE_KEYS)}")
    known = [*SUMMARY_KEYS, "regret"]
    objs = []
    raw = sec.get("objectives", list(DEFAULT_OBJECTIVES))
    if not isinstance(raw, list) or not raw:
        bad("objectives", "must be a list of {name, goal}")
        raw = []
    for i, o in enumerate(raw):
        if isinstance(o, str):
            o = {"name": o}
        if not isinstance(o, dict) or "name" not in o:
            bad(f"objectives[{i}]", "must be {name: OUTPUT, goal: max|min}")
            continue
        nm, goal = str(o["name"]), o.get("goal")
        if nm not in known:
            close = difflib.get_close_matches(nm, known, n=1)
            bad(f"objectives[{i}]", f"unknown output '{nm}'" + (f" (did you mean '{close[0]}'?)" if close else "")
                + f"; choose from {', '.join(known)}")
            continue
        if goal is None:
            from ..labels import better

            goal = "min" if nm == "regret" or better(nm) < 0 else "max"
        if goal not in ("max", "min"):
            bad(f"objectives[{i}]", f"goal must be max or min (got {goal!r})")
            continue
        objs.append((nm, goal))

    def whole(key: str, default: int, lo: int, hi: int) -> int:
        v = sec.get(key, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            bad(key, f"must be a whole number from {lo} to {hi:,} (got {v!r})")
            return default
        return v

    samples = whole("samples", 8, 1, 10_000)
    reps = whole("replicates", 4, 1, 10_000)
    trials = whole("trials", 40, 1, 100_000)
    seed = sec.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        bad("seed", f"must be a whole number >= 0 (got {seed!r})")
        seed = None
    cost = str(sec.get("cost", "support_used"))
    outcome = str(sec.get("outcome", "attributable_benefit_years"))
    for key, v in (("cost", cost), ("outcome", outcome)):
        if v not in SUMMARY_KEYS:
            bad(key, f"unknown output '{v}'; choose from {', '.join(SUMMARY_KEYS)}")
    if problems:
        raise InputError(problems)
    return OptimiseSpec(tuple(objs), samples, reps, trials, cost, outcome, seed)
