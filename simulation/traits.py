"""Site traits and groups: read from the site table where given, otherwise drawn from the scenario.

Groups have exact sizes (counts, or shares rounded by largest remainder): sites are assigned to
groups by a random permutation (stream ``trait:group``), or block by block when the network's
regions are the groups. Each trait draws from its own named stream (``trait:<name>``), so that giving
one trait in a site table, or changing one distribution, leaves the draws of every other trait
unchanged. A group may have its own distribution of a trait (rural sites with less capacity, say):
its sites then draw that trait from the group's distribution, from the same stream.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import fail
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
    return (average_rank(deg) - 1.0) / (n - 1)


def average_rank(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n with ties given their mean rank (``scipy.stats.rankdata(x, method="average")``,
    written out so that a worker process need not import scipy.stats: 0.45 s of its start-up)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    first = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(x)]
    ranks = np.empty(len(x))
    ranks[order] = ((starts + 1 + ends) / 2.0)[np.cumsum(first) - 1]
    return ranks


def assign_groups(sc: Scenario, built: Built, streams: Streams) -> np.ndarray:
    """The group label of every site: from the site table, the network's regions, or exact sizes."""
    n = len(built.ids)
    table = built.table
    specs = sc.sites.group_specs()
    if table is not None and "group" in table.columns:
        groups = table["group"].to_numpy(dtype=object)
        present = set(groups.tolist())
        # a group the table lacks matters only when the scenario gives it traits of its own
        named = [g for g, spec in specs.items() if g not in present
                 and any(v is not None for v in spec.traits.model_dump().values())]
        if named:
            raise fail(sc.source, "sites.groups", f"no site of the site table is in group {', '.join(map(repr, named))}; "
                       f"groups in the table: {', '.join(sorted(map(str, present)))}")
        return groups
    if built.region is not None and built.region_labels is not None:
        return np.array(built.region_labels, dtype=object)[built.region]
    if built.region is not None and list(specs) == ["all"]:
        return np.array([f"region {r + 1}" for r in range(int(built.region.max()) + 1)], dtype=object)[built.region]
    sizes = sc.sites.group_sizes(n)
    if sum(sizes.values()) != n:
        raise fail(sc.source, "sites.groups", f"group sizes add up to {sum(sizes.values())} but there are {n} sites")
    labels = np.repeat(np.array(list(sizes), dtype=object), list(sizes.values()))
    if len(sizes) == 1:
        return labels
    return labels[streams["trait:group"].permutation(n)]


def site_traits(sc: Scenario, built: Built, streams: Streams) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """All traits as float arrays (``champions`` as whole numbers) and the group label per site."""
    n = len(built.ids)
    table = built.table
    groups = assign_groups(sc, built, streams)
    specs = sc.sites.group_specs()
    own = {g: s.traits for g, s in specs.items()}
    traits: dict[str, np.ndarray] = {}
    for name, (lo, hi, integer) in TRAIT_RANGES.items():
        spec = getattr(sc.sites.traits, name)
        given = table[name].to_numpy(float) if table is not None and name in table.columns else None
        rng = streams[f"trait:{name}"]
        if spec == "centrality":
            values = centrality_percentile(built.W)
        elif spec == "mixed":
            values = 0.5 * centrality_percentile(built.W) + 0.5 * rng.random(n)
        else:
            values = draw(spec, n, rng)
        # groups with their own distribution of this trait draw from it (same stream, after the rest)
        for g, gt in own.items():
            d = getattr(gt, name)
            if d is not None:
                mask = groups == g
                values = values.copy() if not values.flags.writeable else values
                values[mask] = draw(d, int(mask.sum()), rng)
        if given is not None:
            values = np.where(np.isnan(given), values, given)
        values = np.clip(values, lo, hi)
        traits[name] = np.round(values) if integer else values
    return traits, groups
