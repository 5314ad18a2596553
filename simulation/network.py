"""Networks of ties between sites, built straight into sparse adjacency matrices.

Generated networks use the run's ``network`` stream. ``small_world``, ``random`` and ``regions`` (a
stochastic block model) are generated vectorised into arrays (networkx's dict-of-dicts takes
minutes at a million sites); ``scale_free`` uses networkx's generator with the stream passed as
``seed=``. Files: an edge list CSV
(``source,target`` and an optional ``weight``) or GraphML, with an optional site table.

The adjacency matrix ``W`` is a ``scipy.sparse.csr_array`` with ``W[i, j]`` the weight of the tie
through which site ``i`` is influenced by site ``j`` (symmetric unless the network is directed).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InputError, Problem, fail
from .scenario import TRAIT_RANGES, Scenario


@dataclass
class Built:
    """The sites and ties of a run before traits are drawn."""

    ids: np.ndarray  # site ids as given (ints for generated networks, text for files)
    W: sp.csr_array
    table: pd.DataFrame | None = None  # site table, indexed like ids, trait columns only
    region: np.ndarray | None = None  # region index per site for the 'regions' network
    region_labels: list[str] | None = None  # the groups, when the regions are the groups


def _sym_csr(n: int, src: np.ndarray, dst: np.ndarray, w: np.ndarray | None = None, directed=False) -> sp.csr_array:
    keep = src != dst
    src, dst = src[keep], dst[keep]
    w = np.ones(len(src)) if w is None else np.asarray(w, float)[keep]
    if not directed:
        src, dst, w = np.concatenate([src, dst]), np.concatenate([dst, src]), np.concatenate([w, w])
    W = sp.coo_array((w, (src.astype(np.int64), dst.astype(np.int64))), shape=(n, n)).tocsr()
    W.sum_duplicates()
    return W


def _binary(W: sp.csr_array) -> sp.csr_array:
    W.data[:] = 1.0
    W.eliminate_zeros()
    return W


def small_world(n: int, k: int, p: float, rng: np.random.Generator) -> sp.csr_array:
    """Watts–Strogatz small-world network, vectorised.

    A ring lattice where each site is tied to its ``k/2`` nearest neighbours on each side; each tie's
    far end is rewired with probability ``p`` to a uniformly chosen site. Ties that would become
    self-loops are dropped and duplicates merged, so the mean degree is ``k`` up to O(1/n).

    References:
        Watts, D. J. & Strogatz, S. H. (1998). Collective dynamics of 'small-world' networks. Nature.
    """
    if k % 2:
        raise ValueError(f"network.k must be even for a ring lattice, got {k}")
    half = min(k // 2, n // 2)  # n // 2: with two sites and k = 2 the pair is tied (duplicates merge)
    if n < 2 or half == 0:
        return sp.csr_array((n, n))
    src = np.repeat(np.arange(n, dtype=np.int64), half)
    dst = (src + np.tile(np.arange(1, half + 1, dtype=np.int64), n)) % n
    rewire = rng.random(len(src)) < p
    dst[rewire] = rng.integers(0, n, int(rewire.sum()))
    return _binary(_sym_csr(n, src, dst))


def random_graph(n: int, degree: float, rng: np.random.Generator) -> sp.csr_array:
    """Erdős–Rényi random network with expected mean degree ``degree``, vectorised.

    The number of ties is drawn as Binomial(n(n-1)/2, p) with p = degree/(n-1), then that many site
    pairs uniformly; self-pairs are dropped and duplicates merged (negligible when sparse).

    References:
        Erdős, P. & Rényi, A. (1959). On random graphs I. Publicationes Mathematicae.
    """
    if n < 2:
        return sp.csr_array((n, n))
    p = min(1.0, degree / (n - 1))
    m = int(rng.binomial(n * (n - 1) // 2, p))
    src = rng.integers(0, n, m)
    dst = rng.integers(0, n, m)
    return _binary(_sym_csr(n, src, dst))


def _from_nx(G: nx.Graph, nodes) -> sp.csr_array:
    W = nx.to_scipy_sparse_array(G, nodelist=nodes, weight="weight", format="csr", dtype=float)
    return sp.csr_array(W)


def build(sc: Scenario, rng: np.random.Generator) -> Built:
    """Build the sites and ties the scenario asks for (raises InputError on bad files)."""
    net = sc.network
    table = read_site_table(sc) if sc.sites.file else None
    if net.type == "file":
        if not net.file:
            raise fail(sc.source, "network.file", "network.type is 'file' but no network.file is given")
        return _load_network(sc, table)
    if table is not None:
        ids = table.index.to_numpy()
        n = len(ids)
    else:
        n = sc.sites.n
        ids = np.arange(n)
    region, labels = None, None
    if net.type == "small_world":
        if net.k > n and n > 1:  # as networkx: k = n gives the complete network
            raise fail(sc.source, "network.k", f"k={net.k} must not exceed the number of sites ({n}); choose a smaller k")
        try:
            W = small_world(n, net.k, net.p, rng)
        except ValueError as err:
            raise fail(sc.source, "network.k", str(err)) from None
    elif net.type == "random":
        W = random_graph(n, net.degree, rng)
    elif net.type == "scale_free":
        if net.m >= n:
            raise fail(sc.source, "network.m", f"m={net.m} must be smaller than the number of sites ({n})")
        W = _from_nx(nx.barabasi_albert_graph(n, net.m, seed=rng), range(n))
    elif net.type == "regions":
        W, region, labels = _regions(sc, n, rng)
    elif net.type == "complete":
        if n > 20_000:
            raise fail(sc.source, "network.type", f"a complete network of {n} sites is too large (at most 20,000)")
        W = sp.csr_array(np.ones((n, n)) - np.eye(n))
    else:  # none
        W = sp.csr_array((n, n))
    return Built(ids=ids, W=W, table=table, region=region, region_labels=labels)


def _regions(sc: Scenario, n: int, rng: np.random.Generator):
    """A stochastic block model: ``regions`` blocks of equal size, or one block per group of sites
    (``regions: groups``, sizes from ``sites.groups``). Tie probabilities inside and between blocks
    are ``p_within`` and ``p_between`` when given, otherwise set so that a site has ``degree`` ties on
    average, a share ``within`` of them inside its block."""
    net = sc.network
    labels = None
    if net.regions == "groups":
        sizes_by = sc.sites.group_sizes(n)
        labels = list(sizes_by)
        sizes = list(sizes_by.values())
        if sum(sizes) != n:
            raise fail(sc.source, "sites.groups", f"group sizes add up to {sum(sizes)} but there are {n} sites")
    else:
        b = min(net.regions, n)
        sizes = [n // b + (1 if i < n % b else 0) for i in range(b)]
    b = len(sizes)
    if net.p_within is not None:
        P = [[net.p_within if i == j else net.p_between for j in range(b)] for i in range(b)]
    else:
        inside = [s - 1 for s in sizes]
        p_in = [min(1.0, net.degree * net.within / max(1, d)) for d in inside]
        outside = n - np.array(sizes)
        p_out = min(1.0, net.degree * (1 - net.within) / max(1, outside.mean())) if b > 1 else 0.0
        P = [[p_in[i] if i == j else p_out for j in range(b)] for i in range(b)]
    return block_model(sizes, P, rng), np.repeat(np.arange(b), sizes), labels


def block_model(sizes: list[int], P: list[list[float]], rng: np.random.Generator) -> sp.csr_array:
    """Stochastic block model, vectorised: each pair of sites in blocks ``i`` and ``j`` is tied with
    probability ``P[i][j]``, independently.

    For each pair of blocks the number of ties is drawn from its binomial distribution, then that
    many distinct pairs are drawn uniformly (exactly, without replacement, up to 20 million possible
    pairs; beyond that with replacement and duplicates merged, a negligible difference in sparse
    networks). networkx's generator loops over pairs in Python: minutes at 100,000 sites.

    References:
        Holland, P. W., Laskey, K. B. & Leinhardt, S. (1983). Stochastic blockmodels: first steps. Social Networks.
    """
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(starts[-1])
    src, dst = [], []
    for i, si in enumerate(sizes):
        for j in range(i, len(sizes)):
            p = float(P[i][j])
            sj = sizes[j]
            pairs = si * (si - 1) // 2 if i == j else si * sj
            if p <= 0 or pairs == 0:
                continue
            m = int(rng.binomial(pairs, min(p, 1.0)))
            if m == 0:
                continue
            k = rng.choice(pairs, m, replace=False) if pairs <= 20_000_000 else rng.integers(0, pairs, m)
            if i == j:  # k-th pair (a < b) of the block, in row order
                a = (np.floor((np.sqrt(8.0 * k + 1) - 1) / 2)).astype(np.int64) + 1
                fix = a * (a - 1) // 2 > k
                a[fix] -= 1
                b = k - a * (a - 1) // 2
                src.append(starts[i] + a)
                dst.append(starts[i] + b)
            else:
                src.append(starts[i] + k // sj)
                dst.append(starts[j] + k % sj)
    if not src:
        return sp.csr_array((n, n))
    return _binary(_sym_csr(n, np.concatenate(src), np.concatenate(dst)))


# ------------------------------------------------------------------------------------ file input
def read_site_table(sc: Scenario) -> pd.DataFrame:
    """Read the site table CSV: a unique ``site`` column plus known trait columns and ``group``."""
    path = sc.resolve_path(sc.sites.file)
    df = _read_csv(path)
    if "site" not in df.columns:
        raise fail(str(path), "site", f"the site table needs a 'site' column (found: {', '.join(df.columns)})")
    df["site"] = df["site"].astype(str).str.strip()
    if (df["site"] == "").any() or df["site"].isin(["nan", "None"]).any():
        rows = (np.flatnonzero((df["site"] == "") | df["site"].isin(["nan", "None"])) + 2).tolist()
        raise fail(str(path), "site", f"empty site id on line(s) {rows[:5]}")
    dup = df["site"][df["site"].duplicated()].unique().tolist()
    if dup:
        raise fail(str(path), "site", f"duplicate site ids: {', '.join(map(str, dup[:5]))}")
    problems = []
    out = pd.DataFrame(index=pd.Index(df["site"].to_numpy(), name="site"))
    for col in df.columns:
        if col == "site":
            continue
        if col == "group":
            out["group"] = df["group"].astype(str).to_numpy()
            continue
        if col not in TRAIT_RANGES:
            continue  # other columns are kept out of the model but allowed (documentation, ids...)
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() & df[col].notna()
        if bad.any():
            problems.append(Problem(str(path), col, f"not a number on line(s) {(np.flatnonzero(bad) + 2).tolist()[:5]}"))
            continue
        lo, hi, _ = TRAIT_RANGES[col]
        out_of = (vals < lo) | (vals > hi)
        if out_of.any():
            problems.append(Problem(str(path), col, f"values must lie in [{lo:g}, {hi:g}]; line(s) {(np.flatnonzero(out_of) + 2).tolist()[:5]}"))
            continue
        out[col] = vals.to_numpy(dtype=float)  # NaN = draw from the scenario's distribution
    if problems:
        raise InputError(problems)
    return out


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise fail(str(path), "", "file not found")
    try:
        return pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise fail(str(path), "", f"cannot read as CSV: {str(err).strip()}") from None


def _load_network(sc: Scenario, table: pd.DataFrame | None) -> Built:
    path = sc.resolve_path(sc.network.file)
    directed = sc.network.directed
    if path.suffix.lower() in (".graphml", ".xml"):
        src, dst, w, nodes = _read_graphml(path)
    else:
        src, dst, w = _read_edges(path)
        nodes = None
    if table is not None:
        ids = table.index.to_numpy()
        known = set(ids.tolist())
        missing = sorted({s for s in np.concatenate([src, dst]).tolist() if s not in known})
        if missing:
            raise fail(str(path), "source/target",
                       f"edges name sites absent from the site table {sc.sites.file}: {', '.join(missing[:5])}"
                       + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
    else:
        # sites in order of first appearance (GraphML: in node order, isolated nodes included)
        ids = np.array(nodes if nodes is not None else list(dict.fromkeys(np.concatenate([src, dst]).tolist())), dtype=object)
    index = pd.Index(ids)
    if len(ids) == 0:
        raise fail(str(path), "", "the network has no sites")
    i = index.get_indexer(src)
    j = index.get_indexer(dst)
    W = _sym_csr(len(ids), i, j, w, directed=directed)
    return Built(ids=ids, W=W, table=table)


def _read_edges(path: Path):
    df = _read_csv(path)
    cols = [c.strip() for c in df.columns]
    df.columns = cols
    missing = [c for c in ("source", "target") if c not in cols]
    if missing:
        raise fail(str(path), ", ".join(missing), f"the edge list needs columns 'source' and 'target' (found: {', '.join(cols) or 'none'})")
    problems = []
    blank = df["source"].isna() | df["target"].isna()
    if blank.any():
        problems.append(Problem(str(path), "source/target", f"empty site id on line(s) {(np.flatnonzero(blank) + 2).tolist()[:5]}"))
    if "weight" in df.columns:
        w = pd.to_numeric(df["weight"], errors="coerce")
        bad = w.isna()
        if bad.any():
            problems.append(Problem(str(path), "weight", f"not a number on line(s) {(np.flatnonzero(bad) + 2).tolist()[:5]}"))
        elif (w < 0).any():
            problems.append(Problem(str(path), "weight", f"negative weight on line(s) {(np.flatnonzero(w < 0) + 2).tolist()[:5]}"))
        w = w.to_numpy(float)
    else:
        w = np.ones(len(df))
    if problems:
        raise InputError(problems)
    src = df["source"].astype(str).str.strip().to_numpy(dtype=object)
    dst = df["target"].astype(str).str.strip().to_numpy(dtype=object)
    return src, dst, w


def _read_graphml(path: Path):
    if not path.exists():
        raise fail(str(path), "", "file not found")
    try:
        G = nx.read_graphml(path)
    except Exception as err:  # networkx raises many parser error types for malformed XML
        raise fail(str(path), "", f"cannot read as GraphML: {err}") from None
    nodes = [str(v) for v in G.nodes]
    src, dst, w = [], [], []
    for a, b, data in G.edges(data=True):
        try:
            weight = float(data.get("weight", 1.0))
        except (TypeError, ValueError):
            raise fail(str(path), "weight", f"edge {a}-{b}: weight is not a number") from None
        if weight < 0:
            raise fail(str(path), "weight", f"edge {a}-{b}: negative weight")
        src.append(str(a))
        dst.append(str(b))
        w.append(weight)
    return np.array(src, dtype=object), np.array(dst, dtype=object), np.array(w, float), nodes
