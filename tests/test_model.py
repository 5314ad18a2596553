"""The model: invariants over random valid scenarios, and each mechanism behaving as its source says."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import SpreadModel, run
from simulation.model import DECLINED, DISCONTINUED, EXPLORATION, FULL, INITIAL, INSTALLATION, STAGES
from simulation.scenario import default_scenario

MECH_ONLY = {"logics.ecological.enabled": False, "logics.social.enabled": False}


def sc(**ov):
    return default_scenario(**ov)


def mean_over_seeds(scenario, fn, seeds=range(8)):
    return float(np.mean([fn(run(scenario, seed=s, agents=False)) for s in seeds]))


# ------------------------------------------------------------------------------------ invariants
scenario_overrides = st.fixed_dictionaries({
    "sites.n": st.integers(4, 60),
    "months": st.integers(1, 30),
    "network.type": st.sampled_from(["small_world", "scale_free", "random", "regions", "complete", "none"]),
    "network.k": st.sampled_from([0, 2]),
    "pipeline": st.sampled_from(["staged", "instant"]),
    "logics.combine": st.sampled_from(["independent", "additive"]),
    "logics.mechanical.enabled": st.booleans(),
    "logics.ecological.enabled": st.booleans(),
    "logics.social.enabled": st.booleans(),
    "logics.social.rule": st.sampled_from(["influence", "threshold", "bass"]),
    "logics.social.weight": st.floats(0, 1),
    "strategy.seeding.rule": st.sampled_from(["random", "most_ready", "most_central", "opinion_leaders"]),
    "strategy.seeding.n": st.integers(0, 2),
    "strategy.support.capacity": st.one_of(st.none(), st.integers(0, 10)),
    "strategy.support.funding_months": st.one_of(st.none(), st.integers(0, 20)),
    "strategy.waves.every": st.integers(0, 6),
    "strategy.train_the_trainer.enabled": st.booleans(),
    "strategy.train_the_trainer.after": st.integers(0, 6),
    "strategy.assurance.interval": st.integers(0, 6),
    "strategy.adaptation": st.sampled_from(["strict", "permitted", "free"]),
    "strategy.collaborative.enabled": st.booleans(),
    "strategy.collaborative.start": st.integers(0, 10),
    "strategy.replication_package": st.floats(0, 1),
    "forces.concurrent_initiatives": st.integers(0, 8),
    "forces.reentry_delay": st.integers(0, 6),
    "shocks.rate": st.floats(0, 0.5),
    "stages.exploration": st.integers(0, 3),
    "stages.initial": st.integers(0, 6),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_overrides, st.integers(0, 2**32 - 1))
def test_invariants(ov, seed):
    s = sc(**ov)
    res = run(s, seed=seed)
    ts, m = res.timeseries, res.model
    n = m.n
    assert len(ts) == s.months + 1
    assert (ts[list(STAGES)].sum(axis=1) == n).all()
    assert (ts["adopted"] == ts["initial"] + ts["full"]).all()
    assert ts["adopted_share"].between(0, 1).all()
    assert (ts["reach"] <= m.size.sum() + 1e-6).all()
    assert (np.diff(ts["support_used"]) >= 0).all()
    for arr in (m.fidelity, m.competence, m.adaptation, m.fatigue, m.fit_eff):
        assert np.all((arr >= 0) & (arr <= 1))
    assert np.all((m.stage >= 0) & (m.stage < len(STAGES)))
    assert np.all(m.adopted_month <= s.months) and np.all(m.champions >= 0)
    if s.pipeline == "instant":
        assert (ts[["exploration", "installation", "initial"]] == 0).all().all()
    assert len(m.agents) == n
    again = run(s, seed=seed)
    assert again.timeseries.equals(ts) and again.sites.equals(res.sites)


def test_different_seeds_differ():
    s = sc(**{"sites.n": 200})
    assert not run(s, seed=1).timeseries.equals(run(s, seed=2).timeseries)


def test_agents_are_views_of_the_arrays():
    res = run(sc(**{"sites.n": 40, "months": 30}), seed=4)
    m = res.model
    assert len(m.agents) == 40
    for agent in m.agents:
        i = agent.index
        assert agent.stage == STAGES[m.stage[i]]
        assert agent.fidelity == m.fidelity[i] and agent.capacity == m.capacity[i]
        assert [nb.index for nb in agent.neighbours] == m.W.indices[m.W.indptr[i]:m.W.indptr[i + 1]].tolist()
    adopters = m.agents.select(lambda a: a.adopted)
    assert len(adopters) == int(res.timeseries["adopted"].iloc[-1])


# ------------------------------------------------------------------------------------ mechanisms
def test_more_support_capacity_never_lowers_adoption_under_mechanical_logic():
    means = [mean_over_seeds(sc(**MECH_ONLY, **{"sites.n": 150, "months": 60, "strategy.support.capacity": c}),
                             lambda r: r.summary["adopted_share"]) for c in (0, 5, 15, 40, None)]
    assert all(b >= a - 0.01 for a, b in zip(means, means[1:])), means
    assert means[-1] > means[0] + 0.2


def test_higher_turnover_lowers_competence():
    def competence(turnover):
        s = sc(**{"sites.n": 200, "months": 60, "sites.traits.turnover": {"dist": "constant", "value": turnover}})
        return mean_over_seeds(s, lambda r: r.sites.loc[r.sites["stage"].isin(["initial", "full"]), "competence"].mean())

    assert competence(0.4) < competence(0.1) - 0.02


def test_replication_package_protects_competence():
    def competence(pkg):
        s = sc(**{"sites.n": 200, "months": 60, "strategy.replication_package": pkg,
                  "sites.traits.turnover": {"dist": "constant", "value": 0.4}})
        return mean_over_seeds(s, lambda r: r.model.competence[r.model.using].mean())

    assert competence(0.9) > competence(0.0) + 0.02


def test_assurance_reduces_drift():
    def fidelity(interval):
        s = sc(**{"sites.n": 200, "months": 80, "strategy.assurance.interval": interval, "forces.drift": 0.05})
        return mean_over_seeds(s, lambda r: r.summary["mean_fidelity"])

    assert fidelity(3) > fidelity(0) + 0.05


def test_support_ends_with_funding_unless_trainers_carry_on():
    base = {"sites.n": 200, "months": 60, "strategy.support.funding_months": 30}
    ts = run(sc(**base), seed=1).timeseries
    assert ts.loc[ts.month <= 30, "supported"].max() > 0 and (ts.loc[ts.month > 30, "supported"] == 0).all()
    ttt = run(sc(**base, **{"strategy.train_the_trainer.enabled": True, "strategy.train_the_trainer.after": 0}), seed=1).timeseries
    assert ttt["trainers"].max() > 0 and ttt.loc[ttt.month > 30, "supported"].max() > 0


def test_train_the_trainer_extends_capacity():
    s = {"sites.n": 300, "months": 60, "strategy.support.capacity": 10, **MECH_ONLY}
    plain = run(sc(**s), seed=2).timeseries
    cascade = run(sc(**s, **{"strategy.train_the_trainer.enabled": True, "strategy.train_the_trainer.after": 3}), seed=2).timeseries
    assert plain["supported"].max() <= 10 < cascade["supported"].max()


def test_collaboratives_add_lateral_ties():
    s = sc(**{"sites.n": 100, "months": 20, "strategy.collaborative.enabled": True, "strategy.collaborative.start": 5,
              "strategy.collaborative.members": "all", "strategy.collaborative.size": 10, "network.type": "none"})
    m = SpreadModel(s, seed=1)
    for _ in range(4):
        m.step()
    assert m.W.nnz == 0
    m.step()
    assert m.W.nnz == 100 * 9 and (m.degree == 9).all()


def test_change_fatigue_and_low_legitimacy_slow_social_spread():
    social = {"sites.n": 300, "months": 60, "logics.mechanical.enabled": False, "logics.ecological.enabled": False,
              "strategy.seeding.n": 20}
    base = mean_over_seeds(sc(**social), lambda r: r.summary["adopted_share"])
    tired = mean_over_seeds(sc(**social, **{"forces.concurrent_initiatives": 5}), lambda r: r.summary["adopted_share"])
    top_down = mean_over_seeds(sc(**social, **{"logics.social.legitimacy": 0.2}), lambda r: r.summary["adopted_share"])
    assert tired < base - 0.03 and top_down < base - 0.03


def test_adaptation_policy_trades_fidelity_for_fit():
    def outcome(policy):
        s = sc(**{"sites.n": 200, "months": 80, "strategy.adaptation": policy})
        return (mean_over_seeds(s, lambda r: r.summary["mean_fidelity"]),
                mean_over_seeds(s, lambda r: float(r.model.fit_eff[r.model.adopted].mean() - r.model.fit[r.model.adopted].mean())))

    (f_strict, g_strict), (f_free, g_free) = outcome("strict"), outcome("free")
    assert f_strict > f_free and g_free > g_strict


def test_shock_hits_sites_with_low_adaptive_capability():
    s = sc(**{"sites.n": 300, "months": 40, "shocks.months": [30], "shocks.severity": 1.0,
              "strategy.seeding.n": 100, "strategy.seeding.stage": "full"})
    ts = run(s, seed=3).timeseries
    jump = ts["discontinued"].iloc[30] - ts["discontinued"].iloc[29]
    usual = ts["discontinued"].diff().iloc[20:29].max()
    assert jump > max(10, 3 * usual)


def test_losing_the_only_champion_pushes_sites_back():
    def full_share(fallback):
        s = sc(**{"sites.n": 200, "months": 60, "forces.fallback": fallback, "forces.champion_recruit": 0.0,
                  "strategy.replication_package": 0.0, "sites.traits.champions": {"dist": "constant", "value": 1},
                  "sites.traits.turnover": {"dist": "constant", "value": 0.5}, "strategy.seeding.n": 100})
        return mean_over_seeds(s, lambda r: r.timeseries["full"].iloc[-1] / 200)

    assert full_share(1.0) < full_share(0.0) - 0.02


def test_waves_limit_who_is_invited():
    s = sc(**MECH_ONLY, **{"sites.n": 100, "months": 11, "strategy.waves.every": 12, "strategy.waves.size": 10,
                           "strategy.support.capacity": None, "strategy.seeding.n": 0, "forces.reentry": 0.0})
    m = run(s, seed=1).model
    engaged = np.flatnonzero(m.stage != 0)
    assert len(engaged) > 0 and set(m.rank[engaged]) <= set(range(10))


@pytest.mark.parametrize("rule,score", [("most_central", "degree"), ("opinion_leaders", "prestige"),
                                        ("most_ready", None)])
def test_seeding_rules_pick_the_top_sites(rule, score):
    s = sc(**{"sites.n": 200, "months": 1, "strategy.seeding.rule": rule, "strategy.seeding.n": 10,
              "network.type": "scale_free", "sites.traits.prestige": {"dist": "beta", "a": 2, "b": 2}})
    m = SpreadModel(s, seed=1, agents=False)
    seeds = np.flatnonzero(m.stage == FULL)
    values = {"degree": m.degree, "prestige": m.prestige, None: (m.capacity + m.leadership + m.fit) / 3}[score]
    assert len(seeds) == 10 and values[seeds].min() >= np.sort(values)[-10]


def test_seeding_by_group():
    s = sc(**{"sites.n": 100, "months": 1, "sites.groups": {"rural": 0.3, "urban": 0.7},
              "strategy.seeding.rule": "by_group", "strategy.seeding.group": "rural", "strategy.seeding.n": 10})
    m = SpreadModel(s, seed=1, agents=False)
    assert set(m.group[m.stage == FULL]) == {"rural"}


def test_stages_and_reentry_are_all_visited():
    s = sc(**{"sites.n": 300, "months": 120, "forces.reentry_delay": 6, "forces.reentry": 1.0})
    m = SpreadModel(s, seed=5, agents=False)
    seen = np.zeros(len(STAGES), bool)
    reentered = False
    for _ in range(120):
        before = m.stage.copy()
        m.step()
        seen[m.stage] = True
        reentered |= bool(((before >= DECLINED) & (m.stage == EXPLORATION)).any())
    assert seen.all() and reentered


def test_staged_pipeline_moves_one_stage_at_a_time():
    m = SpreadModel(sc(**{"sites.n": 200, "months": 60}), seed=2, agents=False)
    allowed = {(0, 1), (1, 2), (2, 3), (3, 4), (1, 5), (2, 5), (3, 6), (4, 6), (5, 1), (6, 1), (4, 3), (3, 2)}
    for _ in range(60):
        before = m.stage.copy()
        m.step()
        moved = before != m.stage
        pairs = set(zip(before[moved].tolist(), m.stage[moved].tolist()))
        assert pairs <= allowed, pairs - allowed


def test_full_needs_minimum_time_in_stages():
    s = sc(**{"sites.n": 200, "months": 40, "strategy.seeding.n": 0})
    m = run(s, seed=1).model
    first = m.adopted_month[m.adopted_month >= 0]
    assert first.size and first.min() >= 1 + s.stages.exploration + s.stages.installation


# ---------------------------------------------------------------------------------------- batches
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario_overrides, st.lists(st.integers(0, 10**6), min_size=1, max_size=4, unique=True))
def test_batch_equals_single_runs(ov, seeds):
    from simulation.runner import run_batch

    s = sc(**ov)
    for single, batched in zip([run(s, seed=x, agents=False) for x in seeds], run_batch(s, seeds)):
        assert batched.timeseries.equals(single.timeseries)
        assert batched.sites.equals(single.sites)
        assert batched.summary.keys() == single.summary.keys()
        for k, v in single.summary.items():
            assert (np.isnan(v) and np.isnan(batched.summary[k])) or v == batched.summary[k]


def test_batch_of_demo_scenario_is_bit_identical(root):
    from simulation import load_scenario
    from simulation.runner import run_batch

    s = load_scenario(root / "scenarios" / "demo.yaml")
    batch = run_batch(s, [11, 12, 13])
    for r in batch:
        assert r.timeseries.equals(run(s, seed=r.seed).timeseries)
