"""The model behind the teaching app: a :class:`~simulation.model.SpreadModel` built from controls.

Mesa's SolaraViz rebuilds a model by calling its class with the values of the page's controls as
keyword arguments. :class:`AppModel` takes those values (logic switches and weights, support
capacity, turnover, legitimacy, replication package, assurance interval, seeding, network type,
number of sites, seed), turns the ones that differ from the chosen scenario file into dotted-path
overrides and builds the scenario with :meth:`Scenario.with_overrides`. Controls left where the
scenario put them change nothing: ``AppModel(path, seed=s)`` is exactly ``SpreadModel(load_scenario(path),
s)``, and one seed decides the run as everywhere else in spreadsim.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import fail
from ..model import SpreadModel
from ..scenario import Scenario, load_scenario

#: the folder of the bundled scenarios (in a source checkout)
SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios"
#: the number-of-sites control goes up to this (the network is drawn in full up to here)
MAX_SITES = 2_000
#: the support-capacity control at this value means unlimited support
CAPACITY_UNLIMITED = 2_000
SEED_MAX = 999
NETWORK_TYPES = ["small_world", "scale_free", "random", "regions", "none", "complete"]
SEEDING_RULES = ["random", "most_ready", "most_central", "opinion_leaders"]


def bundled_scenarios(extra: str | Path | None = None) -> dict[str, Path]:
    """The bundled scenarios (``scenarios/**/*.yaml``) by label, plus ``extra`` if given.

    Args:
        extra: another scenario file (the one ``spreadsim app`` was started with); listed first
            under its path as given when it is not one of the bundled ones.

    Returns:
        ``{label: path}``; labels are paths relative to ``scenarios/`` (``demo.yaml``,
        ``classic/bass.yaml``).
    """
    found: dict[str, Path] = {}
    if SCENARIO_DIR.is_dir():
        for p in sorted(SCENARIO_DIR.rglob("*.yaml")):
            found[p.relative_to(SCENARIO_DIR).as_posix()] = p.resolve()
    if extra is not None:
        extra_path = Path(extra).resolve()
        if extra_path not in found.values():
            found = {str(extra): extra_path, **found}
    return found


def label_for(path: str | Path, scenarios: dict[str, Path]) -> str:
    """The label of ``path`` among ``scenarios`` (its path as given if not there)."""
    resolved = Path(path).resolve()
    for label, p in scenarios.items():
        if p == resolved:
            return label
    return str(path)


def default_scenario_file() -> Path | None:
    """``scenarios/demo.yaml`` if present, else the first bundled scenario, else None."""
    demo = SCENARIO_DIR / "demo.yaml"
    if demo.exists():
        return demo
    found = bundled_scenarios()
    return next(iter(found.values()), None)


# ------------------------------------------------------------------------------------- controls
def turnover_mean(sc: Scenario) -> float:
    """Mean annual staff turnover of a scenario's sites (0 when turnover is switched off)."""
    if not sc.forces.turnover:
        return 0.0
    d = sc.sites.traits.turnover
    if d.dist == "constant":
        m = d.value
    elif d.dist == "uniform":
        m = (d.low + d.high) / 2
    elif d.dist == "beta":
        m = d.a / (d.a + d.b)
    elif d.dist == "normal":
        m = d.mean
    else:  # lognormal, poisson: not shares; show the default middle
        m = 0.2
    return float(round(min(max(m, 0.0), 1.0), 2))


def _turnover_overrides(sc: Scenario, value: float) -> dict[str, Any]:
    """Turnover drawn uniformly around ``value``, keeping the scenario's spread where it has one."""
    d = sc.sites.traits.turnover
    half = (d.high - d.low) / 2 if d.dist == "uniform" else 0.05
    half = max(0.0, min(half, value, 1.0 - value))
    return {"forces.turnover": value > 0,
            "sites.traits.turnover": {"dist": "uniform", "low": round(value - half, 6), "high": round(value + half, 6)}}


def _sites_fixed(sc: Scenario) -> bool:
    """The sites come from files (site table or network file), so their number is not a control."""
    return bool(sc.sites.file) or sc.network.type == "file"


@dataclass(frozen=True)
class Control:
    """One control of the page, tied to the scenario.

    Attributes:
        name: the :class:`AppModel` keyword.
        label: what the page shows.
        kind: Mesa's input type (``Checkbox``, ``SliderFloat``, ``SliderInt``, ``Select``).
        read: the control's value for a scenario.
        write: the overrides that set a value (dotted path -> value).
        options: extra options for the input (min, max, step, values), given the scenario.
    """

    name: str
    label: str
    kind: str
    read: Callable[[Scenario], Any]
    write: Callable[[Scenario, Any], dict[str, Any]]
    options: Callable[[Scenario], dict[str, Any]] = field(default=lambda sc: {})
    applies: Callable[[Scenario], bool] = field(default=lambda sc: True)


def _path(dotted: str) -> Callable[[Scenario, Any], dict[str, Any]]:
    return lambda sc, v: {dotted: v}


def _get(dotted: str) -> Callable[[Scenario], Any]:
    def read(sc: Scenario) -> Any:
        obj: Any = sc
        for key in dotted.split("."):
            obj = getattr(obj, key)
        return obj
    return read


def _unit(step: float = 0.05) -> Callable[[Scenario], dict[str, Any]]:
    return lambda sc: {"min": 0.0, "max": 1.0, "step": step}


def _logic_controls(name: str, label: str, what: str) -> list[Control]:
    return [
        Control(name, f"{label} logic ({what})", "Checkbox", _get(f"logics.{name}.enabled"), _path(f"logics.{name}.enabled")),
        Control(f"{name}_weight", f"{label} weight", "SliderFloat", _get(f"logics.{name}.weight"),
                _path(f"logics.{name}.weight"), _unit()),
    ]


def _with_current(values: list, current: Any) -> list:
    return values if current in values else [*values, current]


CONTROLS: list[Control] = [
    *_logic_controls("mechanical", "Mechanical", "programme"),
    *_logic_controls("ecological", "Ecological", "adaptation"),
    *_logic_controls("social", "Social", "peers, norms"),
    Control("support_capacity", "Support capacity (sites)", "SliderInt",
            lambda sc: CAPACITY_UNLIMITED if sc.strategy.support.capacity is None else min(sc.strategy.support.capacity, CAPACITY_UNLIMITED),
            lambda sc, v: {"strategy.support.capacity": None if v >= CAPACITY_UNLIMITED else int(v)},
            lambda sc: {"min": 0, "max": CAPACITY_UNLIMITED, "step": 1}),
    Control("turnover", "Staff turnover (per year)", "SliderFloat", turnover_mean, _turnover_overrides,
            lambda sc: {"min": 0.0, "max": 0.6, "step": 0.01}),
    Control("legitimacy", "Legitimacy (1 = professional)", "SliderFloat",
            _get("logics.social.legitimacy"), _path("logics.social.legitimacy"), _unit()),
    Control("replication_package", "Replication package", "SliderFloat",
            _get("strategy.replication_package"), _path("strategy.replication_package"), _unit()),
    Control("assurance_interval", "Assurance every (months)", "SliderInt",
            _get("strategy.assurance.interval"), _path("strategy.assurance.interval"),
            lambda sc: {"min": 0, "max": max(24, sc.strategy.assurance.interval), "step": 1}),
    Control("seeding_rule", "Seeding rule", "Select", _get("strategy.seeding.rule"), _path("strategy.seeding.rule"),
            lambda sc: {"values": _with_current(SEEDING_RULES, sc.strategy.seeding.rule)}),
    Control("seed_sites", "Seed sites", "SliderInt", _get("strategy.seeding.n"), _path("strategy.seeding.n"),
            lambda sc: {"min": 0, "max": max(100, sc.strategy.seeding.n), "step": 1},
            applies=lambda sc: not sc.strategy.seeding.sites),
    Control("network", "Network type", "Select", _get("network.type"), _path("network.type"),
            lambda sc: {"values": _with_current(NETWORK_TYPES, sc.network.type)},
            applies=lambda sc: sc.network.type != "file"),
    Control("n_sites", "Number of sites", "SliderInt", _get("sites.n"), _path("sites.n"),
            lambda sc: {"min": 20, "max": max(MAX_SITES, sc.sites.n), "step": 10},
            applies=lambda sc: not _sites_fixed(sc)),
]
CONTROL_NAMES = [c.name for c in CONTROLS]


def control_values(sc: Scenario) -> dict[str, Any]:
    """The value each control shows for a scenario (controls that do not apply are left out)."""
    return {c.name: c.read(sc) for c in CONTROLS if c.applies(sc)}


def overrides_for(sc: Scenario, values: dict[str, Any]) -> dict[str, Any]:
    """Dotted-path overrides for the control values that differ from the scenario's own.

    Raises:
        InputError: a control that does not exist, or one that does not apply to this scenario.
    """
    current = control_values(sc)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name not in CONTROL_NAMES:
            raise fail("app", name, f"unknown control; controls are: {', '.join(CONTROL_NAMES)}")
        if name not in current:
            raise fail(sc.source, name, "this control does not apply: the scenario's sites come from files")
        if isinstance(current[name], float) or isinstance(value, float):
            same = np.isclose(float(value), float(current[name]), rtol=0, atol=1e-9)
        else:
            same = value == current[name]
        if not same:
            ctl = next(c for c in CONTROLS if c.name == name)
            out.update(ctl.write(sc, value))
    return out


def model_params(sc: Scenario, scenario_file: str | Path) -> dict[str, Any]:
    """Mesa SolaraViz ``model_params`` for a scenario: one input per control, then the seed."""
    params: dict[str, Any] = {"scenario_file": str(scenario_file)}
    for c in CONTROLS:
        if not c.applies(sc):
            continue
        params[c.name] = {"type": c.kind, "label": c.label, "value": c.read(sc), **c.options(sc)}
    params["seed"] = {"type": "SliderInt", "label": "Seed", "value": sc.seed,
                      "min": 0, "max": max(SEED_MAX, sc.seed), "step": 1}
    return params


# ------------------------------------------------------------------------------------ the model
class AppModel(SpreadModel):
    """A :class:`~simulation.model.SpreadModel` built from a scenario file and the page's controls.

    Every control is optional: ``None`` (the default) keeps the scenario's value, and so does a
    value equal to it. The others become overrides (``self.app_overrides``) applied with
    :meth:`~simulation.scenario.Scenario.with_overrides`, so the run is exactly
    ``SpreadModel(scenario.with_overrides(app_overrides), seed)``.

    Args:
        scenario_file: a scenario YAML file (default: ``scenarios/demo.yaml``; the built-in defaults
            if there is none).
        mechanical, ecological, social: switch a logic on or off.
        mechanical_weight, ecological_weight, social_weight: a logic's weight, 0-1.
        support_capacity: sites the programme supports at once (``CAPACITY_UNLIMITED`` = unlimited).
        turnover: mean annual share of staff leaving, 0-1 (drawn uniformly around it).
        legitimacy: professionally led (1) vs seen as top-down (0).
        replication_package: quality of the manuals and onboarding, 0-1.
        assurance_interval: months between assurance rounds (0 = none).
        seeding_rule: random, most_ready, most_central, opinion_leaders (or the scenario's own).
        seed_sites: sites seeded at month 0 (at most the number of sites).
        network: small_world, scale_free, random, regions, none, complete.
        n_sites: number of sites (not for scenarios whose sites come from files).
        seed: the run's seed (default: the scenario's).
        rng: Mesa's name for the seed: an int is the seed; a numpy Generator gives one draw as the
            seed. Give ``seed`` or ``rng``, not both.
        agents: create the Mesa agents (one per site).

    Raises:
        InputError: a bad scenario file or control value, naming the file and the field.
    """

    def __init__(self, scenario_file: str | Path | None = None, *,
                 mechanical: bool | None = None, mechanical_weight: float | None = None,
                 ecological: bool | None = None, ecological_weight: float | None = None,
                 social: bool | None = None, social_weight: float | None = None,
                 support_capacity: int | None = None, turnover: float | None = None,
                 legitimacy: float | None = None, replication_package: float | None = None,
                 assurance_interval: int | None = None, seeding_rule: str | None = None,
                 seed_sites: int | None = None, network: str | None = None, n_sites: int | None = None,
                 seed: int | None = None, rng: int | np.random.Generator | None = None, agents: bool = True):
        if scenario_file is None:
            scenario_file = default_scenario_file()
        if scenario_file is None:
            from ..scenario import default_scenario

            base = default_scenario()
        else:
            base = load_scenario(scenario_file)
        values = dict(mechanical=mechanical, mechanical_weight=mechanical_weight, ecological=ecological,
                      ecological_weight=ecological_weight, social=social, social_weight=social_weight,
                      support_capacity=support_capacity, turnover=turnover, legitimacy=legitimacy,
                      replication_package=replication_package, assurance_interval=assurance_interval,
                      seeding_rule=seeding_rule, seed_sites=seed_sites, network=network, n_sites=n_sites)
        overrides = overrides_for(base, values)
        notes: list[str] = []
        n = overrides.get("sites.n", base.sites.n)
        k = overrides.get("strategy.seeding.n", base.strategy.seeding.n)
        if not _sites_fixed(base) and not base.strategy.seeding.sites and k > n:
            overrides["strategy.seeding.n"] = n
            notes.append(f"seed sites lowered from {k} to {n}: there are only {n} sites")
        scenario = base.with_overrides(overrides, label="app") if overrides else base
        if seed is not None and rng is not None:
            raise fail("app", "seed", "give seed or rng, not both")
        if rng is not None:
            seed = int(rng) if isinstance(rng, (int, np.integer)) else int(rng.integers(0, 2**31 - 1))
        if seed is not None and (int(seed) < 0):
            raise fail("app", "seed", f"must be a non-negative integer, got {seed}")
        self.scenario_file = None if scenario_file is None else str(scenario_file)
        self.base_scenario = base
        self.app_overrides = overrides
        self.app_notes = notes
        super().__init__(scenario, seed=seed, agents=agents)
        self.control_values = control_values(scenario)
