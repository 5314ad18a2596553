"""``robust``: which strategy holds up across the explored futures.

For one outcome, each strategy's value in a future is the mean of its replicates there. Over the
futures, per strategy: the mean and the 10th and 90th percentiles; the satisficing share (the
futures where the replicate means meet a condition such as ``adopted_share >= 0.5 and
support_used < 4000``); the regret, how much worse the strategy does in a future than the best
strategy in that same future (Savage's minimax-regret criterion; Lempert, Popper & Bankes,
*Shaping the Next One Hundred Years*, RAND 2003, for its use in robust decision making), as its
mean, 90th percentile and maximum; and the probability of being best (the share of futures where
it is best, ties shared).

Every figure gets a bootstrap interval that resamples both the futures and, within each future,
the replicates (the same replicate draw for every strategy, keeping the common random numbers
paired), so it reflects both the finite sample of futures and the model's own noise. The ranking
(by mean regret) is recomputed in every resample: the share of resamples in which the top
strategy stays on top is the stability statement.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .exploration import Exploration

STATS = ("mean", "p10", "p90", "satisficing", "regret_mean", "regret_p90", "regret_max", "p_best")
#: the share of resamples the top strategy must keep to call the ranking stable
STABLE = 0.9


def _goal(outcome: str) -> int:
    from ..labels import better

    b = better(outcome)
    return b if b else 1


def check_outcome(exp: Exploration, outcome: str, option: str = "--outcome") -> None:
    import difflib

    if outcome not in exp.table.columns or outcome in ("sample", "strategy", "replicate", "seed"):
        close = difflib.get_close_matches(outcome, exp.outputs, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(Problem(option, outcome, f"no output '{outcome}'{hint}; choose from {', '.join(exp.outputs)}"))
    if not np.isfinite(exp.table[outcome].to_numpy(float)).any():
        raise InputError(Problem(option, outcome, f"'{outcome}' has no value in any run of this exploration; "
                                 "choose another output"))


def statistics(M: np.ndarray, goal: int, sat: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The robustness statistics of a futures x strategies table of means.

    Args:
        M: S x K, strategy k's mean outcome in future s.
        goal: +1 when higher is better, -1 when lower is.
        sat: S x K booleans, whether strategy k meets the satisficing condition in future s.

    Returns:
        Per statistic of :data:`STATS`, an array over the K strategies. Regret is in the outcome's
        units, 0 for the best strategy of a future, positive for worse ones.
    """
    M = np.asarray(M, float)
    g = goal * M
    best = g.max(axis=1, keepdims=True)
    regret = best - g
    top = np.isclose(g, best, rtol=1e-12, atol=0)
    share = top / top.sum(axis=1, keepdims=True)
    out = {"mean": M.mean(0), "p10": np.quantile(M, 0.1, axis=0), "p90": np.quantile(M, 0.9, axis=0),
           "satisficing": sat.mean(0) if sat is not None else np.full(M.shape[1], np.nan),
           "regret_mean": regret.mean(0), "regret_p90": np.quantile(regret, 0.9, axis=0),
           "regret_max": regret.max(0), "p_best": share.mean(0)}
    return out


@dataclass
class RobustResult:
    outcome: str
    goal: int
    strategies: list[str]
    table: pd.DataFrame
    boot: pd.DataFrame
    stability: dict
    satisfice: str | None
    n_futures: int
    n_replicates: int
    dropped: int = 0
    notes: list[str] = field(default_factory=list)

    def ranking(self) -> list[str]:
        return list(self.table.sort_values(["regret_mean", "regret_max"]).index)

    def report(self) -> str:
        from ..labels import direction, output_label

        t = self.table
        lines = [f"Robustness of {len(self.strategies)} strategies over {self.n_futures} futures x "
                 f"{self.n_replicates} replicates: {output_label(self.outcome, with_unit=True)} ({direction(self.outcome)}).",
                 "Regret = how far a strategy falls short of the best strategy in the same future.", ""]
        for i, name in enumerate(self.ranking(), 1):
            r = t.loc[name]
            s = (f"{i}. {name}: mean regret {r.regret_mean:,.4g} (95% interval {r.regret_mean_low:,.4g} to "
                 f"{r.regret_mean_high:,.4g}), 90th percentile {r.regret_p90:,.4g}, worst {r.regret_max:,.4g}; "
                 f"best in {r.p_best:.0%} of futures; mean outcome {r['mean']:,.4g} (10-90%: {r.p10:,.4g} to {r.p90:,.4g})")
            if self.satisfice:
                s += f"; meets '{self.satisfice}' in {r.satisficing:.0%} of futures"
            lines.append(s)
        lines += ["", self.stability["sentence"]]
        lines += self.notes
        return "\n".join(lines)

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        from ..labels import output_label

        order = self.ranking()
        if ax is None:
            fig, axes = plt.subplots(1, 2, figsize=(11, 0.6 * len(order) + 2.2), constrained_layout=True)
        else:
            axes, fig = ax, ax[0].figure
        t = self.table.loc[order]
        y = np.arange(len(order))[::-1]
        a = axes[0]
        a.errorbar(t["mean"], y, xerr=[np.clip(t["mean"] - t["p10"], 0, None), np.clip(t["p90"] - t["mean"], 0, None)], fmt="o", capsize=4, color="C0")
        a.set_yticks(y, order)
        a.set_xlabel(output_label(self.outcome, with_unit=True))
        a.set_title("Outcome across futures (mean, 10th-90th percentile)")
        a = axes[1]
        # a bootstrap interval need not contain the estimate (a skewed resampling distribution): no negative bar ends
        err = [np.clip(t["regret_mean"] - t["regret_mean_low"], 0, None), np.clip(t["regret_mean_high"] - t["regret_mean"], 0, None)]
        a.barh(y, t["regret_mean"], xerr=err,
               color="C1", alpha=0.8, capsize=4, label="mean regret (95% interval)")
        a.plot(t["regret_p90"], y, "k|", markersize=14, label="90th percentile")
        a.set_yticks(y, order)
        a.set_xlabel("shortfall from the best strategy in each future")
        a.set_title("Regret (lower is more robust)")
        a.legend(loc="best", fontsize=8)
        return fig

    def save(self, folder: str | Path, plot: bool = True) -> list[str]:
        from ..experiments.store import write_bytes_atomic, write_csv_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        df = self.table.reset_index().rename(columns={"index": "strategy"})
        df.insert(1, "rank", [self.ranking().index(s) + 1 for s in df["strategy"]])
        df.insert(2, "outcome", self.outcome)
        write_csv_atomic(folder / "robustness.csv", df)
        write_csv_atomic(folder / "bootstrap.csv", self.boot)
        write_bytes_atomic(folder / "ranking.txt", (self.report() + "\n").encode())
        info = {"outcome": self.outcome, "goal": "max" if self.goal > 0 else "min", "satisfice": self.satisfice,
                "futures": self.n_futures, "replicates": self.n_replicates, "dropped_futures": self.dropped,
                "ranking": self.ranking(), "stability": self.stability}
        write_bytes_atomic(folder / "robust.json", json.dumps(info, indent=2, default=float).encode())
        written += ["robustness.csv", "bootstrap.csv", "ranking.txt", "robust.json"]
        if plot:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            fig = self.plot()
            tmp = folder / ".tmp-robustness.png"
            fig.savefig(tmp, dpi=120)
            plt.close(fig)
            tmp.replace(folder / "robustness.png")
            written.append("robustness.png")
        return written


def _resample(V: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Futures drawn with replacement and, in each, replicates drawn with replacement (the same
    draw for every strategy)."""
    S, K, R = V.shape
    si = rng.integers(0, S, S)
    ri = rng.integers(0, R, (S, R))
    return si, ri


def _take(V: np.ndarray, si: np.ndarray, ri: np.ndarray) -> np.ndarray:
    K = V.shape[1]
    return np.take_along_axis(V[si], np.repeat(ri[:, None, :], K, axis=1), axis=2)


def robust(exp: Exploration, outcome: str = "attributable_benefit_years", *, satisfice: str | None = None,
           bootstrap: int = 200, seed: int = 0, level: float = 0.95) -> RobustResult:
    """Robustness statistics of every strategy of an exploration (see the module docstring).

    Args:
        exp: the exploration (:func:`simulation.decision.load`).
        outcome: the output whose regret and spread are reported.
        satisfice: a condition on outputs (the grammar of :mod:`simulation.decision.expr`), met
            by a strategy in a future when its replicate means meet it.
        bootstrap: resamples of futures and replicates for the intervals and the stability.
        seed: decides the resamples.
    """
    from .expr import parse

    check_outcome(exp, outcome)
    goal = _goal(outcome)
    V = exp.values(outcome)
    expr = parse(satisfice, exp.outputs, "--satisfice") if satisfice else None
    cols = {n: exp.values(n) for n in (expr.names if expr else ())}
    with np.errstate(invalid="ignore"):
        M = np.nanmean(V, axis=2) if V.size else V[..., 0]
    keep = np.isfinite(M).all(axis=1)
    dropped = int((~keep).sum())
    if not keep.any():
        raise InputError(Problem("--outcome", outcome, "no future has a value for every strategy; choose another output"))
    V = V[keep]
    cols = {n: a[keep] for n, a in cols.items()}
    S, K, R = V.shape

    def sat_of(cols_b: dict) -> np.ndarray | None:
        if expr is None:
            return None
        with np.errstate(invalid="ignore"):
            means = {n: np.nanmean(a, axis=2).ravel() for n, a in cols_b.items()}
        return expr.evaluate(means).reshape(S, K)

    with np.errstate(invalid="ignore"):
        point = statistics(np.nanmean(V, axis=2), goal, sat_of(cols))
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 23]))
    boots = {k: np.empty((bootstrap, K)) for k in STATS}
    firsts = np.empty(bootstrap, dtype=np.int64)
    orders = []
    for b in range(bootstrap):
        si, ri = _resample(V, rng)
        Vb = _take(V, si, ri)
        with np.errstate(invalid="ignore"):
            Mb = np.nanmean(Vb, axis=2)
        if not np.isfinite(Mb).all():  # a future whose drawn replicates all lack a value
            Mb = np.where(np.isfinite(Mb), Mb, np.nanmean(V, axis=2)[si])
        st = statistics(Mb, goal, sat_of({n: _take(a, si, ri) for n, a in cols.items()}))
        for k in STATS:
            boots[k][b] = st[k]
        order = tuple(np.lexsort((st["regret_max"], st["regret_mean"])))
        firsts[b] = order[0]
        orders.append(order)
    alpha = (1 - level) / 2
    table = pd.DataFrame(index=pd.Index(exp.strategies, name="strategy"))
    for k in STATS:
        table[k] = point[k]
        table[f"{k}_se"] = boots[k].std(axis=0, ddof=1) if bootstrap > 1 else np.nan
        table[f"{k}_low"] = np.quantile(boots[k], alpha, axis=0) if bootstrap else np.nan
        table[f"{k}_high"] = np.quantile(boots[k], 1 - alpha, axis=0) if bootstrap else np.nan
    if expr is None:
        table = table.drop(columns=[c for c in table.columns if c.startswith("satisficing")])
    table.index.name = None
    res_order = list(table.sort_values(["regret_mean", "regret_max"]).index)
    top = exp.strategies.index(res_order[0])
    point_order = tuple(exp.strategies.index(s) for s in res_order)
    stay = float(np.mean(firsts == top)) if bootstrap else float("nan")
    same = float(np.mean([o == point_order for o in orders])) if bootstrap else float("nan")
    rank_share = {exp.strategies[k]: float(np.mean(firsts == k)) for k in range(K)}
    stability = {"top": res_order[0], "top_share": stay, "same_order_share": same, "first_share": rank_share,
                 "resamples": int(bootstrap), "stable": bool(stay >= STABLE)}
    stability["sentence"] = _stability_sentence(stability, S, R)
    boot = pd.DataFrame({"resample": np.repeat(np.arange(bootstrap), K),
                         "strategy": np.tile(exp.strategies, bootstrap),
                         **{k: boots[k].ravel() for k in STATS if expr is not None or k != "satisficing"}})
    notes = []
    if dropped:
        notes.append(f"({dropped} futures left out: a strategy has no value of {outcome} in any of their replicates.)")
    return RobustResult(outcome, goal, list(exp.strategies), table, boot, stability, satisfice, S, R, dropped, notes)


def _stability_sentence(st: dict, S: int, R: int) -> str:
    n = st["resamples"]
    if not n:
        return "Stability not assessed (no bootstrap resamples)."
    others = sorted(((v, k) for k, v in st["first_share"].items() if k != st["top"]), reverse=True)
    runner = f"; {others[0][1]} is first in {others[0][0]:.0%}" if others and others[0][0] > 0 else ""
    reps = "their replicate" if R == 1 else f"their {R} replicates"
    if st["stable"]:
        return (f"The ranking is stable: {st['top']} is the most robust in {st['top_share']:.0%} of {n} resamples of the "
                f"{S} futures and {reps} (the full order holds in {st['same_order_share']:.0%}){runner}. "
                "More runs would not change the answer at the top.")
    return (f"The ranking is NOT yet stable: {st['top']} is the most robust in only {st['top_share']:.0%} of {n} "
            f"resamples of the {S} futures and {reps}{runner}. Run more futures (--samples) and "
            "replicates before relying on the order; the strategies near the top may be practically equivalent.")
