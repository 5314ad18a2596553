"""``discover``: in which futures does a strategy fail?

Scenario discovery (Bryant & Lempert, "Thinking inside the box", *Technological Forecasting and
Social Change* 2010; Kwakkel & Jaxa-Rozen 2016 for the EMA Workbench implementation used here).
A future is a failure of the strategy when the share of its replicates meeting ``--where`` (e.g.
``adopted_share < 0.3``) is at least ``--probability`` (default 0.5): the replicates are the
model's own chance, so "fails" is a probability, not one run's accident.

PRIM (Friedman & Fisher 1999) peels the space of uncertainties towards the failures; its
peeling trajectory trades coverage (the share of all failures inside the box) against density
(the share of futures inside the box that are failures). The box chosen on the trajectory is the
one of highest coverage whose density is at least ``density`` (default 0.8, or the highest density
reached if lower); restrictions whose quasi-p-value (a one-sided binomial test of whether the
restriction raises the density, Bryant & Lempert 2010) exceeds 0.05 are dropped, side by side. Further boxes
are sought among the failures outside the first. PRIM is ``ema_workbench.analysis.prim``; CART
(scikit-learn's decision tree) gives a second view and extra-trees feature scores rank the
uncertainties. The stability of the box is measured by re-running the whole discovery on
resamples (80% of the futures without replacement, and the replicates within them with
replacement): how often each uncertainty is restricted.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError, Problem
from .exploration import Exploration

#: quasi-p-value above which a restriction is dropped
QP_MAX = 0.05


def _prim():
    import inspect
    import sys

    if "ema_workbench.analysis.prim" in sys.modules:
        return sys.modules["ema_workbench.analysis.prim"]
    # ema_workbench names its loggers at import from inspect.getouterframes(), which reads the
    # source lines of every frame on the stack: seconds under a deep stack (a notebook, pytest).
    # The names need no source lines, so they are read without any while it imports.
    outer = inspect.getouterframes
    inspect.getouterframes = lambda frame, context=1: outer(frame, 0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "ipyparallel not installed" and the like, on import
            from ema_workbench.analysis import prim
    finally:
        inspect.getouterframes = outer
    return prim


def failures(exp: Exploration, strategy: str, where: str, probability: float = 0.5
             ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The futures, the share of the strategy's replicates meeting ``where`` in each, and whether
    that share is at least ``probability`` (a failure)."""
    from .expr import parse

    import difflib

    if strategy not in exp.strategies:
        close = difflib.get_close_matches(strategy, exp.strategies, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise InputError(Problem("--strategy", strategy, f"no strategy '{strategy}' in this exploration{hint}; "
                                 f"choose from {', '.join(exp.strategies)}"))
    if not 0 < probability <= 1:
        raise InputError(Problem("--probability", str(probability), "must be above 0 and at most 1"))
    expr = parse(where, [*exp.outputs, *exp.uncertainties], "--where")
    t = exp.table[exp.table["strategy"] == strategy]
    hit = expr.evaluate({c: t[c].to_numpy() for c in expr.names})
    share = pd.Series(hit.astype(float)).groupby(t["sample"].to_numpy()).mean()
    fut = exp.futures.set_index("sample").loc[share.index].reset_index()
    return fut, share.to_numpy(), share.to_numpy() >= probability - 1e-12


def _numeric(fut: pd.DataFrame, names: list[str]) -> tuple[pd.DataFrame, dict]:
    """The uncertainties as numbers (values that are not numbers become codes 0, 1, ...)."""
    x = pd.DataFrame(index=fut.index)
    codes = {}
    for n in names:
        col = fut[n]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            cats = list(dict.fromkeys(col.tolist()))
            codes[n] = cats
            x[n] = col.map({c: i for i, c in enumerate(cats)}).astype(float)
        else:
            x[n] = col.astype(float)
    return x, codes


def _choose(traj: pd.DataFrame, density: float) -> int:
    target = min(density, float(traj["density"].max()))
    ok = traj[traj["density"] >= target - 1e-12]
    best = ok.sort_values(["coverage", "res_dim", "density"], ascending=[False, True, False]).iloc[0]
    return int(best["id"])


def prim_boxes(x: pd.DataFrame, y: np.ndarray, *, density: float = 0.8, max_boxes: int = 2,
               min_coverage: float = 0.1, peel_alpha: float = 0.05, mass_min: float = 0.05):
    """PRIM boxes (ema_workbench), each chosen on its peeling trajectory and stripped of
    restrictions that are not significant. Returns a list of dicts with ``limits`` (parameter ->
    (low, high, qp_low, qp_high)), ``trajectory`` (DataFrame), ``chosen`` (its id)."""
    prim = _prim()
    y = np.asarray(y, bool)
    if y.sum() == 0 or y.all():
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(x, y, peel_alpha=peel_alpha, mass_min=mass_min)
        out = []
        for _ in range(max_boxes):
            box = p.find_box()
            if box is None:
                break
            traj = box.peeling_trajectory.copy()
            i = _choose(traj, density)
            box.select(i)
            limits = _limits(box, i)
            for name, (_, _, qlo, qhi) in list(limits.items()):
                qs = [q for q in (qlo, qhi) if q is not None and np.isfinite(q)]
                if qs and min(qs) > QP_MAX:
                    box.drop_restriction(name)
                    limits = _limits(box, box._cur_box)
            limits = _significant(limits, x)
            out.append({"limits": limits, "trajectory": traj, "chosen": i})
            inside = _inside(x, limits)
            cov = (inside & y).sum() / max(1, y.sum())
            if cov < min_coverage or not limits:
                break
    return out


def _limits(box, i: int) -> dict:
    stats, lims = box.inspect(i, style="data")[0]
    out = {}
    for name, row in lims.iterrows():
        vals = row.to_numpy()
        lo, hi = float(vals[0]), float(vals[1])
        qlo = float(vals[2]) if len(vals) > 2 and pd.notna(vals[2]) else None
        qhi = float(vals[3]) if len(vals) > 3 and pd.notna(vals[3]) else None
        out[str(name)] = (lo, hi, qlo, qhi)
    return out


def _significant(limits: dict, x: pd.DataFrame) -> dict:
    """The limits with each side whose quasi-p-value exceeds :data:`QP_MAX` opened to the explored
    range (a parameter with no significant side left is not restricted)."""
    out = {}
    for name, (lo, hi, qlo, qhi) in limits.items():
        if qlo is not None and qlo > QP_MAX:
            lo, qlo = float(x[name].min()), None
        if qhi is not None and qhi > QP_MAX:
            hi, qhi = float(x[name].max()), None
        if qlo is not None or qhi is not None:
            out[name] = (lo, hi, qlo, qhi)
    return out


def _inside(x: pd.DataFrame, limits: dict) -> np.ndarray:
    m = np.ones(len(x), bool)
    for name, (lo, hi, _, _) in limits.items():
        v = x[name].to_numpy(float)
        m &= (v >= lo) & (v <= hi)
    return m


@dataclass
class DiscoverResult:
    strategy: str
    where: str
    probability: float
    futures: pd.DataFrame
    share: np.ndarray
    failed: np.ndarray
    boxes: pd.DataFrame
    trajectories: list
    features: pd.DataFrame
    cart: str
    stability: pd.DataFrame
    sentence: str
    stability_sentence: str
    x: pd.DataFrame = None
    codes: dict = field(default_factory=dict)
    tree: object = None

    def report(self) -> str:
        lines = [self.sentence, ""]
        if len(self.boxes):
            lines.append("Boxes (coverage: share of all failures inside; density: share of futures inside that fail):")
            for b, g in self.boxes.groupby("box"):
                r0 = g.iloc[0]
                lines.append(f"  box {b}: coverage {r0.coverage:.0%}, density {r0.density:.0%}")
                for r in g.itertuples():
                    lines.append(f"    {r.parameter}: {r.low:.4g} to {r.high:.4g} (quasi-p {r.qp_value:.2g}; "
                                 f"restricted in {r.restricted_share:.0%} of resamples)")
        lines += ["", "Feature scores (extra trees; higher = more tied to failure):"]
        lines += [f"  {r.parameter}: {r.score:.3f}" for r in self.features.itertuples()]
        lines += ["", "CART (second view):", self.cart, self.stability_sentence]
        return "\n".join(lines)

    def plot_trajectory(self, ax=None):
        import matplotlib.pyplot as plt

        if ax is None:
            fig, ax = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        for k, tr in enumerate(self.trajectories, 1):
            sc = ax.scatter(tr["coverage"], tr["density"], c=tr["res_dim"], cmap="viridis", s=18,
                            marker="o" if k == 1 else "s", label=f"box {k} peeling trajectory")
            ch = tr[tr["id"] == tr.attrs.get("chosen", -1)]
            ax.scatter(ch["coverage"], ch["density"], s=120, facecolors="none", edgecolors="red", linewidths=2)
        if self.trajectories:
            ax.figure.colorbar(sc, ax=ax, label="restricted uncertainties")
        ax.set_xlabel("coverage (share of all failures inside the box)")
        ax.set_ylabel("density (share of futures in the box that fail)")
        ax.set_title(f"PRIM peeling trajectory: {self.strategy} (red: chosen box)")
        ax.legend(fontsize=8, loc="lower left")
        return ax.figure

    def plot_boxes(self, ax=None):
        import matplotlib.pyplot as plt

        names = list(self.x.columns)
        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 0.55 * len(names) + 1.8), constrained_layout=True)
        y = np.arange(len(names))[::-1]
        lo = self.x.min().to_numpy(float)
        span = np.where(self.x.max().to_numpy(float) > lo, self.x.max().to_numpy(float) - lo, 1)
        ax.barh(y, 1, left=0, color="0.9", edgecolor="0.7", label="explored range")
        for b, g in self.boxes.groupby("box"):
            for r in g.itertuples():
                j = names.index(r.parameter)
                ax.barh(y[j] + (b - 1) * 0.25 - 0.1, (r.high - r.low) / span[j], left=(r.low - lo[j]) / span[j],
                        height=0.25, color=f"C{b}", label=f"box {b}" if r.Index == g.index[0] else None)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 1)
        ax.set_xlabel("position in the explored range (0 = low, 1 = high)")
        ax.set_title(f"Where {self.strategy} fails")
        ax.legend(fontsize=8, loc="lower right")
        return ax.figure

    def plot_cart(self, ax=None):
        import matplotlib.pyplot as plt
        from sklearn.tree import plot_tree

        if ax is None:
            fig, ax = plt.subplots(figsize=(11, 6), constrained_layout=True)
        if self.tree is not None:
            plot_tree(self.tree, feature_names=list(self.x.columns), class_names=["holds", "fails"], filled=True,
                      impurity=False, proportion=True, ax=ax, fontsize=7)
        ax.set_title(f"CART: {self.strategy} fails where ...")
        return ax.figure

    def save(self, folder: str | Path, plot: bool = True) -> list[str]:
        from ..experiments.store import write_bytes_atomic, write_csv_atomic

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_csv_atomic(folder / "boxes.csv", self.boxes)
        traj = pd.concat([t.assign(box=k, chosen=t["id"] == t.attrs.get("chosen", -1))
                          for k, t in enumerate(self.trajectories, 1)]) if self.trajectories else pd.DataFrame(
            columns=["box", "id", "coverage", "density", "mass", "res_dim", "chosen"])
        write_csv_atomic(folder / "trajectory.csv", traj)
        write_csv_atomic(folder / "features.csv", self.features)
        write_csv_atomic(folder / "stability.csv", self.stability)
        write_bytes_atomic(folder / "cart.txt", (self.cart + "\n").encode())
        write_bytes_atomic(folder / "discover.txt", (self.report() + "\n").encode())
        info = {"strategy": self.strategy, "where": self.where, "probability": self.probability,
                "futures": int(len(self.failed)), "failures": int(self.failed.sum()), "sentence": self.sentence,
                "stability": self.stability_sentence, "codes": {k: [str(c) for c in v] for k, v in self.codes.items()}}
        write_bytes_atomic(folder / "discover.json", json.dumps(info, indent=2).encode())
        written = ["boxes.csv", "trajectory.csv", "features.csv", "stability.csv", "cart.txt", "discover.txt",
                   "discover.json"]
        if plot:
            import matplotlib

            matplotlib.use("Agg", force=False)
            import matplotlib.pyplot as plt

            for name, fn in (("trajectory.png", self.plot_trajectory), ("boxes.png", self.plot_boxes),
                             ("cart.png", self.plot_cart)):
                fig = fn()
                tmp = folder / f".tmp-{name}"
                fig.savefig(tmp, dpi=110)
                plt.close(fig)
                tmp.replace(folder / name)
                written.append(name)
        return written


def _condition(name: str, lo: float, hi: float, x: pd.Series, codes: dict) -> str:
    from ..labels import param_label

    label = param_label(name)
    if name in codes:
        vals = [str(c) for i, c in enumerate(codes[name]) if lo <= i <= hi]
        return f"{label} is {' or '.join(vals)}"
    lo_free = lo <= x.min() + 1e-12
    hi_free = hi >= x.max() - 1e-12
    if lo_free and not hi_free:
        return f"{label} <= {hi:.3g}"
    if hi_free and not lo_free:
        return f"{label} >= {lo:.3g}"
    return f"{lo:.3g} <= {label} <= {hi:.3g}"


def discover(exp: Exploration, strategy: str, where: str, probability: float = 0.5, *, density: float = 0.8,
             max_boxes: int = 2, bootstrap: int = 50, seed: int = 0) -> DiscoverResult:
    """Find where ``strategy`` fails (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # small problems: threads only contend
        return _discover(exp, strategy, where, probability, density=density, max_boxes=max_boxes,
                         bootstrap=bootstrap, seed=seed)


def _discover(exp: Exploration, strategy: str, where: str, probability: float, *, density: float, max_boxes: int,
              bootstrap: int, seed: int) -> DiscoverResult:
    from sklearn.ensemble import ExtraTreesClassifier
    from sklearn.tree import DecisionTreeClassifier, export_text

    fut, share, failed = failures(exp, strategy, where, probability)
    names = list(exp.uncertainties)
    if not names:
        raise InputError(Problem(str(exp.folder or "<python>"), "uncertainties", "the exploration has no uncertainties"))
    x, codes = _numeric(fut, names)
    S = len(x)
    rate = failed.mean()
    boxes = prim_boxes(x, failed, density=density, max_boxes=max_boxes)
    # stability: the whole discovery again on resamples of futures and of replicates
    t = exp.table[exp.table["strategy"] == strategy]
    from .expr import parse

    expr = parse(where, [*exp.outputs, *exp.uncertainties], "--where")
    hits = expr.evaluate({c: t[c].to_numpy() for c in expr.names}).astype(float)
    samples = np.sort(t["sample"].unique())
    reps = np.sort(t["replicate"].unique())
    H = np.full((len(samples), len(reps)), np.nan)
    H[np.searchsorted(samples, t["sample"].to_numpy()), np.searchsorted(reps, t["replicate"].to_numpy())] = hits
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 29]))
    restricted = np.zeros(len(names))
    runs = 0
    for _ in range(bootstrap):
        # futures subsampled (80%, without replacement: PRIM peels by quantiles, which repeated
        # rows distort), replicates resampled with replacement
        si = np.sort(rng.choice(S, size=max(2, int(0.8 * S)), replace=False))
        ri = rng.integers(0, H.shape[1], (len(si), H.shape[1]))
        with np.errstate(invalid="ignore"):
            yb = np.nanmean(np.take_along_axis(H[si], ri, axis=1), axis=1) >= probability - 1e-12
        if yb.all() or not yb.any():
            continue
        bb = prim_boxes(x.iloc[si].reset_index(drop=True), yb, density=density, max_boxes=1)
        runs += 1
        if bb:
            for j, n in enumerate(names):
                restricted[j] += n in bb[0]["limits"]
    share_r = restricted / runs if runs else np.full(len(names), np.nan)
    stability = pd.DataFrame({"parameter": names, "restricted_share": share_r, "resamples": runs})

    rows = []
    trajs = []
    for k, b in enumerate(boxes, 1):
        inside = _inside(x, b["limits"])
        cov = float((inside & failed).sum() / max(1, failed.sum()))
        den = float((inside & failed).sum() / max(1, inside.sum()))
        tr = b["trajectory"]
        tr.attrs["chosen"] = b["chosen"]
        trajs.append(tr)
        for n, (lo, hi, qlo, qhi) in b["limits"].items():
            qs = [q for q in (qlo, qhi) if q is not None]
            rows.append({"box": k, "parameter": n, "low": lo, "high": hi, "coverage": cov, "density": den,
                         "qp_value": max(qs) if qs else np.nan, "restricted_share": share_r[names.index(n)],
                         "futures_in_box": int(inside.sum())})
    boxes_df = pd.DataFrame(rows, columns=["box", "parameter", "low", "high", "coverage", "density", "qp_value",
                                           "restricted_share", "futures_in_box"])

    # CART and feature scores
    tree = None
    cart = "CART: no tree (the strategy fails in every future or in none)."
    feats = pd.DataFrame({"parameter": names, "score": np.nan})
    if 0 < failed.sum() < S:
        leaf = max(2, int(0.05 * S))
        tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=leaf, random_state=int(seed)).fit(x, failed)
        cart = export_text(tree, feature_names=names, class_names=["holds", "fails"], show_weights=True)
        et = ExtraTreesClassifier(n_estimators=300, min_samples_leaf=max(1, leaf // 2), random_state=int(seed),
                                  n_jobs=1).fit(x, failed)
        feats = pd.DataFrame({"parameter": names, "score": et.feature_importances_})
    feats = feats.sort_values("score", ascending=False, na_position="last").reset_index(drop=True)

    what = f"'{where}' in at least {probability:.0%} of its replicates"
    if failed.sum() == 0:
        sentence = f"{strategy} never fails ({what}) in any of the {S} futures explored."
    elif failed.all():
        sentence = f"{strategy} fails ({what}) in every one of the {S} futures explored: no box can separate them."
    elif not len(boxes_df):
        sentence = (f"{strategy} fails ({what}) in {rate:.0%} of the {S} futures, but no simple box of uncertainties "
                    "concentrates the failures: they are spread across the explored space.")
    else:
        g = boxes_df[boxes_df["box"] == 1]
        conds = " and ".join(_condition(r.parameter, r.low, r.high, x[r.parameter], codes) for r in g.itertuples())
        sentence = (f"{strategy} fails ({what}) in {g.density.iloc[0]:.0%} of futures where {conds}; this box holds "
                    f"{g.coverage.iloc[0]:.0%} of its failures. Overall it fails in {rate:.0%} of the {S} futures.")
        if not conds:
            sentence = f"{strategy} fails ({what}) in {rate:.0%} of the {S} futures, with no restriction that is significant."
    stab = _stability_words(stability, boxes_df, runs)
    return DiscoverResult(strategy, where, float(probability), fut, share, failed, boxes_df, trajs, feats, cart,
                          stability, sentence, stab, x, codes, tree)


def _stability_words(stability: pd.DataFrame, boxes: pd.DataFrame, runs: int) -> str:
    if not runs:
        return "Stability not assessed (the resamples had no failures to separate)."
    in_box = set(boxes.loc[boxes["box"] == 1, "parameter"]) if len(boxes) else set()
    parts = [f"{r.parameter} {r.restricted_share:.0%}" for r in stability.itertuples() if r.restricted_share > 0]
    shaky = [p for p in in_box if stability.set_index("parameter").loc[p, "restricted_share"] < 0.8]
    spurious = [r.parameter for r in stability.itertuples() if r.parameter not in in_box and r.restricted_share >= 0.5]
    head = (f"Restricted in the first box of {runs} resamples (80% of the futures, replicates resampled): "
            + (", ".join(parts) if parts else "nothing") + ".")
    if in_box and not shaky and not spurious:
        return head + " The box is stable: more runs would not change which uncertainties define it."
    if not in_box:
        return head
    msg = []
    if shaky:
        msg.append(f"{', '.join(shaky)} appear{'s' if len(shaky) == 1 else ''} in fewer than 80% of resamples")
    if spurious:
        msg.append(f"{', '.join(spurious)} appear{'s' if len(spurious) == 1 else ''} often though not in the box")
    return head + " The box is NOT yet stable (" + "; ".join(msg) + "): explore more futures before acting on it."
