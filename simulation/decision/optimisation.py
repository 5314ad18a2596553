"""``optimise``: search the scenario's ``levers:`` for strategies on a Pareto front, within a budget.

Optuna's NSGA-II (Deb et al., "A fast and elitist multiobjective genetic algorithm: NSGA-II", IEEE
TEC 2002) proposes settings of the levers; every candidate strategy is scored on the same fixed set
of futures (a Latin hypercube over ``uncertainties:``, when the scenario has one) x replicates,
with the same replicate seeds (common random numbers), so two candidates differ by their settings
only. Its objectives (``optimise.objectives``; default: attributable benefit up, support used down,
regret down) are means over futures and replicates; its regret is the mean, over the futures, of
how far its outcome (``optimise.outcome``) falls short of the best of the scenario's own strategies
(the baseline included) in that future. The programme's cost (``optimise.cost``, mean support
used by default) must be at most ``--budget``: a constraint (Deb's constrained domination).

The study lives in ``DIR/study.db`` (SQLite, Optuna's storage): an interrupted search continues
with the trials it has (the search itself is then no longer the same sequence as an uninterrupted
one; every trial's scores are). The front is written as ``pareto.csv``, ``pareto.png`` and
``strategies.yaml``: the scenario with its ``strategies:`` replaced by the front, ready for
``spreadsim explore`` and ``spreadsim compare``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .spec import levers as parse_levers, optimise_spec, uncertainties as parse_uncertainties

STUDY = "optimise"


@dataclass
class OptimiseResult:
    trials: pd.DataFrame
    pareto: pd.DataFrame
    objectives: list[tuple[str, str]]
    budget: float
    cost: str
    strategies: dict[str, dict]
    written: list[str] = field(default_factory=list)

    def report(self) -> str:
        feas = int(self.trials["feasible"].sum()) if len(self.trials) else 0
        objs = ", ".join(f"{n} ({'up' if g == 'max' else 'down'})" for n, g in self.objectives)
        lines = [f"{len(self.trials)} candidate strategies tried, {feas} within the budget ({self.cost} <= {self.budget:,.4g}); "
                 f"objectives: {objs}.", f"Pareto front: {len(self.pareto)} strategies (none is better on every objective "
                 "than another):"]
        cols = [n for n, _ in self.objectives]
        for r in self.pareto.itertuples():
            vals = ", ".join(f"{c} {getattr(r, c):,.4g}" for c in cols)
            lines.append(f"  {r.strategy}: {vals}; cost {getattr(r, 'cost'):,.4g}")
        if not len(self.pareto):
            lines.append("  none: no candidate kept within the budget; raise --budget or widen the levers")
        return "\n".join(lines)


def _suggest(trial, lever) -> Any:
    if lever.kind == "discrete":
        return trial.suggest_categorical(lever.path, list(lever.values))
    if lever.kind == "int":
        return trial.suggest_int(lever.path, int(lever.low), int(lever.high))
    return trial.suggest_float(lever.path, float(lever.low), float(lever.high))


class _Scorer:
    """Scores strategies on the fixed futures x replicates (common random numbers)."""

    def __init__(self, sc, futures: list[dict], seeds: list[int], spec, kw: dict):
        from ..labels import better

        self.sc, self.futures, self.seeds, self.spec, self.kw = sc, futures, seeds, spec, kw
        self.goal = better(spec.outcome) or 1
        self.best_ref: np.ndarray | None = None

    def means(self, overrides: dict) -> pd.DataFrame:
        """Per future, the replicate means of every output under ``overrides``."""
        from ..experiments import RunSpec, execute

        specs = [RunSpec(f"s{i}", r, seed, {**fut, **overrides})
                 for i, fut in enumerate(self.futures) for r, seed in enumerate(self.seeds)]
        res = execute(self.sc, specs, progress=False, **self.kw)
        runs = res.runs.copy()
        runs["future"] = runs["strategy"].str[1:].astype(int)
        return runs.drop(columns=["strategy", "replicate", "seed"]).groupby("future").mean().sort_index()

    def reference(self, strategies: dict[str, dict], cache: Path | None) -> None:
        if cache is not None and cache.is_file():
            ref = pd.read_parquet(cache)
        else:
            ref = pd.DataFrame({name: self.means(ov)[self.spec.outcome].to_numpy() for name, ov in strategies.items()})
            if cache is not None:
                from ..experiments.store import write_table_atomic
                import pyarrow as pa

                write_table_atomic(pa.Table.from_pandas(ref, preserve_index=False), cache)
        self.best_ref = (self.goal * ref.to_numpy(float)).max(axis=1)

    def score(self, overrides: dict) -> dict[str, float]:
        m = self.means(overrides)
        out = {c: float(m[c].mean()) for c in m.columns}
        own = self.goal * m[self.spec.outcome].to_numpy(float)
        out["regret"] = float(np.mean(np.maximum(0.0, self.best_ref - own)))
        return out


def optimise(scenario, budget: float, *, out: str | Path | None = None, trials: int | None = None,
             seed: int | None = None, resume: bool = True, executor: str = "serial", workers: int | None = None,
             scheduler: str | None = None, client=None, progress: bool = True, plot: bool = True) -> OptimiseResult:
    """Search the scenario's ``levers:`` for the Pareto front within ``budget`` (see the module docstring).

    Args:
        scenario: a Scenario or its file, with a ``levers:`` section (and usually ``uncertainties:``
            and ``optimise:``).
        budget: the largest acceptable mean programme cost (the ``optimise.cost`` output).
        out: folder for the study, tables, figure and ``strategies.yaml``; None: in memory only.
        trials: candidate strategies in all (default: the section's, else 40); with ``out``, the
            trials already stored count.
        seed: decides the futures, the replicate seeds and the search.
        resume: continue the study stored in ``out`` (False: start afresh).
    """
    import optuna

    from ..experiments import replicate_seed
    from ..experiments.core import as_scenario
    from ..safe_io import mark, remove_output
    from .exploration import design

    sc = as_scenario(scenario)
    lev = parse_levers(sc)
    unc = parse_uncertainties(sc) if sc.uncertainties else []
    spec = optimise_spec(sc)
    if not (isinstance(budget, (int, float)) and math.isfinite(budget)):
        raise InputError(Problem("--budget", str(budget), "must be a finite number"))
    n_trials = int(trials if trials is not None else spec.trials)
    base = int(seed if seed is not None else spec.seed if spec.seed is not None else sc.seed)
    futures = design(sc, spec.samples, base, unc).drop(columns="sample").to_dict("records") if unc else [{}]
    futures = [{k: (v.item() if isinstance(v, np.generic) else v) for k, v in f.items()} for f in futures]
    seeds = [replicate_seed(base, r) for r in range(spec.replicates)]
    settings = {"scenario_hash": sc.digest(), "levers": {lv.path: lv.describe() for lv in lev}, "budget": float(budget),
                "objectives": [list(o) for o in spec.objectives], "samples": len(futures),
                "replicates": spec.replicates, "seed": base, "cost": spec.cost, "outcome": spec.outcome}
    kw: dict[str, Any] = {"executor": executor, "workers": workers}
    if scheduler or client is not None:
        kw.update(executor="dask", scheduler=scheduler, client=client)
    folder = Path(out) if out is not None else None
    storage = None
    if folder is not None:
        man = folder / "manifest.json"
        if folder.exists() and any(folder.iterdir()):
            old = json.loads(man.read_text()) if man.is_file() else {}
            if not resume or old.get("settings") != settings:
                if resume and old.get("settings") is not None:
                    changed = [k for k in settings if old["settings"].get(k) != settings[k]]
                    raise InputError(Problem("--out", str(folder), f"holds a search with other settings ({', '.join(changed)}); "
                                             "add --fresh to discard it, or choose another folder"))
                remove_output(folder)
        folder.mkdir(parents=True, exist_ok=True)
        from ..experiments.store import write_bytes_atomic

        write_bytes_atomic(man, json.dumps(mark({"scenario_file": sc.source, "settings": settings}, "optimise"),
                                           indent=2).encode())
        storage = f"sqlite:///{(folder / 'study.db').resolve()}"

    scorer = _Scorer(sc, futures, seeds, spec, kw)
    named = {"baseline": {}, **sc.strategies}
    scorer.reference(named, folder / "reference.parquet" if folder is not None else None)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["maximize" if g == "max" else "minimize" for _, g in spec.objectives]
    sampler = optuna.samplers.NSGAIISampler(population_size=max(4, min(50, n_trials // 4)), seed=base)
    study = optuna.create_study(study_name=STUDY, storage=storage, directions=directions, sampler=sampler,
                                load_if_exists=True)
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # killed part-way earlier
        study._storage.set_trial_state_values(t._trial_id, TrialState.FAIL)
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))

    def objective(trial):
        ov = {lv.path: _suggest(trial, lv) for lv in lev}
        s = scorer.score(ov)
        trial.set_user_attr("cost", s[spec.cost])
        trial.set_constraint("cost_over_budget", s[spec.cost] - float(budget))  # feasible when <= 0
        trial.set_user_attr("scores", {k: v for k, v in s.items() if isinstance(v, float) and math.isfinite(v)})
        return [s[n] for n, _ in spec.objectives]

    todo = max(0, n_trials - done)
    if todo:
        from tqdm.auto import tqdm

        with tqdm(total=n_trials, initial=done, unit="trial", disable=not progress, desc=sc.name) as bar:
            study.optimize(objective, n_trials=todo, callbacks=[lambda s, t: bar.update(1)])
    return _results(study, lev, spec, float(budget), sc, folder, plot)


def _results(study, lev, spec, budget: float, sc, folder: Path | None, plot: bool) -> OptimiseResult:
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        cost = t.user_attrs.get("cost", math.nan)
        rows.append({"trial": t.number, **{lv.path: t.params.get(lv.path) for lv in lev},
                     **{n: v for (n, _), v in zip(spec.objectives, t.values)}, "cost": cost,
                     "feasible": bool(cost <= budget)})
    cols = ["trial", *[lv.path for lv in lev], *[n for n, _ in spec.objectives], "cost", "feasible"]
    trials = pd.DataFrame(rows, columns=cols)
    front = _pareto(trials[trials["feasible"]], spec.objectives)
    front = front.sort_values(spec.objectives[0][0], ascending=spec.objectives[0][1] == "min").reset_index(drop=True)
    front.insert(0, "strategy", [f"pareto_{i + 1}" for i in range(len(front))])
    strategies = {r["strategy"]: {lv.path: _plain(r[lv.path]) for lv in lev} for _, r in front.iterrows()}
    res = OptimiseResult(trials, front, list(spec.objectives), budget, spec.cost, strategies)
    if folder is not None:
        from ..experiments.store import write_bytes_atomic, write_csv_atomic

        write_csv_atomic(folder / "trials.csv", trials)
        write_csv_atomic(folder / "pareto.csv", front)
        write_bytes_atomic(folder / "strategies.yaml", _strategies_yaml(sc, strategies, budget).encode())
        res.written = ["study.db", "reference.parquet", "trials.csv", "pareto.csv", "strategies.yaml", "manifest.json"]
        if plot:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            fig = plot_front(res)
            tmp = folder / ".tmp-pareto.png"
            fig.savefig(tmp, dpi=120)
            plt.close(fig)
            tmp.replace(folder / "pareto.png")
            res.written.append("pareto.png")
    return res


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


def _pareto(df: pd.DataFrame, objectives) -> pd.DataFrame:
    """The rows no other row dominates (at least as good on every objective, better on one)."""
    if df.empty:
        return df.copy()
    A = np.column_stack([df[n].to_numpy(float) * (1 if g == "max" else -1) for n, g in objectives])
    keep = []
    for i in range(len(A)):
        dom = np.all(A >= A[i], axis=1) & np.any(A > A[i], axis=1)
        keep.append(not dom.any())
    out = df[np.array(keep)]
    return out.drop_duplicates(subset=[n for n, _ in objectives])


def plot_front(res: OptimiseResult, ax=None):
    import matplotlib.pyplot as plt

    from ..labels import output_label

    (x, gx), (y, gy) = res.objectives[0], res.objectives[1] if len(res.objectives) > 1 else ("cost", "min")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    t = res.trials
    ax.scatter(t.loc[~t["feasible"], x], t.loc[~t["feasible"], y], c="0.8", s=14, label="over budget")
    c = t.loc[t["feasible"], res.objectives[2][0]] if len(res.objectives) > 2 else "C0"
    sc = ax.scatter(t.loc[t["feasible"], x], t.loc[t["feasible"], y], c=c, s=18, cmap="viridis", label="within budget")
    if len(res.objectives) > 2:
        ax.figure.colorbar(sc, ax=ax, label=res.objectives[2][0].replace("_", " "))
    ax.scatter(res.pareto[x], res.pareto[y], s=90, facecolors="none", edgecolors="red", linewidths=1.8, label="Pareto front")
    for r in res.pareto.itertuples():
        ax.annotate(r.strategy.replace("pareto_", ""), (getattr(r, x), getattr(r, y)), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel(output_label(x, with_unit=True) + (" (higher is better)" if gx == "max" else " (lower is better)"))
    ax.set_ylabel((output_label(y, with_unit=True) if y != "regret" else "regret") +
                  (" (higher is better)" if gy == "max" else " (lower is better)"))
    ax.set_title(f"Candidate strategies and the Pareto front ({res.cost} <= {res.budget:,.4g})")
    ax.legend(fontsize=8)
    return ax.figure


def _strategies_yaml(sc, strategies: dict[str, dict], budget: float) -> str:
    """The scenario as its file has it, with ``strategies:`` replaced by the front."""
    import yaml

    from ..scenario import read_yaml

    try:
        raw = read_yaml(sc.source)
    except Exception:  # a scenario made in Python: its resolved form
        raw = sc.to_dict()
    if not isinstance(raw, dict):
        raw = sc.to_dict()
    for section in ("sites", "network"):  # files named relative to the original scenario
        sec = raw.get(section)
        if isinstance(sec, dict) and isinstance(sec.get("file"), str):
            sec["file"] = str(sc.resolve_path(sec["file"]).resolve())
    raw["name"] = f"{raw.get('name', sc.name)}_pareto"
    raw["months"] = sc.months  # as scored (--months)
    raw["strategies"] = strategies
    head = (f"# The Pareto front of 'spreadsim optimise' over the levers of {sc.source} (cost <= {budget:,.6g}),\n"
            "# written as the scenario's strategies: run it with 'spreadsim compare' or 'spreadsim explore'.\n")
    return head + yaml.safe_dump(raw, sort_keys=False, allow_unicode=True)
