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

#: how a problem with a control's value names its source (as ``--set`` does on the command line)
CONTROLS_SOURCE = "the page's controls"
#: the folder of the bundled scenarios (in a source checkout)
SCENARIO_DIR = Path(__file__).resolve().parent.parent.parent / "scenarios"


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
        for p in sorted(SCENARIO_DIR.rglob("*.yaml"), key=_scenario_order):
            found[p.relative_to(SCENARIO_DIR).as_posix()] = p.resolve()
    if extra is not None:
        extra_path = Path(extra).resolve()
        if extra_path not in found.values():
            found = {str(extra): extra_path, **found}
    return found


#: the order of the bundled scenarios' folders in the page's list (calibration set-ups last)
FOLDER_ORDER = {"": 0, "cases": 1, "strategies": 2, "classic": 3, "calibration": 9}
#: what each folder holds, in the page's list
FOLDER_WORDS = {"": "", "cases": "case", "strategies": "strategies", "classic": "classic model",
                "calibration": "calibration set-up"}


def _scenario_order(p: Path) -> tuple:
    folder = p.parent.relative_to(SCENARIO_DIR).as_posix() if p.parent != SCENARIO_DIR else ""
    return (FOLDER_ORDER.get(folder, 5), folder, p.name)


def scenario_title(label: str, path: Path | None) -> str:
    """How the page's list names a scenario: its ``name:`` in words and what kind it is ("keystone
    michigan (case)"), never a raw path; a file outside the bundled ones keeps its file name."""
    folder = label.rsplit("/", 1)[0] if "/" in label else ""
    name = Path(label).stem
    if path is not None and Path(path).is_file():
        import re

        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                m = re.match(r"^name:\s*['\"]?([^'\"#]+?)['\"]?\s*(#.*)?$", line)
                if m:
                    name = m.group(1)
                    break
    from ..labels import scenario_label

    kind = FOLDER_WORDS.get(folder, folder.replace("/", " "))
    if path is not None and not str(Path(path).resolve()).startswith(str(SCENARIO_DIR.resolve())):
        kind = Path(label).name
    text = scenario_label(name)
    return f"{text} ({kind})" if kind else text


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
def schema_has(path: str) -> bool:
    """Whether the scenario schema has a key at a dotted path."""
    model: Any = Scenario
    for key in path.split("."):
        fields = getattr(model, "model_fields", None)
        if not fields or key not in fields:
            return False
        model = fields[key].annotation
    return True


#: the switch of staff turnover
TURNOVER_SWITCH = "workforce.turnover"


def _read(sc: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        sc = getattr(sc, key)
    return sc


def turnover_mean(sc: Scenario) -> float | None:
    """Mean annual staff turnover of a scenario's sites (0 when turnover is switched off; None when
    its distribution is not a share of staff, such as a lognormal, so the page cannot show it as one)."""
    if not _read(sc, TURNOVER_SWITCH):
        return 0.0
    d = sc.sites.traits.turnover
    if d.dist == "constant":
        return float(d.value)
    if d.dist == "uniform":
        return float((d.low + d.high) / 2)
    if d.dist == "beta":
        return float(d.a / (d.a + d.b))
    if d.dist == "normal":
        return float(d.mean)
    return None


def _turnover_overrides(sc: Scenario, value: float) -> dict[str, Any]:
    """Turnover drawn uniformly around ``value``, keeping the scenario's spread where it has one."""
    d = sc.sites.traits.turnover
    half = (d.high - d.low) / 2 if d.dist == "uniform" else 0.05
    half = max(0.0, min(half, value, 1.0 - value))
    return {TURNOVER_SWITCH: value > 0,
            "sites.traits.turnover": {"dist": "uniform", "low": round(value - half, 6), "high": round(value + half, 6)}}


def _sites_fixed(sc: Scenario) -> bool:
    """The sites come from files (site table or network file), so their number is not a control."""
    return bool(sc.sites.file) or sc.network.type == "file"


def schema_bounds(path: str) -> tuple[float | None, float | None]:
    """The lowest and highest value the scenario schema allows at a dotted key path (None: no bound).

    Read from the schema's own constraints (``ge``/``le``/``gt``), so a control's range can never
    offer what ``spreadsim run`` would refuse.
    """
    model: Any = Scenario
    info = None
    for key in path.split("."):
        fields = getattr(model, "model_fields", {})
        if key not in fields:
            return None, None
        info = fields[key]
        model = info.annotation
    lo = hi = None
    for m in getattr(info, "metadata", []):
        lo = getattr(m, "ge", getattr(m, "gt", lo))
        hi = getattr(m, "le", getattr(m, "lt", hi))
    return lo, hi


def fitted_step(value: float, step: float) -> float:
    """``step``, or a finer power of ten when ``value`` is not a multiple of it (so that a slider
    never rounds the scenario's value: 0.0316 keeps its digits on a 0.0001 grid)."""
    for s in (step, 0.01, 0.001, 0.0001, 0.00001, 0.000001):
        if s <= step and abs(round(value / s) * s - value) < 1e-9:
            return s
    return 0.000001


@dataclass(frozen=True)
class Control:
    """One control of the page, tied to the scenario: a row of this table is all the page needs.

    The page draws each control from its row (label, kind, range, how a value reads), Reset turns
    the values into dotted-path overrides (``write``) and the scenario validates them as
    ``spreadsim run --set`` would. A new scenario key becomes a control by adding a row.

    Attributes:
        name: the :class:`AppModel` keyword.
        label: what the page shows (words, no identifiers).
        kind: ``bool``, ``int``, ``float`` or ``choice``.
        path: the scenario key path the control sets (shown beside a changed value).
        read: the control's value for a scenario.
        write: the overrides that set a value (dotted path -> value).
        fit: the range for a scenario: ``{"min", "max", "step"}`` for numbers, ``{"values"}`` for
            choices; always including the scenario's own value (nothing is clamped).
        applies: whether the control exists for a scenario.
        show: how a value reads on the page (``"unlimited"``, ``"every 6 months"``).
        special: a value with a meaning of its own and its words, offered as a switch beside the
            slider (``(UNLIMITED, "unlimited")``).
        help: one sentence under the control (every control has one; a test checks it).
        group: the card the page shows it in: ``strategy`` (what the programme does), ``logics``
            (how the innovation spreads) or ``context`` (the sites and their network).
    """

    name: str
    label: str
    kind: str
    path: str
    read: Callable[[Scenario], Any]
    write: Callable[[Scenario, Any], dict[str, Any]]
    fit: Callable[[Scenario], dict[str, Any]] = field(default=lambda sc: {})
    applies: Callable[[Scenario], bool] = field(default=lambda sc: True)
    show: Callable[[Any], str] = field(default=lambda v: f"{v:g}" if isinstance(v, float) else str(v))
    special: tuple[Any, str] | None = None
    help: str = ""
    group: str = "context"

    @property
    def mesa_type(self) -> str:
        """Mesa's SolaraViz input type for this control."""
        return {"bool": "Checkbox", "int": "SliderInt", "float": "SliderFloat", "choice": "Select"}[self.kind]

    def options(self, sc: Scenario, value: Any = None) -> dict[str, Any]:
        """The control's range for a scenario, stretched to hold ``value`` (default: the scenario's)
        with a step that lands on it: a slider never moves a value it was given."""
        opts = dict(self.fit(sc))
        v = self.read(sc) if value is None else value
        if self.kind in ("int", "float") and isinstance(v, (int, float)) and not isinstance(v, bool):
            if self.special is None or v != self.special[0]:
                opts["min"] = min(opts.get("min", v), v)
                opts["max"] = max(opts.get("max", v), v)
            if self.kind == "float":
                opts["step"] = fitted_step(float(v) - float(opts["min"]), float(opts.get("step", 0.01)))
        if self.kind == "choice":
            opts["values"] = _with_current(list(opts.get("values", [])), v)
        return opts


def _path(dotted: str) -> Callable[[Scenario, Any], dict[str, Any]]:
    return lambda sc, v: {dotted: v}


def _get(dotted: str) -> Callable[[Scenario], Any]:
    return lambda sc: _read(sc, dotted)


def _bounded(path: str, step: float, low: float = 0.0, high: float = 1.0) -> Callable[[Scenario], dict[str, Any]]:
    lo, hi = schema_bounds(path)
    return lambda sc: {"min": low if lo is None else max(low, lo), "max": high if hi is None else min(high, hi), "step": step}


def _with_current(values: list, current: Any) -> list:
    return values if current in values else [*values, current]


def _words(v: Any) -> str:
    return str(v).replace("_", " ")


def _on_off(v: Any) -> str:
    return "on" if v else "off"


def _logic_controls(name: str, label: str, what: str, says: str) -> list[Control]:
    return [
        Control(name, f"{label} logic ({what})", "bool", f"logics.{name}.enabled",
                _get(f"logics.{name}.enabled"), _path(f"logics.{name}.enabled"),
                show=_on_off, help=says, group="logics"),
        Control(f"{name}_weight", f"{label} weight", "float", f"logics.{name}.weight",
                _get(f"logics.{name}.weight"), _path(f"logics.{name}.weight"), _bounded(f"logics.{name}.weight", 0.05),
                help=f"how strongly the {label.lower()} logic's pressure counts against the others' (0-1)",
                group="logics"),
    ]


#: support capacity at this value means unlimited support (a value no real capacity can take)
CAPACITY_UNLIMITED = -1
#: funding length at this value means funded throughout the run (``funding_months: null``)
FUNDED_THROUGHOUT = -1
#: intake at this value means the programme takes in new sites until its funding ends (``intake_months: null``)
INTAKE_UNTIL_FUNDING_ENDS = -1
#: the number-of-sites control goes up to this at least (the network is drawn in full up to 2,000)
MAX_SITES = 2_000
SEED_MAX = 999
#: sites up to which the app keeps every site's history (for the site inspector)
HISTORY_SITES = 20_000
NETWORK_TYPES = ["small_world", "scale_free", "random", "regions", "none", "complete"]
SEEDING_RULES = ["random", "most_ready", "most_central", "opinion_leaders"]


def _n_sites(sc: Scenario) -> int:
    return int(sc.sites.n)


def _nullable_int(name: str, label: str, path: str, special: tuple[int, str], top: Callable[[Scenario], int],
                  show: Callable[[int], str], help: str) -> Control:
    """A programme control in whole numbers from 0 to ``top``, whose null in the scenario (unlimited,
    throughout, until funding ends) is the page's ``special`` value, offered as a switch."""
    none_value, words = special

    def get(sc: Scenario) -> int:
        v = _read(sc, path)
        return none_value if v is None else int(v)

    return Control(name, label, "int", path, get, lambda sc, v: {path: None if v == none_value else int(v)},
                   lambda sc: {"min": 0, "max": top(sc), "step": 1},
                   show=lambda v: words if v == none_value else show(v), special=special, help=help,
                   group="strategy")


CONTROLS: list[Control] = [
    # what the programme does
    _nullable_int("support_capacity", "Support capacity (sites at once)", "strategy.support.capacity",
                  (CAPACITY_UNLIMITED, "unlimited"), _n_sites, lambda v: f"{v:,} sites",
                  "sites the central programme supports at once, while it is funded"),
    _nullable_int("funding_months", "Funding length (months)", "strategy.support.funding_months",
                  (FUNDED_THROUGHOUT, "throughout the run"), lambda sc: int(sc.months), lambda v: f"{v} months",
                  "months the central programme is funded; after that sites are on their own (or their trainers')"),
    _nullable_int("intake_months", "Programme takes in new sites for (months)", "strategy.support.intake_months",
                  (INTAKE_UNTIL_FUNDING_ENDS, "until funding ends"), lambda sc: int(sc.months),
                  lambda v: f"the first {v} months",
                  "after this month the programme takes in no new site and sees through those it supports: sites "
                  "taken in late are cut off part-way when funding ends"),
    Control("seeding_rule", "Seeding rule", "choice", "strategy.seeding.rule",
            _get("strategy.seeding.rule"), _path("strategy.seeding.rule"), lambda sc: {"values": list(SEEDING_RULES)},
            show=_words, help="which sites start at month 0, and the order in which the programme invites the rest",
            group="strategy"),
    Control("seed_sites", "Seed sites", "int", "strategy.seeding.n", _get("strategy.seeding.n"),
            _path("strategy.seeding.n"), lambda sc: {"min": 0, "max": _n_sites(sc), "step": 1},
            applies=lambda sc: not sc.strategy.seeding.sites, show=lambda v: f"{v:,} sites",
            help="pilot sites that start in the seeding stage at month 0", group="strategy"),
    Control("waves_every", "Rollout waves every (months)", "int", "strategy.waves.every",
            _get("strategy.waves.every"), _path("strategy.waves.every"),
            lambda sc: {"min": 0, "max": max(24, sc.months // 4), "step": 1},
            show=lambda v: "no waves (all at once)" if v == 0 else f"every {v} months",
            help="sites become eligible for support in batches (0 = every site eligible from the start)",
            group="strategy"),
    Control("waves_size", "Sites per rollout wave", "int", "strategy.waves.size",
            _get("strategy.waves.size"), _path("strategy.waves.size"),
            lambda sc: {"min": 1, "max": _n_sites(sc), "step": 1},
            applies=lambda sc: sc.strategy.waves.size is not None, show=lambda v: f"{v:,} sites",
            help="sites made eligible in each wave (only with waves on)", group="strategy"),
    Control("train_the_trainer", "Train-the-trainer cascade", "bool", "strategy.train_the_trainer.enabled",
            _get("strategy.train_the_trainer.enabled"), _path("strategy.train_the_trainer.enabled"), show=_on_off,
            help="experienced sites become trainers who support new ones (Action Schools! BC)", group="strategy"),
    Control("trainees", "Sites each trainer supports", "int", "strategy.train_the_trainer.trainees",
            _get("strategy.train_the_trainer.trainees"), _path("strategy.train_the_trainer.trainees"),
            lambda sc: {"min": 0, "max": 10, "step": 1}, show=lambda v: f"{v} sites",
            help="support slots each trainer site adds (only with the cascade on)", group="strategy"),
    Control("collaborative", "Breakthrough collaboratives", "bool", "strategy.collaborative.enabled",
            _get("strategy.collaborative.enabled"), _path("strategy.collaborative.enabled"), show=_on_off,
            help="cohorts of sites linked by new ties, learning together (as in Keystone)", group="strategy"),
    Control("collaborative_start", "Collaboratives start at month", "int", "strategy.collaborative.start",
            _get("strategy.collaborative.start"), _path("strategy.collaborative.start"),
            lambda sc: {"min": 0, "max": max(1, sc.months // 2), "step": 1}, show=lambda v: f"month {v}",
            help="when the collaboratives form (only with collaboratives on)", group="strategy"),
    Control("replication_package", "Replication package quality", "float", "strategy.replication_package",
            _get("strategy.replication_package"), _path("strategy.replication_package"),
            _bounded("strategy.replication_package", 0.05),
            help="manuals and onboarding that protect know-how when staff leave (0-1)", group="strategy"),
    Control("assurance_interval", "Assurance every (months)", "int", "strategy.assurance.interval",
            _get("strategy.assurance.interval"), _path("strategy.assurance.interval"),
            lambda sc: {"min": 0, "max": max(24, sc.months // 2), "step": 1},
            show=lambda v: "none" if v == 0 else f"every {v} months",
            help="audit and coaching rounds that repair fidelity drift (0 = none)", group="strategy"),
    Control("adaptation", "Local adaptation", "choice", "strategy.adaptation", _get("strategy.adaptation"),
            _path("strategy.adaptation"), lambda sc: {"values": ["strict", "permitted", "free"]}, show=_words,
            help="strict: none; permitted: the adaptable parts only; free: the core too", group="strategy"),
    # how the innovation spreads
    *_logic_controls("mechanical", "Mechanical", "programme",
                     "the programme invites, trains and coaches sites (a push from the centre)"),
    *_logic_controls("ecological", "Ecological", "adaptation",
                     "sites adapt the innovation to their context and start on their own"),
    *_logic_controls("social", "Social", "peers, norms",
                     "sites copy peers, and a norm forms once enough have adopted"),
    Control("legitimacy", "Legitimacy (1 = professionally led)", "float", "logics.social.legitimacy",
            _get("logics.social.legitimacy"), _path("logics.social.legitimacy"), _bounded("logics.social.legitimacy", 0.05),
            help="seen as professionally led (1) or as top-down (0)", group="logics"),
    # the sites and their network
    Control("turnover", "Staff turnover (per year)", "float", "sites.traits.turnover",
            turnover_mean, _turnover_overrides, lambda sc: {"min": 0.0, "max": 0.6, "step": 0.01},
            applies=lambda sc: turnover_mean(sc) is not None,
            show=lambda v: "none (off)" if v == 0 else f"{v * 100:.3g}% a year",
            help="mean share of staff leaving a site each year (drawn around it per site)"),
    Control("network", "Network type", "choice", "network.type", _get("network.type"), _path("network.type"),
            lambda sc: {"values": list(NETWORK_TYPES)}, applies=lambda sc: sc.network.type != "file", show=_words,
            help="who is tied to whom: the ties peers learn from"),
    Control("n_sites", "Number of sites", "int", "sites.n", _get("sites.n"), _path("sites.n"),
            lambda sc: {"min": min(20, _n_sites(sc)), "max": max(MAX_SITES, _n_sites(sc)), "step": 1},
            applies=lambda sc: not _sites_fixed(sc), show=lambda v: f"{v:,}",
            help="schools, clinics or units the programme could reach (a new network is drawn)"),
]
CONTROL_NAMES = [c.name for c in CONTROLS]
CONTROLS_BY_NAME = {c.name: c for c in CONTROLS}


def control_values(sc: Scenario) -> dict[str, Any]:
    """The value each control shows for a scenario (controls that do not apply are left out)."""
    return {c.name: c.read(sc) for c in CONTROLS if c.applies(sc)}


def same_value(a: Any, b: Any) -> bool:
    """Whether two control values are the same (floats to 1e-9)."""
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
        return a == b
    return bool(np.isclose(float(a), float(b), rtol=0, atol=1e-9))


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
            raise fail(sc.source, name, "this control does not apply to this scenario "
                       "(its sites come from files, or the file sets this another way)")
        if not same_value(value, current[name]):
            out.update(CONTROLS_BY_NAME[name].write(sc, value))
    return out


def model_params(sc: Scenario, scenario_file: str | Path) -> dict[str, Any]:
    """Mesa SolaraViz ``model_params`` for a scenario: one input per control, then the seed.

    ``spreadsim app`` draws its own page from :data:`CONTROLS`; these are for using
    :class:`AppModel` with Mesa's ``SolaraViz`` in a notebook.
    """
    params: dict[str, Any] = {"scenario_file": str(scenario_file)}
    for c in CONTROLS:
        if not c.applies(sc):
            continue
        opts = c.options(sc)
        label = c.label
        if c.special is not None:
            opts["min"] = min(opts["min"], c.special[0])
            label = f"{c.label}; {c.special[0]} = {c.special[1]}"
        params[c.name] = {"type": c.mesa_type, "label": label, "value": c.read(sc), **opts}
    params["seed"] = {"type": "SliderInt", "label": "Seed", "value": sc.seed,
                      "min": 0, "max": max(SEED_MAX, sc.seed), "step": 1}
    return params


# ------------------------------------------------------------------------------------ the model
def _is_mesa_scenario(obj: Any) -> bool:
    try:
        from mesa.experimental.scenarios import Scenario as MesaScenario
    except ImportError:  # pragma: no cover - an older Mesa
        return False
    return isinstance(obj, MesaScenario)


class AppModel(SpreadModel):
    """A :class:`~simulation.model.SpreadModel` built from a scenario file and the page's controls.

    Every control is optional: ``None`` (the default) keeps the scenario's value, and so does a
    value equal to it. The others become overrides (``self.app_overrides``) applied with
    :meth:`~simulation.scenario.Scenario.with_overrides`, so the run is exactly
    ``SpreadModel(scenario.with_overrides(app_overrides), seed)``.

    Args:
        scenario_file: a scenario YAML file (default: ``scenarios/demo.yaml``; the built-in defaults
            if there is none).
        seed: the run's seed (default: the scenario's).
        rng: Mesa's name for the seed: an int is the seed; a numpy Generator gives one draw as the
            seed. Give ``seed`` or ``rng``, not both.
        agents: create the Mesa agents (one per site).
        **controls: the page's controls by name, one per row of :data:`CONTROLS`:
            ``mechanical``, ``ecological``, ``social`` (a logic on or off) and their ``*_weight``
            (0-1); ``support_capacity`` (sites at once; ``CAPACITY_UNLIMITED`` = unlimited);
            ``funding_months`` (``FUNDED_THROUGHOUT`` = the whole run); ``intake_months``
            (``INTAKE_UNTIL_FUNDING_ENDS`` = takes in sites until funding ends); ``waves_every``,
            ``waves_size``; ``train_the_trainer``, ``trainees``; ``collaborative``,
            ``collaborative_start``; ``adaptation``;
            ``turnover`` (mean annual share of staff leaving; drawn uniformly around it);
            ``legitimacy``; ``replication_package``; ``assurance_interval`` (months, 0 = none);
            ``seeding_rule``; ``seed_sites``; ``network``; ``n_sites`` (not for scenarios whose
            sites come from files).

    Raises:
        InputError: a bad scenario file, an unknown control or a value the scenario or the model
            refuses, naming the file (or the page's controls) and the key path, as ``spreadsim
            run`` would.
    """

    def __init__(self, scenario_file: str | Path | None = None, *, seed: int | None = None,
                 rng: int | np.random.Generator | None = None, agents: bool = True, **controls: Any):
        if scenario_file is None:
            scenario_file = default_scenario_file()
        if scenario_file is None:
            from ..scenario import default_scenario

            base = default_scenario()
        else:
            base = load_scenario(scenario_file)
        # Mesa's SolaraViz passes its own (empty) experimental Scenario object to a model class that
        # takes keyword arguments; the scenario file decides everything here, so it is not used
        mesa_scenario = controls.pop("scenario", None)
        if mesa_scenario is not None and not _is_mesa_scenario(mesa_scenario):
            raise fail("app", "scenario", "give the scenario as scenario_file (a path), not scenario=")
        overrides = overrides_for(base, controls)
        # the scenario checks the values as `spreadsim run --set` would; nothing is clamped or
        # lowered here: a value the model refuses (more seed sites than sites, say) is an error
        scenario = base.with_overrides(overrides, label=CONTROLS_SOURCE) if overrides else base
        if seed is not None and rng is not None:
            raise fail("app", "seed", "give seed or rng, not both")
        if rng is not None:
            seed = int(rng) if isinstance(rng, (int, np.integer)) else int(rng.integers(0, 2**31 - 1))
        if seed is not None and (int(seed) < 0):
            raise fail("app", "seed", f"must be a non-negative integer, got {seed}")
        self.scenario_file = None if scenario_file is None else str(scenario_file)
        self.base_scenario = base
        self.app_overrides = overrides
        # every site's state every month, for the page's site inspector (bounded: the app draws
        # at most a few thousand sites; 14 bytes per site-month)
        super().__init__(scenario, seed=seed, agents=agents, history=HISTORY_SITES >= _n_sites(scenario))
        self.control_values = control_values(scenario)
