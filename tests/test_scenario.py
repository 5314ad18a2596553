"""Scenario loading and validation: every problem named by file and key path, never a traceback."""

import yaml
import pytest
from hypothesis import given, settings, HealthCheck
from hypothesis import strategies as st

from simulation import InputError, load_scenario
from simulation.scenario import Scenario, from_dict, parse_set

from .conftest import SCENARIOS, write


def problems(raw, src="s.yaml"):
    with pytest.raises(InputError) as exc:
        from_dict(raw, src)
    return [str(p) for p in exc.value.problems]


def test_bundled_scenarios_load():
    for path in sorted(SCENARIOS.rglob("*.yaml")):
        sc = load_scenario(path)
        assert isinstance(sc, Scenario)


def test_unknown_key_suggests_nearest():
    (msg,) = problems({"logics": {"socail": {}}})
    assert msg == "s.yaml: logics.socail: unknown key 'socail' (did you mean 'social'?)"


def test_every_problem_is_reported():
    msgs = problems({"months": -1, "logics": {"social": {"weight": 1.5, "q": "abc"}}, "network": {"tpye": "random"}})
    joined = "\n".join(msgs)
    assert len(msgs) == 4
    for key in ("months", "logics.social.weight", "logics.social.q", "network.tpye"):
        assert f"s.yaml: {key}:" in joined
    assert "did you mean 'type'" in joined


def test_v3_keys_are_validated_like_the_rest():
    msgs = problems({"strategy": {"light_touch": {"capacity": -3, "qualty": 0.5, "progress": 1.5}, "package_cost": -1},
                     "workforce": {"routine_build": 2}, "outcomes": {"expected": 0, "sustain_reference": 96}})
    joined = "\n".join(msgs)
    for key in ("strategy.light_touch.capacity", "strategy.light_touch.qualty", "strategy.light_touch.progress",
                "strategy.package_cost", "workforce.routine_build", "outcomes.expected", "outcomes.sustain_reference"):
        assert f"s.yaml: {key}:" in joined, key
    assert "did you mean 'quality'" in joined and len(msgs) == 7


def test_probability_above_one_and_negative_count():
    msgs = problems({"strategy": {"support": {"capacity": -3}}, "logics": {"mechanical": {"push": 1.2}}})
    assert any("strategy.support.capacity" in m and "greater than or equal to 0" in m for m in msgs)
    assert any("logics.mechanical.push" in m and "less than or equal to 1" in m for m in msgs)


def test_yaml_on_key_gets_a_hint():
    raw = yaml.safe_load("logics:\n  social:\n    on: true\n")
    (msg,) = problems(raw)
    assert "logics.social.True" in msg and "enabled" in msg


def test_distribution_parameters_checked():
    (msg,) = problems({"sites": {"traits": {"fit": {"dist": "beta", "a": 2}}}})
    assert "sites.traits.fit" in msg and "missing b" in msg
    (msg,) = problems({"sites": {"traits": {"fit": {"dist": "uniform", "low": 0.8, "high": 0.2}}}})
    assert "above high" in msg


def test_overrides_and_unknown_override_path():
    sc = load_scenario(SCENARIOS / "demo.yaml", overrides={"logics.social.q": 0.3, "months": 12})
    assert sc.logics.social.q == 0.3 and sc.months == 12
    with pytest.raises(InputError) as exc:
        load_scenario(SCENARIOS / "demo.yaml", overrides={"logics.socal.q": 0.3})
    assert "no key 'socal' in logics (did you mean 'social'?)" in str(exc.value)


def test_parse_set_reads_yaml_values():
    assert parse_set(["a.b=0.5", "c=[1, 2]", "d=null", "e=text"]) == {"a.b": 0.5, "c": [1, 2], "d": None, "e": "text"}
    with pytest.raises(InputError):
        parse_set(["novalue"])


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_scenario(tmp_path / "nope.yaml")
    bad = write(tmp_path / "bad.yaml", "months: [1, 2\nsites: {n: 3}\n")
    with pytest.raises(InputError, match="malformed YAML") as exc:
        load_scenario(bad)
    assert str(bad) in str(exc.value)
    lst = write(tmp_path / "list.yaml", "- 1\n- 2\n")
    with pytest.raises(InputError, match="must be a mapping"):
        load_scenario(lst)


def test_strategies_are_validated():
    msgs = problems({"strategies": {"fast": {"strategy.support.capacty": 5}, "slow": {"months": -2}}})
    joined = "\n".join(msgs)
    assert "strategies.fast.strategy.support.capacty" in joined and "did you mean 'capacity'" in joined
    assert "strategies.slow" in joined and "months" in joined


def test_digest_ignores_seed_and_name_but_not_values():
    a = from_dict({"seed": 1, "name": "a"})
    b = from_dict({"seed": 2, "name": "b"})
    c = from_dict({"logics": {"social": {"q": 0.3}}})
    assert a.digest() == b.digest() != c.digest()


# ------------------------------------------------------------------------------------------ fuzz
keys = st.sampled_from(["months", "seed", "sites", "n", "network", "type", "k", "p", "logics", "social", "q",
                        "weight", "enabled", "strategy", "seeding", "rule", "support", "capacity", "traits",
                        "fit", "dist", "a", "b", "low", "high", "pipeline", "strategies", "shocks", "months",
                        "bogus", "groups", "adaptation", "file"])
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                    st.integers(-(2**70), 2**70), st.sampled_from([10**30, -10**30, 2**63, 1e300, 1e-300]),
                    st.text(max_size=8), st.sampled_from(["beta", "random", "instant", "threshold", "small_world"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(keys, inner, max_size=4)), max_leaves=12)
documents = st.one_of(st.dictionaries(keys, values, max_size=6), values)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_fuzz_loader_ends_in_valid_scenario_or_clean_error(doc):
    try:
        sc = from_dict(doc, "fuzz.yaml")
    except InputError as err:
        assert err.problems and all(p.source == "fuzz.yaml" and p.message for p in err.problems)
    else:
        assert isinstance(sc, Scenario)


@settings(max_examples=100, deadline=None)
@given(documents)
def test_fuzz_yaml_text_round_trip(tmp_path_factory, doc):
    path = tmp_path_factory.mktemp("fz") / "s.yaml"
    path.write_text(yaml.safe_dump(doc) if not isinstance(doc, float) else str(doc))
    try:
        load_scenario(path)
    except InputError as err:
        assert all(p.source == str(path) for p in err.problems)


# ------------------------------------------------- fuzz: hostile YAML text (issue 11)
paths = st.sampled_from(["months", "seed", "sites.n", "network.k", "network.p", "strategy.support.capacity",
                         "strategy.support.cost", "strategy.waves.size", "sites.traits.turnover", "sites.traits.fit.low",
                         "sites.groups.a", "shocks.months", "sensitivity.samples", "calibration.seed", "bogus.key"])
hostile = st.one_of(
    st.sampled_from([".nan", ".NaN", ".inf", "-.inf", ".Inf", "1e400", "-1e400", "1.0e30", "1e30", "nan", "inf",
                     "0x7fffffffffffffffffffffff", "1_000_000_000_000_000_000_000", "-0.0", "~", "[]", "{}"]),
    st.integers(min_value=-10**40, max_value=10**40).map(str),
    st.integers(1, 6000).map(lambda k: "9" * k),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def _nest(value: str, depth: int, kind: str) -> str:
    return ("[" * depth + value + "]" * depth) if kind == "list" else ("{a: " * depth + value + "}" * depth)


def _document(items, alias: bool, depth: int, kind: str) -> str:
    lines = []
    for path, value in items:
        keys = path.split(".")
        text = ""
        for i, k in enumerate(keys[:-1]):
            text += "  " * i + f"{k}:\n"
        text += "  " * (len(keys) - 1) + f"{keys[-1]}: {value}\n"
        lines.append(text)
    doc = "".join(lines)
    if alias:
        doc += "x: &anchor [1, 2, 3]\ny: [*anchor, *anchor]\n"
    if depth:
        doc += f"deep: {_nest('1', depth, kind)}\n"
    return doc


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(paths, hostile), max_size=4), st.booleans(),
       st.sampled_from([0, 0, 0, 1, 39, 40, 41, 1000, 100_000]), st.sampled_from(["list", "map"]))
def test_fuzz_hostile_yaml_ends_in_valid_scenario_or_one_clean_error_each(tmp_path_factory, items, alias, depth, kind):
    path = tmp_path_factory.mktemp("hy") / "s.yaml"
    path.write_text(_document(items, alias, depth, kind))
    try:
        sc = load_scenario(path)
    except InputError as err:
        assert err.problems and all(p.source == str(path) and p.message for p in err.problems)
        text = str(err)
        assert len(text) < 20_000  # nothing expanded or echoed at length
        if alias or depth > 40:  # refused before anything is expanded (the first such problem is named)
            assert any(w in text for w in ("aliases", "nests", "digits")), text
    else:
        assert not alias and depth <= 40
        for v in (sc.months, sc.seed, sc.sites.n, sc.network.k, sc.strategy.waves.size or 0):
            assert abs(v) <= 2**63
        for v in (sc.network.p, sc.strategy.support.cost):
            assert v == v and abs(v) < float("inf")


# ------------------------------------------------------------------------- v2: groups and sources
def test_group_sizes_that_do_not_add_up_are_refused():
    (msg,) = problems({"sites": {"n": 100, "groups": {"a": {"n": 30}, "b": {"n": 60}}}})
    assert "sites" in msg and "add up to 90 but sites.n is 100" in msg
    (msg,) = problems({"sites": {"groups": {"a": 0.5, "b": 0.4}}})
    assert "must add up to 1" in msg
    (msg,) = problems({"sites": {"groups": {"a": {"n": 30}, "b": 0.5}}})
    assert "not a mix" in msg


def test_wave_order_and_reserve_must_name_existing_groups():
    raw = {"sites": {"groups": {"rural": 0.4, "urban": 0.6}},
           "strategy": {"waves": {"every": 12, "order": ["rural", "suburban"]}, "support": {"reserve": {"coastal": 2}}}}
    msgs = "\n".join(problems(raw))
    assert "strategy.waves.order: names no group of sites.groups: suburban" in msgs
    assert "strategy.support.reserve: names no group of sites.groups: coastal" in msgs
    (msg,) = problems({"sites": {"groups": {"rural": 0.4, "urban": 0.6}}, "strategy": {"waves": {"every": 12, "order": ["rural"]}}})
    assert "missing: urban" in msg


def test_per_group_traits_for_a_group_the_site_table_lacks_are_refused(tmp_path):
    from simulation import SpreadModel

    table = write(tmp_path / "sites.csv", "site,group\na,north\nb,north\nc,south\n")
    s = write(tmp_path / "s.yaml", "sites:\n  file: sites.csv\n  groups:\n    east: {share: 1.0, traits: {fit: {dist: constant, value: 0.9}}}\n"
              "network: {type: none}\nstrategy: {seeding: {n: 0}}\n")
    assert table.exists()
    with pytest.raises(InputError) as exc:
        SpreadModel(load_scenario(s), 1, agents=False)
    (p,) = exc.value.problems
    assert p.field == "sites.groups" and "'east'" in p.message and "north, south" in p.message


def test_every_model_rate_says_where_its_value_comes_from():
    """'number: ...', 'direction: ...; value assumed' or 'calibrated: docs/validation.md'."""
    from pydantic import BaseModel

    from simulation.schema import CALIBRATED, SOURCE_KINDS

    sections = {"stages": None, "workforce": None, "delivery": None, "outcomes": None, "logics.mechanical": None,
                "logics.ecological": None, "logics.social": None}
    missing, malformed = [], []
    for path in sections:
        model = Scenario
        for key in path.split("."):
            model = model.model_fields[key].annotation
        assert isinstance(model, type) and issubclass(model, BaseModel)
        for name, field in model.model_fields.items():
            extra = field.json_schema_extra or {}
            source = extra.get("source", "")
            is_rate = field.annotation in (float, float | None) and name != "weight"
            if source and not source.startswith(SOURCE_KINDS):
                malformed.append(f"{path}.{name}: {source}")
            if source.startswith("direction:") and "value" not in source:
                malformed.append(f"{path}.{name}: a direction must say the value is assumed ({source})")
            if is_rate and not source:
                missing.append(f"{path}.{name}")
    assert not malformed, malformed
    assert not missing, missing
    calibrated = [p for p in ("stages.abandon", "logics.mechanical.dependency", "delivery.drift")
                  if getattr(default_field(p), "json_schema_extra")["source"] == CALIBRATED]
    assert len(calibrated) == 3


def default_field(path: str):
    model = Scenario
    keys = path.split(".")
    for key in keys[:-1]:
        model = model.model_fields[key].annotation
    return model.model_fields[keys[-1]]
