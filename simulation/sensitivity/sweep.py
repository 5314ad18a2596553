"""One-at-a-time sweeps: vary one parameter over a range, the others held at the scenario's values.

Each value is run ``R`` times with the same replicate seeds (common random numbers), so the bands
show the model's own spread at each value and the line shows how the outcome moves with the value.
Teachers start here; a global analysis (:class:`~simulation.sensitivity.Sensitivity`) also captures
interactions a sweep cannot see.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import limits
from ..errors import InputError, Problem
from .spec import BASELINE, FORBIDDEN_TOP, Output, _leaf_kind, check_output, replicate_seeds

DEFAULT_OUTPUTS = ("adopted_share", "reach_share", "attributable_benefit_years", "mean_fidelity")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
MAX_STEPS = 1000


def current_value(scenario, path: str) -> Any:
    """The scenario's value at a dotted key path (None when unset)."""
    d: Any = scenario.to_dict()
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def parse_param(text: str, scenario) -> tuple[str, list[float | int]]:
    """Parse ``key.path=lo:hi:steps`` (evenly spaced) or ``key.path=v1,v2,...`` into a path and values.

    Raises:
        InputError: naming ``--param`` and the text when the path or the values are wrong.
    """
    def fail(msg: str):
        return InputError(Problem("--param", text, msg))

    if "=" not in text:
        raise fail("expected key.path=low:high:steps (such as logics.social.q=0.05:0.3:6) or key.path=v1,v2,...")
    path, spec = (s.strip() for s in text.split("=", 1))
    top = path.split(".", 1)[0]
    if top in FORBIDDEN_TOP:
        raise fail(f"'{top}' is not a model parameter and cannot be swept")
    kind, why = _leaf_kind(path)
    if kind is None:
        raise fail(why)
    if kind == "section":
        raise fail(f"'{path}' is a section, not a number; name one of its keys")
    if kind in ("bool", "text"):
        raise fail(f"'{path}' is not numeric; compare such settings as strategies instead")
    integer = kind == "int"
    def number(t: str, whole: bool = False) -> float:
        try:
            return int(t) if whole else float(t)
        except ValueError:
            raise fail(f"'{t}' is not a {'whole number' if whole else 'number'}") from None

    if ":" in spec:
        parts = spec.split(":")
        if len(parts) != 3:
            raise fail("expected low:high:steps, three numbers separated by ':'")
        lo, hi, steps = number(parts[0]), number(parts[1]), int(number(parts[2], whole=True))
        if steps < 2 or steps > MAX_STEPS:
            raise fail(f"steps must be a whole number from 2 to {MAX_STEPS} (got {parts[2]})")
        if not lo < hi:
            raise fail(f"low ({parts[0]}) must be below high ({parts[1]})")
        values: list[float | int] = list(np.linspace(lo, hi, steps))
    else:
        values = [number(v.strip()) for v in spec.split(",") if v.strip()]
        if len(values) < 2:
            raise fail("give at least two values (or low:high:steps)")
    if not all(math.isfinite(v) for v in values):
        raise fail("values must be finite numbers")
    if integer:
        values = list(dict.fromkeys(int(round(v)) for v in values))
        if len(values) < 2:
            raise fail(f"'{path}' holds whole numbers: the range must span at least two of them")
    else:
        values = [float(v) for v in values]
    for v in (values[0], values[-1], min(values), max(values)):
        try:
            scenario.with_overrides({path: v}, "--param")
        except InputError as err:
            raise fail(f"the scenario refuses {path} = {v}: " + "; ".join(p.message for p in err.problems)) from None
    return path, values


@dataclass
class SweepResult:
    """The result of a sweep.

    Attributes:
        table: one row per parameter, value, strategy and output: ``n``, ``mean``, ``sd``, ``se``, and
            the 5/25/50/75/95% quantiles over replicates.
        runs: one row per run: parameter, value, strategy, replicate, seed and the outputs.
        bands: adopted share over time per parameter, value and strategy (quantiles over replicates).
        baseline: the scenario's value of each swept parameter.
    """

    table: pd.DataFrame
    runs: pd.DataFrame
    bands: pd.DataFrame | None
    baseline: dict[str, Any]
    outputs: list[Output]
    strategies: list[str]
    replicates: int
    seed: int
    scenario: Any = None
    meta: dict[str, Any] = field(default_factory=dict)

    def plot(self) -> dict[str, Any]:
        """Figures ``{name: Figure}``: outcome against value with bands, and adoption over time."""
        figs = {}
        for path in dict.fromkeys(self.table["parameter"]):
            figs[f"sweep_{path}"] = self._outcome_figure(path)
            if self.bands is not None and not self.bands.empty:
                figs[f"sweep_{path}_adoption"] = self._adoption_figure(path)
        return figs

    def _outcome_figure(self, path: str):
        from .plots import sweep_outcome_figure

        return sweep_outcome_figure(self, path)

    def _adoption_figure(self, path: str):
        from .plots import sweep_adoption_figure

        return sweep_adoption_figure(self, path)

    def save(self, out: str | Path, plots: bool = True) -> Path:
        """Write sweep.csv, runs.csv, bands.csv, figures and manifest.json into ``out`` (each file whole).

        ``out`` must be new, empty or an earlier sweep output (see :mod:`simulation.safe_io`).
        """
        from ..safe_io import OwnedWriter, check_out, mark

        out = Path(out)
        check_out(out, "sweep", resume=True)
        with OwnedWriter(out, "sweep") as w:
            for name, df in (("sweep.csv", self.table), ("runs.csv", self.runs), ("bands.csv", self.bands)):
                if df is not None:
                    with w.path(name) as tmp:
                        df.to_csv(tmp, index=False)
            if plots:
                import matplotlib.pyplot as plt

                from ..plots import SAVE_DPI

                for name, fig in self.plot().items():
                    with w.path(f"{name}.png") as tmp:
                        fig.savefig(tmp, dpi=SAVE_DPI, bbox_inches="tight", format="png")
                    plt.close(fig)
            w.write_bytes("manifest.json", json.dumps(mark(self.meta, "sweep"), indent=2, default=str).encode())
        return out


def sweep(scenario, params: dict[str, Sequence[float]] | Sequence[str], *, replicates: int = 10,
          seed: int | None = None, strategies: Sequence[str] | None = None, outputs: Sequence[str] | None = None,
          executor: str = "processes", workers: int | None = None, scheduler: str | None = None, client: Any = None,
          chunk_size: int | None = None, store: str | Path | None = None, resume: bool = True,
          progress: bool = True, clear: str | Path | None = None) -> SweepResult:
    """Sweep parameters one at a time through the experiment runner.

    Args:
        scenario: a scenario file or :class:`~simulation.scenario.Scenario`.
        params: ``{"logics.social.q": [0.05, 0.1, 0.2]}`` or ``["logics.social.q=0.05:0.3:6"]``.
        replicates: runs per value (the same seeds for every value and strategy).
        seed: decides the replicate seeds (default: the scenario's seed).
        strategies: names from the scenario's ``strategies:`` (default: the scenario as written).
        outputs: per-run outputs or ``column@month`` (default: adopted share, reach share,
            attributable benefit over the run, mean fidelity).
        executor, workers, scheduler, client, chunk_size, store, resume, progress, clear: passed to
            :func:`simulation.experiments.execute`.

    Returns:
        A :class:`SweepResult` with the summary table, the runs, adoption bands, ``plot()`` and ``save()``.
    """
    from ..experiments import RunSpec, execute
    from .core import _load, model_scenario

    sc = _load(scenario)
    problems: list[Problem] = []
    if not isinstance(replicates, int) or isinstance(replicates, bool) or replicates < 1:
        problems.append(Problem("--replicates", "", f"must be a whole number of at least 1 (got {replicates!r})"))
    seed = sc.seed if seed is None else seed
    if not isinstance(seed, int) or seed < 0:
        problems.append(Problem("--seed", "", f"must be a whole number of at least 0 (got {seed!r})"))
    strategies = list(strategies or [BASELINE])
    for s in strategies:
        if s != BASELINE and s not in sc.strategies:
            problems.append(Problem("--strategies", s, f"no such strategy in the scenario; choose from "
                                    f"{', '.join([BASELINE] + list(sc.strategies))}"))
    outs: list[Output] = []
    raw_outs = list(outputs) if outputs else _default_outputs(sc)
    for o in raw_outs:
        out, msg = check_output(o, None, sc)
        if msg:
            problems.append(Problem("--outputs", o, msg))
        else:
            outs.append(out)
    points: list[tuple[str, float | int]] = []
    if isinstance(params, dict):
        texts = [f"{p}=" + ",".join(str(v) for v in vals) for p, vals in params.items()]
    else:
        texts = list(params)
        if not texts:
            problems.append(Problem("--param", "", "give at least one --param key.path=low:high:steps"))
    for text in texts:
        try:
            path, values = parse_param(text, sc)
        except InputError as err:
            problems.extend(err.problems)
            continue
        points += [(path, v) for v in values]
    for s in strategies:
        for path in dict.fromkeys(p for p, _ in points):
            if s in sc.strategies and path in sc.strategies[s]:
                problems.append(Problem("--param", path, f"strategy '{s}' sets this key too; the sweep would override it"))
    if problems:
        raise InputError(problems)

    seeds = replicate_seeds(seed, replicates)
    specs = []
    for s in strategies:
        base = dict(sc.strategies.get(s, {}))
        for j, (path, v) in enumerate(points):
            ov = {**base, path: v}
            for r, sd in enumerate(seeds):
                specs.append(RunSpec(f"{s}/{j}", r, sd, ov))
    limits.check_runs(len(specs), "--param")
    result = execute(model_scenario(sc), specs, executor=executor, out=store, resume=resume, progress=progress, client=client,
                     scheduler=scheduler, workers=workers, chunk_size=chunk_size, clear=clear,
                     meta={"experiment": "sweep"})
    runs = result.runs.copy()
    lab = runs["strategy"].astype(str).str.rsplit("/", n=1, expand=True)
    runs["strategy"] = lab[0].to_numpy()
    j = lab[1].astype(int).to_numpy()
    runs.insert(0, "value", [points[i][1] for i in j])
    runs.insert(0, "parameter", [points[i][0] for i in j])
    ts = getattr(result, "timeseries", None)
    for o in outs:
        if o.month is not None:
            t = ts[ts["month"] == o.month]
            key = dict(zip(zip(t["strategy"].astype(str), t["replicate"].astype(int)), t[o.column]))
            runs[o.name] = [key.get((f"{s}/{i}", int(r)), np.nan) for s, i, r in zip(runs["strategy"], j, runs["replicate"])]
    rows = []
    for (path, value, s), g in runs.groupby(["parameter", "value", "strategy"], sort=False):
        for o in outs:
            v = g[o.name].to_numpy(dtype=float)
            v = v[~np.isnan(v)]
            q = np.quantile(v, QUANTILES) if len(v) else [np.nan] * len(QUANTILES)
            rows.append({"parameter": path, "value": value, "strategy": s, "output": o.name, "n": len(v),
                         "mean": float(v.mean()) if len(v) else np.nan,
                         "sd": float(v.std(ddof=1)) if len(v) > 1 else np.nan,
                         "se": float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else np.nan,
                         **{f"q{int(round(qq * 100)):02d}": float(x) for qq, x in zip(QUANTILES, q)}})
    table = pd.DataFrame(rows)
    bands = None
    if ts is not None and len(ts) and "adopted_share" in ts.columns:
        tl = ts["strategy"].astype(str).str.rsplit("/", n=1, expand=True)
        tj = tl[1].astype(int).to_numpy()
        t = pd.DataFrame({"parameter": [points[i][0] for i in tj], "value": [points[i][1] for i in tj],
                          "strategy": tl[0].to_numpy(), "month": ts["month"].to_numpy(),
                          "adopted_share": ts["adopted_share"].to_numpy()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            g = t.groupby(["parameter", "value", "strategy", "month"], sort=False)["adopted_share"]
            bands = g.quantile(list(QUANTILES)).unstack()
        bands.columns = [f"q{int(round(q * 100)):02d}" for q in bands.columns]
        bands = bands.reset_index()
        bands["mean"] = g.mean().to_numpy()
    from .. import __version__
    from ..runner import git_commit

    meta = {"scenario_file": sc.source, "scenario_hash": sc.digest(), "replicates": replicates, "seed": seed,
            "replicate_seeds": seeds, "strategies": strategies, "outputs": [o.name for o in outs],
            "points": [{"parameter": p, "value": v} for p, v in points], "runs": len(specs),
            "version": __version__, "git_commit": git_commit(), "scenario": sc.to_dict()}
    baseline = {p: current_value(sc, p) for p, _ in points}
    return SweepResult(table=table, runs=runs, bands=bands, baseline=baseline, outputs=outs, strategies=strategies,
                       replicates=replicates, seed=seed, scenario=sc, meta=meta)


def _default_outputs(sc) -> list[str]:
    sec = sc.sensitivity if isinstance(sc.sensitivity, dict) else {}
    outs = sec.get("outputs")
    if isinstance(outs, list) and all(isinstance(o, str) for o in outs):
        return outs
    return list(DEFAULT_OUTPUTS)
