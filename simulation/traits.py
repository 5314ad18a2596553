"""Site traits: read from the site table where given, otherwise drawn from the scenario's distributions.

Each trait draws from its own named stream (``trait:<name>``), so that giving one trait in a site
table, or changing one distribution, leaves the draws of every other trait unchanged.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.stats import rankdata

from .network import Built
from .rng import Streams
from .scenario import TRAIT_RANGES, Dist, Scenario


def draw(d: Dist, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` values from a scenario distribution."""
    if d.dist == "constant":
        return np.full(n, float(d.value))
    if d.dist == "uniform":
        return rng.uniform(d.low, d.high, n)
    if d.dist == "beta":
        return rng.beta(d.a, d.b, n)
    if d.dist == "normal":
        return rng.normal(d.mean, d.sd, n)
    if d.dist == "lognormal":
        return rng.lognormal(d.mean, d.sigma, n)
    if d.dist == "poisson":
        return rng.poisson(d.lam, n).astype(float)
    raise ValueError(f"unknown distribution {d.dist}")  # unreachable: the schema restricts dist


def centrality_percentile(W: sp.csr_array) -> np.ndarray:
    """Prestige from network position: each site's weighted-degree percentile in [0, 1]."""
    n = W.shape[0]
    if n == 1:
        return np.full(1, 0.5)
    deg = np.asarray(W.sum(axis=1)).ravel()
    return (rankdata(deg, method="average") - 1.0) / (n - 1)


def site_traits(sc: Scenario, built: Built, streams: Streams) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All traits as float arrays (``champions`` as whole numbers) and the group label per site."""
    n = len(built.ids)
    table = built.table
    traits: dict[str, np.ndarray] = {}
    for name, (lo, hi, integer) in TRAIT_RANGES.items():
        spec = getattr(sc.sites.traits, name)
        given = table[name].to_numpy(float) if table is not None and name in table.columns else None
        if isinstance(spec, str):  # prestige: centrality
            values = centrality_percentile(built.W)
        else:
            values = draw(spec, n, streams[f"trait:{name}"])
        if given is not None:
            values = np.where(np.isnan(given), values, given)
        values = np.clip(values, lo, hi)
        traits[name] = np.round(values) if integer else values
    if table is not None and "group" in table.columns:
        groups = table["group"].to_numpy(dtype=object)
    elif built.region is not None and list(sc.sites.groups) == ["all"]:
        groups = np.array([f"region {r + 1}" for r in range(int(built.region.max()) + 1)], dtype=object)[built.region]
    else:
        labels = list(sc.sites.groups)
        shares = np.array([sc.sites.groups[k] for k in labels], float)
        idx = streams["trait:group"].choice(len(labels), size=n, p=shares / shares.sum())
        groups = np.array(labels, dtype=object)[idx]
    return traits, groups
