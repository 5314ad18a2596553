"""``voi``: what is it worth to learn an uncertainty before choosing a strategy?

The expected value of perfect information (EVPI) is what choosing the strategy after learning
every uncertainty is worth compared with choosing now: ``E[max_k m_k(theta)] - max_k E[m_k(theta)]``,
with ``m_k(theta)`` strategy k's expected outcome in future ``theta`` (its mean over the model's own
chance). The expected value of partial perfect information (EVPPI) of one uncertainty ``x`` is the
same with only ``x`` learnt: ``E_x[max_k E[m_k | x]] - max_k E[m_k]``. Both are in the outcome's
units (higher is better; outcomes where lower is better are negated), per programme.

EVPPI is estimated by regression on the explored futures (Strong, Oakley & Brennan, "Estimating
multiparameter partial expected value of perfect information from a probabilistic sensitivity
analysis sample: a nonparametric regression approach", *Medical Decision Making* 2014): each
strategy's outcome relative to the baseline is regressed on ``x`` alone, and the fitted values stand
in for ``E[m_k | x]``. The regression is a penalised cubic regression spline (P-spline, Eilers & Marx
1996, with the smoothness chosen by generalised cross-validation), the one-dimensional GAM of the
paper; an uncertainty with few distinct values is fitted by its group means. The model's own noise
averages out in the regression. EVPI, which conditions on every uncertainty at once, is estimated
the same way with a Gaussian-process regression on all of them (scikit-learn; one length scale
per uncertainty and a noise term), as the paper suggests for several parameters.
Standard errors come from bootstrap resamples of futures and of replicates within them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .exploration import Exploration

#: an uncertainty with at most this many distinct values is fitted by group means
FEW_VALUES = 8
LAMBDAS = 10.0 ** np.arange(-4, 5.0)


def _basis(x: np.ndarray, n_inner: int = 10) -> np.ndarray:
    from scipy.interpolate import BSpline

    lo, hi = float(np.min(x)), float(np.max(x))
    u = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    k = 3
    inner = np.linspace(0, 1, n_inner + 2)
    t = np.r_[[0.0] * k, inner, [1.0] * k]
    return BSpline.design_matrix(np.clip(u, 0, 1), t, k).toarray()


def smooth(x: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Fitted values of each column of ``Y`` regressed on ``x`` (a P-spline with the penalty chosen
    by generalised cross-validation, shared by the columns; group means for few distinct values)."""
    x = np.asarray(x, float)
    Y = np.asarray(Y, float)
    vals, inv = np.unique(x, return_inverse=True)
    if len(vals) <= FEW_VALUES:
        sums = np.zeros((len(vals), Y.shape[1]))
        np.add.at(sums, inv, Y)
        counts = np.bincount(inv, minlength=len(vals))[:, None]
        return (sums / counts)[inv]
    B = _basis(x)
    m = B.shape[1]
    D = np.diff(np.eye(m), n=2, axis=0)
    P = D.T @ D
    BtB, BtY = B.T @ B, B.T @ Y
    n = len(x)
    best = None
    for lam in LAMBDAS:
        A = np.linalg.inv(BtB + lam * P)
        fit = B @ (A @ BtY)
        edf = np.trace(A @ BtB)  # trace of the hat matrix B A B'

        rss = ((Y - fit) ** 2).sum()
        gcv = n * rss / max((n - edf) ** 2, 1e-12)
        if best is None or gcv < best[0]:
            best = (gcv, fit)
    return best[1]


def _evppi(x: np.ndarray, D: np.ndarray) -> float:
    G = smooth(x, D)
    return float(G.max(axis=1).mean() - G.mean(axis=0).max())


def _scaled(X: pd.DataFrame) -> np.ndarray:
    A = X.to_numpy(float)
    lo, hi = A.min(axis=0), A.max(axis=0)
    return (A - lo) / np.where(hi > lo, hi - lo, 1.0)


def _evpi(X: pd.DataFrame, D: np.ndarray) -> tuple[float, np.ndarray]:
    """EVPI by a Gaussian-process regression of each strategy's difference from the baseline on all
    the uncertainties at once (the multi-parameter regression of Strong et al. 2014; scikit-learn,
    an RBF kernel with one length scale per uncertainty plus white noise). Returns it and the fitted
    values (futures x strategies)."""
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    Z = _scaled(X)
    G = np.zeros_like(D)
    for k in range(1, D.shape[1]):
        kern = (ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(Z.shape[1], 0.5), (1e-2, 1e2))
                + WhiteKernel(0.5, (1e-6, 1e2)))
        gp = GaussianProcessRegressor(kern, normalize_y=True, random_state=0)
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # bounds reached by a length scale: an inert uncertainty
            gp.fit(Z, D[:, k])
        G[:, k] = gp.predict(Z)
    return _gain(G), G


def _gain(G: np.ndarray) -> float:
    return float(max(0.0, G.max(axis=1).mean() - G.mean(axis=0).max()))


def value_of_information(V: np.ndarray, X: pd.DataFrame, evpi: bool = True) -> tuple[dict[str, float], np.ndarray]:
    """EVPI (``"all"``) and EVPPI per column of ``X``, for goal-signed values V (S x K x R), and the
    fitted values of the EVPI regression (None with ``evpi=False``)."""
    M = np.nanmean(V, axis=2)
    D = M - M[:, :1]
    out, G = {}, None
    if evpi:
        out["all"], G = _evpi(X, D)
    for c in X.columns:
        out[c] = max(0.0, _evppi(X[c].to_numpy(float), D))
    return out, G


@dataclass
class VoiResult:
    outcome: str
    table: pd.DataFrame
    best_now: str
    n_futures: int
    n_replicates: int
    sentence: str

    def report(self) -> str:
        from ..labels import output_label

        lines = [f"Value of information for {output_label(self.outcome, with_unit=True)} over {self.n_futures} futures "
                 f"x {self.n_replicates} replicates (best strategy without more information: {self.best_now}).", ""]
        for r in self.table.itertuples():
            share = f"; {r.share_of_evpi:.0%} of EVPI" if np.isfinite(r.share_of_evpi) else ""
            lines.append(f"  {r.uncertainty:<40} {r.value:>12,.4g}  (SE {r.se:,.3g}{share})")
        return "\n".join([*lines, "", self.sentence])

    def plot(self, ax=None):
        import matplotlib.pyplot as plt

        from ..labels import output_label

        t = self.table
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 0.5 * len(t) + 1.8), constrained_layout=True)
        y = np.arange(len(t))[::-1]
        colors = ["0.4" if u == "all (EVPI)" else "C0" for u in t["uncertainty"]]
        ax.barh(y, t["value"], xerr=1.96 * t["se"], color=colors, capsize=4)
        ax.set_yticks(y, t["uncertainty"])
        ax.set_xlabel(f"expected gain in {output_label(self.outcome, with_unit=True)}")
        ax.set_title("Value of learning before choosing (EVPI, EVPPI; bars: 95% interval)")
        return ax.figure

    def save(self, folder: str | Path, plot: bool = True) -> list[str]:
        from ..experiments.store import write_bytes_atomic, write_csv_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(folder / "voi.csv", self.table.assign(outcome=self.outcome))
        write_bytes_atomic(folder / "voi.txt", (self.report() + "\n").encode())
        write_bytes_atomic(folder / "voi.json", json.dumps({"outcome": self.outcome, "best_now": self.best_now,
                                                            "futures": self.n_futures, "replicates": self.n_replicates,
                                                            "sentence": self.sentence}, indent=2).encode())
        written = ["voi.csv", "voi.txt", "voi.json"]
        if plot:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            fig = self.plot()
            tmp = folder / ".tmp-voi.png"
            fig.savefig(tmp, dpi=120)
            plt.close(fig)
            tmp.replace(folder / "voi.png")
            written.append("voi.png")
        return written


def voi(exp: Exploration, outcome: str = "attributable_benefit_years", *, bootstrap: int = 100,
        seed: int = 0) -> VoiResult:
    """EVPI and EVPPI per uncertainty, with bootstrap standard errors (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small matrices: threads only contend
        return _voi(exp, outcome, bootstrap=bootstrap, seed=seed)


def _voi(exp: Exploration, outcome: str, *, bootstrap: int, seed: int) -> VoiResult:
    from ..labels import output_label
    from .discovery import _numeric
    from .robustness import _goal, _resample, _take, check_outcome

    check_outcome(exp, outcome)
    if len(exp.strategies) < 2:
        raise InputError(Problem(str(exp.folder or "<python>"), "strategies",
                                 "value of information needs at least two strategies to choose between"))
    g = _goal(outcome)
    V = g * exp.values(outcome)
    with np.errstate(invalid="ignore"):
        keep = np.isfinite(np.nanmean(V, axis=2)).all(axis=1)
    V = V[keep]
    if len(V) < 10:
        raise InputError(Problem("--outcome", outcome, f"only {len(V)} futures have a value for every strategy; "
                                 "value of information needs at least 10"))
    fut = exp.futures.iloc[np.flatnonzero(keep)].reset_index(drop=True)
    X, _ = _numeric(fut, exp.uncertainties)
    point, G = value_of_information(V, X)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 31]))
    boots = {k: [] for k in point}
    for _ in range(bootstrap):
        si, ri = _resample(V, rng)
        Vb = _take(V, si, ri)
        if not np.isfinite(np.nanmean(Vb, axis=2)).all():
            continue
        pb, _ = value_of_information(Vb, X.iloc[si].reset_index(drop=True), evpi=False)
        pb["all"] = _gain(G[si])  # EVPI's SE: the futures resampled, its regression kept (a GP per resample is slow)
        for k, v in pb.items():
            boots[k].append(v)
    se = {k: float(np.std(v, ddof=1)) if len(v) > 1 else float("nan") for k, v in boots.items()}
    names = ["all (EVPI)" if k == "all" else k for k in point]
    evpi = point["all"]
    table = pd.DataFrame({"uncertainty": names, "value": list(point.values()), "se": [se[k] for k in point]})
    table["share_of_evpi"] = table["value"] / evpi if evpi > 0 else np.nan
    table = pd.concat([table.iloc[:1], table.iloc[1:].sort_values("value", ascending=False)]).reset_index(drop=True)
    best_now = exp.strategies[int(np.nanmean(V, axis=2).mean(axis=0).argmax())]
    unit = output_label(outcome, with_unit=True)
    top = table.iloc[1] if len(table) > 1 else None
    if evpi <= 0 or top is None:
        sentence = (f"Learning more before choosing is worth nothing measurable here: {best_now} is the best choice "
                    "in (nearly) every future explored.")
    else:
        rest = table.iloc[1:]
        low = rest[rest["value"] < 2 * rest["se"]]["uncertainty"].tolist()
        if top.uncertainty in low:
            sentence = (f"No single uncertainty is measurably worth learning first: every EVPPI is within two standard "
                        f"errors of zero (largest: {top.uncertainty}, {top.value:,.3g}, SE {top.se:,.2g}, in expected "
                        f"{unit}); perfect knowledge of everything would be worth {evpi:,.3g}. Without more "
                        f"information, choose {best_now}.")
        else:
            sentence = (f"Learning the true {top.uncertainty} first is worth {top.value:,.3g} (SE {top.se:,.2g}) in "
                        f"expected {unit}, {top.value / evpi:.0%} of the {evpi:,.3g} that perfect knowledge of every "
                        f"uncertainty would be worth; without more information, choose {best_now}.")
            if low:
                sentence += f" Not distinguishable from zero: {', '.join(low)}."
    return VoiResult(outcome, table, best_now, int(V.shape[0]), int(V.shape[2]), sentence)
