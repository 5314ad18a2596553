"""A fast, reproducible 2-D layout of the site network, computed once per network.

networkx's ``spring_layout`` takes seconds at 2,000 sites (its repulsion is all pairs) and Mesa's
``discrete_space.Network`` computes one at construction; the app instead uses a force-directed
layout whose repulsion is estimated from a few randomly drawn sites per site and per iteration
(negative sampling, as in LargeVis: Tang, Liu, Zhang & Mei, "Visualizing large-scale and
high-dimensional data", WWW 2016), with Fruchterman & Reingold's forces ("Graph drawing by
force-directed placement", Software: Practice and Experience 1991) and a spectral start
(eigenvectors of the normalised Laplacian, so that clusters and rings start in place). Each
iteration is O(ties + sites), so 2,000 sites take a fraction of a second.

Layouts are cached by the network's structure, so stepping, resetting with the same network and
redrawing never recompute them.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as sla

#: ties used for the attraction forces at most (a complete network of 2,000 sites has 2 million)
MAX_LAYOUT_TIES = 40_000
_CACHE: OrderedDict[str, np.ndarray] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = threading.Lock()


def _undirected_pairs(W: sp.sparray, rng: np.random.Generator, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """Each tie once (i < j), ignoring direction and weight; a random ``cap`` of them if more."""
    A = sp.csr_array(W, dtype=float)
    A = sp.triu(A + A.T, k=1).tocoo()
    i, j = A.row.astype(np.int64), A.col.astype(np.int64)
    if len(i) > cap:
        keep = np.sort(rng.choice(len(i), cap, replace=False))
        i, j = i[keep], j[keep]
    return i, j


def _spectral(n: int, i: np.ndarray, j: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
    """Two smallest non-trivial eigenvectors of the normalised Laplacian (None if not computable)."""
    if len(i) == 0 or n < 5:
        return None
    A = sp.coo_array((np.ones(2 * len(i)), (np.r_[i, j], np.r_[j, i])), shape=(n, n)).tocsr()
    deg = np.asarray(A.sum(axis=1)).ravel()
    d = 1.0 / np.sqrt(np.maximum(deg, 1.0))
    # the largest eigenvalues of D^-1/2 A D^-1/2 are the smallest of the Laplacian; no factorisation
    M = sp.diags_array(d) @ A @ sp.diags_array(d)
    try:
        vals, vecs = sla.eigsh(M, k=3, which="LA", v0=rng.random(n), maxiter=2000, tol=1e-4)
    except (sla.ArpackNoConvergence, ValueError, RuntimeError):
        return None
    order = np.argsort(vals)[::-1]
    pos = vecs[:, order[1:3]] * d[:, None]
    if not np.all(np.isfinite(pos)) or np.ptp(pos, axis=0).min() <= 0:
        return None
    return pos


def _sunflower(n: int) -> np.ndarray:
    """Sites spread evenly over a disc (Vogel's spiral): the layout of a network without ties."""
    k = np.arange(n) + 0.5
    r = np.sqrt(k / n)
    theta = k * np.pi * (3.0 - np.sqrt(5.0))
    return np.column_stack([r * np.cos(theta), r * np.sin(theta)])


def compute_layout(W: sp.sparray, seed: int = 0, iterations: int = 200, samples: int = 8) -> np.ndarray:
    """Force-directed positions for the sites of ``W`` (no cache; see :func:`network_layout`).

    Args:
        W: the adjacency matrix (n x n); direction and weights are ignored.
        seed: seed of the layout's own random generator (global random state is never touched).
        iterations: iterations of the force simulation (the step size cools linearly).
        samples: sites drawn per site and iteration to estimate the repulsion.

    Returns:
        An (n, 2) array of positions in [-1, 1].
    """
    n = W.shape[0]
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((0, 2))
    if n == 1:
        return np.zeros((1, 2))
    i, j = _undirected_pairs(W, rng, MAX_LAYOUT_TIES)
    if len(i) == 0:
        return _sunflower(n)
    pos = _spectral(n, i, j, rng)
    if pos is None:
        pos = rng.random((n, 2))
    pos = pos - pos.mean(axis=0)
    pos /= np.abs(pos).max() + 1e-12
    pos += rng.normal(0.0, 0.01, pos.shape)  # break ties between sites with identical neighbourhoods
    k = 2.0 / np.sqrt(n)  # ideal distance: n sites share a box of area 4
    scale = n / samples
    t0 = 0.2
    for it in range(iterations):
        step = t0 * (1.0 - it / iterations) + 1e-3
        disp = np.zeros((n, 2))
        d = pos[i] - pos[j]
        dist = np.sqrt((d * d).sum(axis=1)) + 1e-9
        fa = d * (dist / k)[:, None]  # attraction dist^2 / k along each tie
        for c in (0, 1):
            disp[:, c] += np.bincount(j, fa[:, c], n) - np.bincount(i, fa[:, c], n)
        others = rng.integers(0, n, (n, samples))
        dd = pos[:, None, :] - pos[others]
        d2 = (dd * dd).sum(axis=2) + (0.01 * k) ** 2
        disp += (dd * (k * k / d2)[..., None]).sum(axis=1) * scale  # repulsion k^2 / dist
        disp -= pos * (0.02 * n * k)  # gravity keeps loose parts and isolated sites in the frame
        length = np.sqrt((disp * disp).sum(axis=1)) + 1e-12
        pos += disp * (np.minimum(length, step) / length)[:, None]
    pos = pos - (pos.max(axis=0) + pos.min(axis=0)) / 2
    return pos / (np.abs(pos).max() + 1e-12)


def network_key(W: sp.sparray) -> str:
    """A hash of the network's structure (which sites are tied), for the layout cache."""
    A = sp.csr_array(W)
    h = hashlib.sha1()
    h.update(np.asarray(A.shape, np.int64).tobytes())
    h.update(np.ascontiguousarray(A.indptr, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(A.indices, dtype=np.int64).tobytes())
    return h.hexdigest()


def network_layout(W: sp.sparray, seed: int = 0) -> np.ndarray:
    """Positions of the sites of ``W``, computed once per network structure and cached.

    Args:
        W: the adjacency matrix (n x n).
        seed: seed of the layout (the same network and seed give the same picture).

    Returns:
        An (n, 2) array of positions in [-1, 1] (a read-only view of the cached array).
    """
    key = f"{network_key(W)}:{seed}"
    with _LOCK:
        pos = _CACHE.get(key)
        if pos is not None:
            _CACHE.move_to_end(key)
            return pos
    pos = compute_layout(W, seed=seed)
    pos.setflags(write=False)
    with _LOCK:
        _CACHE[key] = pos
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return pos
