"""Classic models as exact special cases: Bass diffusion and the linear-threshold model."""

import networkx as nx
import numpy as np
import pytest

from simulation import load_scenario, run
from simulation.model import FULL, SpreadModel
from simulation.processes import delivery, support, transitions, workforce

from .conftest import SCENARIOS

P, Q = 0.03 / 12, 0.38 / 12


def bass_discrete(months: int, p=P, q=Q) -> np.ndarray:
    F = np.zeros(months + 1)
    for t in range(months):
        F[t + 1] = F[t] + (1 - F[t]) * (p + q * F[t])
    return F


def bass_closed(t, p=P, q=Q):
    e = np.exp(-(p + q) * t)
    return (1 - e) / (1 + (q / p) * e)


@pytest.fixture(scope="module")
def bass_runs():
    sc = load_scenario(SCENARIOS / "classic" / "bass.yaml")
    assert sc.logics.mechanical.push == pytest.approx(P) and sc.logics.social.q == pytest.approx(Q)
    shares = np.array([run(sc, seed=s, agents=False).timeseries["adopted_share"].to_numpy() for s in range(20)])
    return sc, shares


def test_bass_follows_discrete_recursion(bass_runs):
    sc, shares = bass_runs
    mean = shares.mean(axis=0)
    expected = bass_discrete(sc.months)
    # Monte Carlo error of a mean of 20 runs of 2,000 sites: sd(F) <= 0.5/sqrt(2000) per run, and
    # the feedback through qF at most doubles it, so SE <= 2 * 0.011 / sqrt(20) = 0.005; allow 4 SE.
    se = shares.std(axis=0, ddof=1) / np.sqrt(len(shares))
    assert np.all(np.abs(mean - expected) <= 4 * np.maximum(se, 0.005 / 4) + 1e-9)
    assert abs(mean[-1] - expected[-1]) < 0.02


def test_bass_matches_closed_form_within_discretisation(bass_runs):
    sc, shares = bass_runs
    t = np.arange(sc.months + 1)
    closed = bass_closed(t)
    disc = bass_discrete(sc.months)
    gap = np.max(np.abs(disc - closed))  # monthly steps against continuous time
    assert gap < 0.01
    assert np.max(np.abs(shares.mean(axis=0) - closed)) < gap + 0.02


def test_bass_hazard_is_exactly_p_plus_qF():
    """With additive combination the monthly hazard is p + qF, not 1 - (1-p)(1-qF)."""
    sc = load_scenario(SCENARIOS / "classic" / "bass.yaml")
    m = SpreadModel(sc, seed=3, agents=False)
    for _ in range(30):
        m.step()
    support.allocate(m, sc)
    workforce.step(m, sc)
    delivery.step(m, sc)
    m._neighbours(sc)
    engage, _, _ = transitions.pressures(m, sc)
    programme, counterfactual = m.block_slice(0), m.block_slice(1)
    F = m.adopted_share_b
    waiting = m.stage[programme] == 0
    assert np.allclose(engage[programme][waiting], P + Q * F[0], rtol=0, atol=1e-15)
    # the no-programme arm on the same random numbers: imitation alone, no external push
    waiting = m.stage[counterfactual] == 0
    assert np.allclose(engage[counterfactual][waiting], Q * F[1], rtol=0, atol=1e-15)


def reference_threshold(G: nx.Graph, seeds: set, threshold: dict, months: int) -> list[int]:
    """Granovetter/Watts linear threshold, synchronous, written independently with networkx."""
    adopted = set(seeds)
    counts = [len(adopted)]
    for _ in range(months):
        new = set()
        for v in G.nodes:
            if v in adopted or G.degree(v, weight="weight") == 0:
                continue
            share = sum(d.get("weight", 1.0) for u, d in G[v].items() if u in adopted) / G.degree(v, weight="weight")
            if share >= threshold[v]:
                new.add(v)
        adopted |= new
        counts.append(len(adopted))
    return counts, adopted


@pytest.mark.parametrize("net", [{"network.type": "random", "network.degree": 4},
                                 {"network.type": "small_world", "network.k": 4, "network.p": 0.2},
                                 {"network.type": "scale_free", "network.m": 2}])
def test_threshold_is_exact(net):
    sc = load_scenario(SCENARIOS / "classic" / "threshold.yaml", overrides={"sites.n": 400, **net})
    res = run(sc, seed=11, agents=False)
    m = res.model
    sl = m.block_slice(0)  # the run's own sites (a counterfactual arm, if any, follows them)
    G = nx.from_scipy_sparse_array(m.W[sl, sl])
    seeds = set(np.flatnonzero(res.sites["adopted_month"].fillna(-1).to_numpy() == 0).tolist())
    counts, adopted = reference_threshold(G, seeds, dict(enumerate(m.threshold[sl])), sc.months)
    assert res.timeseries["adopted"].tolist() == counts
    assert set(np.flatnonzero(m.stage[sl] == FULL).tolist()) == adopted
    assert len(adopted) > len(seeds)  # a cascade actually happened


def test_threshold_isolated_sites_never_adopt():
    sc = load_scenario(SCENARIOS / "classic" / "threshold.yaml",
                       overrides={"sites.n": 50, "network.type": "none",
                                  "sites.traits.threshold": {"dist": "constant", "value": 0.0}})
    res = run(sc, seed=1, agents=False)
    assert res.timeseries["adopted"].tolist() == [10] * (sc.months + 1)


def test_threshold_is_deterministic_given_network_and_thresholds():
    sc = load_scenario(SCENARIOS / "classic" / "threshold.yaml", overrides={"sites.n": 300})
    a = run(sc, seed=5, agents=False).timeseries
    b = run(sc, seed=5, agents=False).timeseries
    assert a.equals(b)
