"""Named random streams (simulation/rng.py) and the common random numbers they promise.

rng.py's claim: each process draws from its own stream, derived from the run's seed and the
process's name, so switching a mechanism on or off does not shift the draws of the others. The
property tests here check that claim on the draws themselves, not only on the outputs: every
stream is wrapped in a recording generator (every call's name, arguments' shapes and values, per
seed and stream name), and switching one mechanism off must leave every other stream's record
identical.
"""

from collections import defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulation import rng as rng_mod
from simulation.rng import Streams
from simulation.runner import run
from simulation.scenario import default_scenario

NO_CF = {"outcomes.counterfactual": False}


# ------------------------------------------------------------------------------- the streams
def test_a_named_stream_is_made_once_and_decided_by_the_seed_and_the_name():
    """rng.Streams: streams[name] is the same Generator on every use; its draws depend only on (seed, name)."""
    s = Streams(7)
    assert s["turnover"] is s["turnover"]
    a = Streams(7)["turnover"].random(5)
    assert np.array_equal(a, Streams(7)["turnover"].random(5))
    assert not np.array_equal(a, Streams(8)["turnover"].random(5))
    assert not np.array_equal(a, Streams(7)["transitions"].random(5))
    # creating or using other streams first does not change a stream's draws
    t = Streams(7)
    t["shocks"].random(100)
    t["network"].random(3)
    assert np.array_equal(a, t["turnover"].random(5))


def test_the_stream_of_a_name_is_spawned_from_the_seed_with_the_crc32_of_the_name():
    """rng.Streams: stream = PCG64(SeedSequence(seed, spawn_key=(crc32(name),))) - the documented derivation,
    pinned so that a change to it (which changes every stored result) is deliberate."""
    import zlib

    want = np.random.Generator(np.random.PCG64(np.random.SeedSequence(11, spawn_key=(zlib.crc32(b"shocks"),))))
    assert np.array_equal(Streams(11)["shocks"].random(4), want.random(4))
    assert np.array_equal(Streams(11).root.random(4), np.random.Generator(np.random.PCG64(np.random.SeedSequence(11))).random(4))


def test_a_negative_seed_is_refused():
    """rng.Streams: seeds are non-negative integers."""
    with pytest.raises(ValueError, match="non-negative"):
        Streams(-1)
    assert Streams(0).seed == 0


def test_streams_never_touch_global_random_state():
    """rng.py: global random state is never touched by a run."""
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    run(default_scenario(**{"sites.n": 20, "months": 5}), seed=1)
    assert np.array_equal(np.random.get_state()[1], before)


# ------------------------------------------------------------------------ recording the draws
class _Recorder(np.random.Generator):
    """A Generator that records every draw: (method, values) appended to ``log[(seed, stream name)]``."""


def _recording(name, method):
    def wrapped(self, *args, **kwargs):
        out = method(self, *args, **kwargs)
        if name == "shuffle":
            value = np.array(args[0], copy=True)
        else:
            value = np.array(out, copy=True)
        self._log.append((name, value))
        return out

    wrapped.__name__ = name
    return wrapped


for _name in dir(np.random.Generator):
    _attr = getattr(np.random.Generator, _name)
    if not _name.startswith("_") and callable(_attr) and _name not in ("spawn",):
        setattr(_Recorder, _name, _recording(_name, _attr))


@pytest.fixture
def record(monkeypatch):
    """Instrument rng.Streams: every named stream records its draws into the returned dict
    ``{(seed, name): [(method, values), ...]}``; blocks with the same seed (a counterfactual arm)
    append to the same record, in order."""
    log = defaultdict(list)

    def getitem(self, name):
        gen = self._streams.get(name)
        if gen is None:
            seq = np.random.SeedSequence(self._seq.entropy, spawn_key=(rng_mod._key(name),))
            gen = _Recorder(np.random.PCG64(seq))
            gen._log = log[(self.seed, name)]
            self._streams[name] = gen
        return gen

    monkeypatch.setattr(Streams, "__getitem__", getitem)
    return log


def draws(log):
    """The record as comparable values: {(seed, name): [(method, bytes of the values)]}."""
    return {k: [(meth, v.dtype.str, v.shape, v.tobytes()) for meth, v in calls] for k, calls in log.items() if calls}


def run_recorded(log, scenario, seed):
    log.clear()
    r = run(scenario, seed=seed, agents=False)
    return draws(log), r


#: mechanisms switched off one at a time: (overrides that switch it off, the streams it owns)
MECHANISMS = {
    "turnover": ({"workforce.turnover": False}, {"turnover"}),
    "shocks": ({"shocks.rate": 0.0, "shocks.months": []}, {"shocks"}),
    "collaborative": ({"strategy.collaborative.enabled": False}, {"collaborative"}),
    "mechanical": ({"logics.mechanical.enabled": False}, set()),
    "ecological": ({"logics.ecological.enabled": False}, set()),
    "social": ({"logics.social.enabled": False}, set()),
    "train_the_trainer": ({"strategy.train_the_trainer.enabled": False}, set()),
    "assurance": ({"strategy.assurance.interval": 0}, set()),
    "replication_package": ({"strategy.replication_package": 0.0}, set()),
    "programme_support": ({"strategy.support.capacity": 0}, set()),
}

#: everything on: every stream in use (collaboratives of all sites, so that their draws do not
#: depend on which sites happen to be engaged)
ALL_ON = {"shocks.rate": 0.1, "shocks.months": [4], "shocks.severity": 0.5, "shocks.funding_cut": 0.2,
          "strategy.collaborative.enabled": True, "strategy.collaborative.start": 2,
          "strategy.collaborative.members": "all", "strategy.train_the_trainer.enabled": True,
          "strategy.train_the_trainer.after": 0, "strategy.assurance.interval": 3, "strategy.replication_package": 0.5,
          "strategy.adaptation": "permitted"}


@pytest.mark.parametrize("mechanism", sorted(MECHANISMS))
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10**6), n=st.integers(10, 40), months=st.integers(3, 18),
       network=st.sampled_from(["small_world", "scale_free", "random", "complete", "none"]),
       rule=st.sampled_from(["influence", "threshold", "bass"]))
def test_switching_one_mechanism_off_leaves_every_other_streams_draws_unchanged(record, mechanism, seed, n, months,
                                                                                network, rule):
    """Common random numbers (rng.py): with one mechanism switched off, every stream it does not own
    draws exactly the same values in the same calls; the streams it owns draw nothing. Every
    mechanism is checked on every run (hypothesis varies the scenario and seed)."""
    overrides, owned = MECHANISMS[mechanism]
    base = {"sites.n": n, "months": months, "network.type": network, "logics.social.rule": rule, **ALL_ON, **NO_CF}
    on, _ = run_recorded(record, default_scenario(**base), seed)
    off, _ = run_recorded(record, default_scenario(**{**base, **overrides}), seed)
    for key in set(on) | set(off):
        if key[1] in owned:
            drew = key in off
            assert not drew, f"{mechanism} is off but its stream {key[1]} still draws"
        else:
            same = on.get(key) == off.get(key)  # (a bool: no slow diff of thousands of draws on failure)
            assert same, f"switching {mechanism} off changed the draws of stream {key[1]}"
    assert {k for k in on if k[1] not in owned} == set(off)


def test_every_process_stream_is_used_by_the_everything_on_scenario(record):
    """The property above is not vacuous: the everything-on scenario draws from every process's stream.
    (The counterfactual arm is not switched there: it is a second block on the same seed, whose
    equality with a no-programme run is tests/test_model.py's
    test_counterfactual_arm_is_the_same_world_without_the_programme.)"""
    got, _ = run_recorded(record, default_scenario(**{"sites.n": 30, "months": 12, **ALL_ON, **NO_CF}), 4)
    names = {k[1] for k in got}
    assert {"network", "transitions", "turnover", "shocks", "collaborative", "seeding"} <= names


def test_a_listed_shock_month_does_not_shift_the_random_numbers(record):
    """Shocks (transitions.shock_pressure): each block draws its monthly shock whether or not the month
    is listed, so listing a month changes no stream's draws - not the shocks stream's own, not any
    other's - and shocks that bite (severity, funding cut) do not share another process's stream."""
    base = {"sites.n": 150, "months": 40, "shocks.rate": 0.2, "shocks.severity": 0.6, "shocks.funding_cut": 0.3, **NO_CF}
    plain, ra = run_recorded(record, default_scenario(**base), 5)
    listed, rb = run_recorded(record, default_scenario(**{**base, "shocks.months": [7, 20]}), 5)
    none, _ = run_recorded(record, default_scenario(**{**base, "shocks.rate": 0.0}), 5)
    # the listed months bite (so the comparison below is not vacuous) ...
    assert not ra.timeseries.equals(rb.timeseries)
    # ... yet every stream, the shocks stream included, draws the same values
    assert plain == listed
    assert len(plain[(5, "shocks")]) == 40  # one draw per month
    # and the other streams are those of a run with no shocks at all
    assert {k: v for k, v in plain.items() if k[1] != "shocks"} == none


def test_a_listed_shock_month_hits_only_that_month_beyond_the_random_shocks():
    """Shocks: with a listed month, the blocks hit are those of the random shocks plus the listed month
    (checked on the programme's capacity: each shock's funding cut compounds)."""
    from simulation import SpreadModel

    base = {"sites.n": 30, "months": 30, "shocks.rate": 0.15, "shocks.severity": 0.0, "shocks.funding_cut": 0.5, **NO_CF}

    def cuts(**ov):
        m = SpreadModel(default_scenario(**{**base, **ov}), 2, agents=False)
        out = []
        for _ in range(30):
            m.step()
            out.append(float(m.cut_b[0]))
        return np.array(out)

    a, b = cuts(), cuts(**{"shocks.months": [12]})
    hits_a = np.flatnonzero(np.diff(np.r_[0.0, a]) > 0) + 1
    hits_b = np.flatnonzero(np.diff(np.r_[0.0, b]) > 0) + 1
    assert len(hits_a) >= 2  # the random shocks happen (seed 2: months 1, 17, 21, 24, 27)
    assert sorted(set(hits_a) | {12}) == hits_b.tolist()
