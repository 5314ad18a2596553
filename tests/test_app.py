"""The teaching app without a browser: the model behind the controls, Mesa's rebuild, layout, figures, CLI.

The page itself, in a real browser, is tested in ``test_app_browser.py``.
"""

from __future__ import annotations

import io
import random
import socket
from pathlib import Path

import matplotlib.colors as mcolors
import matplotlib.image as mpimg
import numpy as np
import pytest
import scipy.sparse as sp

from simulation.app.figures import ChartFigure, NetworkFigure, status_html
from simulation.app.layout import compute_layout, network_layout
from simulation.app.wrapper import (
    CAPACITY_UNLIMITED,
    TURNOVER_SWITCH,
    _read,
    CONTROLS,
    AppModel,
    bundled_scenarios,
    control_values,
    model_params,
    overrides_for,
)
from simulation.cli import main
from simulation.errors import InputError
from simulation.model import SpreadModel
from simulation.plots import STAGE_COLOURS
from simulation.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "scenarios" / "demo.yaml"
BASS = ROOT / "scenarios" / "classic" / "bass.yaml"
MONTHS = 24


def _run(model, months: int = MONTHS) -> np.ndarray:
    for _ in range(months):
        model.step()
    return model.counts[: months + 1].copy()


# ------------------------------------------------------------------------------ the app's model
def test_untouched_controls_are_the_scenario_exactly():
    """No controls (or controls at the scenario's values) = the scenario file, same seed, same run."""
    sc = load_scenario(DEMO)
    plain = _run(SpreadModel(sc, 3))
    app = AppModel(DEMO, seed=3)
    assert app.app_overrides == {}
    assert app.scenario_obj.digest() == sc.digest()
    assert np.array_equal(_run(app), plain)
    same = AppModel(DEMO, seed=3, **control_values(sc))
    assert same.app_overrides == {}
    assert np.array_equal(_run(same), plain)


@pytest.mark.parametrize("path", sorted(bundled_scenarios().values()), ids=lambda p: p.name)
def test_every_bundled_scenario_round_trips_through_its_controls(path):
    """The values the page shows for a scenario, sent back, change nothing (Mesa sends them all)."""
    sc = load_scenario(path)
    assert overrides_for(sc, control_values(sc)) == {}
    params = model_params(sc, path)
    assert params["scenario_file"] == str(path)
    for name, spec in params.items():
        if isinstance(spec, dict):
            assert spec["type"] in ("Checkbox", "SliderFloat", "SliderInt", "Select")
            if spec["type"].startswith("Slider"):
                assert spec["min"] <= spec["value"] <= spec["max"], name
            if spec["type"] == "Select":
                assert spec["value"] in spec["values"], name


def test_controls_become_overrides_and_the_run_matches_spreadmodel():
    """Changed controls are applied as overrides; the run is SpreadModel on the overridden scenario."""
    values = dict(mechanical=False, social_weight=0.5, ecological_weight=0.3, support_capacity=55, turnover=0.3,
                  legitimacy=0.4, replication_package=0.9, assurance_interval=3, seeding_rule="opinion_leaders",
                  seed_sites=20, network="regions", n_sites=400)
    app = AppModel(DEMO, seed=7, **values)
    sc = app.scenario_obj
    assert not sc.logics.mechanical.enabled
    assert sc.logics.social.weight == 0.5 and sc.logics.ecological.weight == 0.3
    assert sc.strategy.support.capacity == 55
    assert _read(sc, TURNOVER_SWITCH)
    d = sc.sites.traits.turnover
    assert d.dist == "uniform" and (d.low + d.high) / 2 == pytest.approx(0.3)
    assert sc.logics.social.legitimacy == 0.4
    assert sc.strategy.replication_package == 0.9
    assert sc.strategy.assurance.interval == 3
    assert sc.strategy.seeding.rule == "opinion_leaders" and sc.strategy.seeding.n == 20
    assert sc.network.type == "regions" and app.N == 400
    assert app.control_values == {**control_values(load_scenario(DEMO)), **values}
    expected = load_scenario(DEMO).with_overrides(app.app_overrides)
    assert np.array_equal(_run(app), _run(SpreadModel(expected, 7)))


def test_capacity_slider_end_means_unlimited():
    bass = load_scenario(BASS)
    assert bass.strategy.support.capacity is None
    assert control_values(bass)["support_capacity"] == CAPACITY_UNLIMITED
    assert AppModel(BASS, support_capacity=CAPACITY_UNLIMITED, agents=False).app_overrides == {}
    assert AppModel(BASS, support_capacity=10, agents=False).scenario_obj.strategy.support.capacity == 10
    assert AppModel(DEMO, support_capacity=CAPACITY_UNLIMITED, agents=False).scenario_obj.strategy.support.capacity is None


def test_turnover_zero_switches_turnover_off():
    sc = AppModel(DEMO, turnover=0.0, agents=False).scenario_obj
    assert not _read(sc, TURNOVER_SWITCH)
    assert sc.sites.traits.turnover.low == 0 and sc.sites.traits.turnover.high == 0


def test_seed_and_rng():
    """Mesa's rng= is accepted: an int is the seed, a Generator gives one reproducible draw."""
    a = _run(AppModel(DEMO, seed=11), 12)
    assert np.array_equal(a, _run(AppModel(DEMO, rng=11), 12))
    g1, g2 = np.random.default_rng(5), np.random.default_rng(5)
    m1, m2 = AppModel(DEMO, rng=g1, agents=False), AppModel(DEMO, rng=g2, agents=False)
    assert m1.seed == m2.seed
    assert np.array_equal(_run(m1, 12), _run(m2, 12))
    with pytest.raises(InputError, match="seed or rng"):
        AppModel(DEMO, seed=1, rng=1)
    with pytest.raises(InputError, match="non-negative"):
        AppModel(DEMO, seed=-1)


def _run_stderr(capsys, argv: list[str]) -> tuple[int, str]:
    code = main(argv)
    return code, capsys.readouterr().err


def test_more_seed_sites_than_sites_is_refused_as_run_refuses_it(capsys):
    """One validation for the app and `spreadsim run`: the same message, nothing lowered or clamped."""
    with pytest.raises(InputError) as err:
        AppModel(DEMO, n_sites=20, seed_sites=50, agents=False)
    code, run_err = _run_stderr(capsys, ["run", str(DEMO), "--set", "sites.n=20", "--set", "strategy.seeding.n=50",
                                         "--no-plot", "-q", "--out", "/nonexistent-never-written"])
    assert code == 2
    assert [f"error: {p}" for p in err.value.problems] == run_err.strip().splitlines()
    assert "cannot seed 50 sites: the network has 20" in run_err


def test_app_refuses_a_file_run_refuses_with_the_same_message(tmp_path, capsys):
    bad = tmp_path / "seeds.yaml"
    bad.write_text("sites: {n: 50}\nstrategy: {seeding: {n: 500}}\n")
    code, run_err = _run_stderr(capsys, ["run", str(bad), "--no-plot", "-q", "--out", str(tmp_path / "out")])
    assert code == 2 and "strategy.seeding.n" in run_err
    code, app_err = _run_stderr(capsys, ["app", str(bad), "--port", "0"])
    assert code == 2
    assert app_err == run_err
    with pytest.raises(InputError) as err:
        AppModel(bad, agents=False)
    assert [f"error: {p}" for p in err.value.problems] == run_err.strip().splitlines()


@pytest.mark.parametrize("path", sorted(bundled_scenarios().values()), ids=lambda p: p.name)
def test_control_ranges_fit_the_scenario_and_hold_its_values(path):
    """Every control's range holds the file's value on its grid (a slider never moves it); the
    ranges that depend on the sites (capacity, seed sites) go up to the number of sites."""
    from simulation.app.wrapper import CONTROLS_BY_NAME

    sc = load_scenario(path)
    for name, value in control_values(sc).items():
        c = CONTROLS_BY_NAME[name]
        opts = c.options(sc)
        if c.kind in ("int", "float") and not (c.special and value == c.special[0]):
            assert opts["min"] <= value <= opts["max"], name
            steps = (value - opts["min"]) / opts["step"]
            assert abs(steps - round(steps)) < 1e-6, (name, value, opts)
        if c.kind == "choice":
            assert value in opts["values"], name
    if "support_capacity" in control_values(sc):
        assert CONTROLS_BY_NAME["support_capacity"].options(sc)["max"] >= sc.sites.n
    if "seed_sites" in control_values(sc):
        assert CONTROLS_BY_NAME["seed_sites"].options(sc)["max"] == max(sc.sites.n, sc.strategy.seeding.n)


def test_a_value_outside_the_range_stretches_it_never_clamped():
    from simulation.app.wrapper import CONTROLS_BY_NAME, fitted_step, schema_bounds

    sc = load_scenario(DEMO)
    cap = CONTROLS_BY_NAME["support_capacity"]
    assert cap.options(sc) == {"min": 0, "max": 300, "step": 1}
    assert cap.options(sc, 5000)["max"] == 5000  # typed in the number box: the slider follows
    weight = CONTROLS_BY_NAME["social_weight"]
    assert weight.options(sc, 0.333)["step"] == pytest.approx(0.001)
    assert fitted_step(0.0316666, 0.05) == pytest.approx(1e-6) and fitted_step(0.35, 0.05) == 0.05
    assert schema_bounds("logics.social.legitimacy") == (0, 1)
    assert schema_bounds("strategy.support.capacity") == (0, None)
    assert schema_bounds("no.such.key") == (None, None)


def test_turnover_control_only_where_turnover_is_a_share(tmp_path):
    (tmp_path / "lognormal.yaml").write_text(
        "sites: {traits: {turnover: {dist: lognormal, mean: -1.5, sigma: 0.3}}}\n")
    sc = load_scenario(tmp_path / "lognormal.yaml")
    assert "turnover" not in control_values(sc)  # not shown as a made-up 0.2
    exact = tmp_path / "exact.yaml"
    exact.write_text("sites: {traits: {turnover: {dist: uniform, low: 0.1, high: 0.15}}}\n")
    assert control_values(load_scenario(exact))["turnover"] == pytest.approx(0.125)  # not rounded to 0.13
    assert AppModel(exact, turnover=0.125, agents=False).app_overrides == {}


def test_pending_changes_read_as_words():
    from simulation.app.page import pending_changes

    sc = load_scenario(DEMO)
    applied = control_values(sc)
    assert pending_changes(applied, applied, 1, 1) == []
    lines = pending_changes({**applied, "support_capacity": CAPACITY_UNLIMITED, "network": "regions"}, applied, 2, 1)
    assert lines == ["Support capacity (sites at once): 30 sites \u2192 unlimited", "Network type: small world \u2192 regions",
                     "Seed: 1 \u2192 2"]


def test_comparison_in_the_background_is_spreadsim_compare():
    """The Compare view runs `compare` itself, batched, in memory: the same runs, the same
    differences; progress after each task (one batch of a strategy's replicates), and Stop between."""
    import threading

    from simulation.app.compare import METRICS, Comparison, strategy_choices
    from simulation.experiments import compare

    sc = load_scenario(ROOT / "scenarios" / "strategies" / "demo_strategies.yaml")
    choices = strategy_choices(sc, {"strategy.support.capacity": 60})
    assert list(choices) == ["baseline", *sc.strategies, "your settings"]
    chosen = {k: choices[k] for k in ("baseline", "collaborative", "your settings")}
    seen = []
    job = Comparison(sc, chosen, 4, steps=2)
    assert job.chunk_size == 4  # one task, one batch, per strategy
    out = job.run(lambda p: seen.append((p.done, p.total)))
    assert seen == [(0, 12), (4, 12), (8, 12), (12, 12)]
    ref = compare(sc, {"collaborative": chosen["collaborative"], "your settings": chosen["your settings"]}, 4,
                  executor="serial", progress=False)
    a = out.differences.set_index(["strategy", "metric"])[["mean_diff", "ci_low", "ci_high"]]
    b = ref.differences(metrics=list(METRICS)).set_index(["strategy", "metric"])[["mean_diff", "ci_low", "ci_high"]]
    assert a.equals(b)
    assert out.runs == 12 and out.bands_png[:4] == b"\x89PNG" and out.differences_png[:4] == b"\x89PNG"
    stop = threading.Event()
    stop.set()
    assert Comparison(sc, chosen, 4).run(cancel=stop) is None  # stopped before it started
    stop = threading.Event()
    seen = []

    def press_stop(p):  # Stop pressed once the first strategy's batch is done
        seen.append(p.done)
        if p.done >= 4:
            stop.set()

    assert Comparison(sc, chosen, 4).run(press_stop, cancel=stop) is None and seen == [0, 4]
    with pytest.raises(InputError, match="two or more"):
        Comparison(sc, {"baseline": {}}, 4)
    with pytest.raises(InputError, match="replicates"):
        Comparison(sc, chosen, 1)


def test_bad_controls_name_the_field(tmp_path):
    with pytest.raises(InputError, match="unknown control"):
        overrides_for(load_scenario(DEMO), {"colour": 1})
    with pytest.raises(InputError) as err:
        AppModel(DEMO, legitimacy=1.5)
    assert any("logics.social.legitimacy" in str(p) for p in err.value.problems)
    # a scenario whose sites come from a file has no number-of-sites or network-type control
    (tmp_path / "edges.csv").write_text("source,target\na,b\nb,c\nc,d\nd,a\n")
    (tmp_path / "file.yaml").write_text("network: {type: file, file: edges.csv}\nstrategy: {seeding: {n: 1}}\n")
    sc = load_scenario(tmp_path / "file.yaml")
    assert "n_sites" not in control_values(sc) and "network" not in control_values(sc)
    assert "n_sites" not in model_params(sc, tmp_path / "file.yaml")
    with pytest.raises(InputError, match="does not apply"):
        AppModel(tmp_path / "file.yaml", n_sites=50)
    assert AppModel(tmp_path / "file.yaml", agents=False).N == 4


def test_mesa_solaraviz_rebuild_uses_the_controls():
    """What Mesa's Reset does: check the parameters, build kwargs from the controls, call the class."""
    pytest.importorskip("solara", reason="the app's packages are not installed (pip install -e '.[app]')")
    from mesa.visualization.solara_viz import _build_model_init_kwargs, _check_model_params, split_model_params

    sc = load_scenario(DEMO)
    model = AppModel(DEMO)
    params = model_params(sc, DEMO)
    _check_model_params(model, params)  # raises ValueError for a parameter the class does not take
    user, fixed = split_model_params(params)
    values = {**fixed, **{k: v["value"] for k, v in user.items()}}
    values["n_sites"] = 500
    values["legitimacy"] = 0.2
    kwargs = _build_model_init_kwargs(model, values, add_scenario_when_empty=True, require_model_accepts_scenario=True)
    rebuilt = type(model)(**kwargs)
    assert rebuilt.N == 500
    assert rebuilt.app_overrides == {"sites.n": 500, "logics.social.legitimacy": 0.2}
    assert rebuilt.seed == sc.seed


def test_global_random_state_untouched():
    np_state = np.random.get_state()[1].copy()
    py_state = random.getstate()
    m = AppModel(DEMO, n_sites=200, seed=2)
    NetworkFigure(m).png()
    ChartFigure(m).png()
    _run(m, 3)
    compute_layout(m.W, seed=4)
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert random.getstate() == py_state


# ----------------------------------------------------------------------------------- the layout
def _graph(net: str, n: int, seed: int = 1) -> sp.csr_array:
    m = AppModel(DEMO, network=net, n_sites=n, seed=seed, agents=False)
    return sp.csr_array(m.W)[: m.N][:, : m.N]  # the programme's sites (a counterfactual arm may follow)


def test_layout_is_reproducible_bounded_and_cached():
    W = _graph("small_world", 300)
    a, b = compute_layout(W, seed=3), compute_layout(W, seed=3)
    assert a.shape == (300, 2) and np.all(np.isfinite(a))
    assert np.array_equal(a, b)
    assert np.abs(a).max() <= 1 + 1e-9
    c1 = network_layout(W, seed=3)
    assert network_layout(sp.csr_array(W.copy()), seed=3) is c1  # same structure: from the cache
    assert np.array_equal(c1, a)


def test_layout_puts_tied_sites_close_together():
    """Tied sites are much nearer each other than random pairs (what makes clusters visible)."""
    for net in ("regions", "small_world", "scale_free"):
        W = _graph(net, 600)
        pos = compute_layout(W, seed=0)
        U = sp.triu(W, k=1).tocoo()
        tie = np.linalg.norm(pos[U.row] - pos[U.col], axis=1).mean()
        rng = np.random.default_rng(0)
        i, j = rng.integers(0, 600, 5000), rng.integers(0, 600, 5000)
        rand = np.linalg.norm(pos[i] - pos[j], axis=1).mean()
        assert tie < 0.6 * rand, net


def test_layout_edge_cases():
    assert compute_layout(sp.csr_array((0, 0))).shape == (0, 2)
    assert compute_layout(sp.csr_array((1, 1))).shape == (1, 2)
    none = compute_layout(sp.csr_array((50, 50)))  # no ties: spread evenly, no two sites together
    d = np.linalg.norm(none[:, None] - none[None], axis=2) + np.eye(50)
    assert d.min() > 0.05
    full = compute_layout(_graph("complete", 300))  # 44,850 ties: sampled for the forces
    assert np.all(np.isfinite(full))


# ---------------------------------------------------------------------------------- the figures
def _decode(png: bytes) -> np.ndarray:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return mpimg.imread(io.BytesIO(png), format="png")[..., :3]


def _pixels_of(img: np.ndarray, colour: str, tol: float = 0.03) -> int:
    rgb = np.array(mcolors.to_rgb(colour))
    return int((np.abs(img - rgb).max(axis=2) < tol).sum())


def test_network_figure_colours_sites_by_stage():
    m = AppModel(DEMO, seed=1)
    net = NetworkFigure(m)
    before = _decode(net.png())
    assert before.shape[0] > 300 and before.shape[1] > 300
    assert _pixels_of(before, STAGE_COLOURS["not_engaged"]) > 1000
    assert _pixels_of(before, STAGE_COLOURS["full"]) > 100  # the seeds
    _run(m, 60)
    after = _decode(net.png())
    assert _pixels_of(after, STAGE_COLOURS["not_engaged"]) < _pixels_of(before, STAGE_COLOURS["not_engaged"])
    assert net.caption().startswith("Sites by stage, month 60 (300 sites")


def test_large_networks_are_drawn_from_a_sample():
    m = AppModel(DEMO, n_sites=2_500, seed=1, agents=False)  # past the drawing limit of 2,000
    net = NetworkFigure(m)
    assert len(net.drawn) == 2_000
    assert "2,000 of 2,500 sites" in net.caption()
    _decode(net.png())


def test_chart_fills_in_month_by_month():
    m = AppModel(DEMO, seed=1)
    chart = ChartFigure(m)
    first = _decode(chart.png())
    _run(m, 60)
    later = _decode(chart.png())
    grey = STAGE_COLOURS["not_engaged"]
    assert _pixels_of(later, grey) > _pixels_of(first, grey) + 2000  # the stacked areas grew
    assert _pixels_of(later, STAGE_COLOURS["full"]) > _pixels_of(first, STAGE_COLOURS["full"])


def test_status_shows_the_month_and_counts():
    m = AppModel(DEMO, seed=1, support_capacity=44)
    _run(m, 5)
    text = status_html(m)
    assert 'data-month="5"' in text and 'data-sites="300"' in text
    for stage, count in zip(("not_engaged", "full"), (m.counts[5][0], m.counts[5][4]), strict=True):
        assert f'data-stage="{stage}"' in text and f">{count:,}<" in text
    assert "--set strategy.support.capacity=44" in text and "support 44" in text
    # what reach counts is said on the page, and the end of the run is said too
    assert "Reach: people served by sites in full implementation" in text
    assert 'class="ss-finished"' not in text and 'data-finished="0"' in text
    _run(m, m.months - 5)
    end = status_html(m)
    assert f"Month <span class=\"ss-month\">{m.months}</span> of {m.months}: <span class=\"ss-finished\">finished" in end


def test_chart_text_is_readable_on_a_phone():
    """Shown 360 px wide (a phone), the figures' smallest text is still 10 px or more."""
    from simulation.app.figures import WIDTH_IN, min_font_px

    m = AppModel(DEMO, seed=1)
    for fig in (NetworkFigure(m).figure, ChartFigure(m).figure):
        assert fig.get_figwidth() == WIDTH_IN
        natural_width_px = fig.get_figwidth() * fig.dpi
        assert min_font_px(fig) * 360 / natural_width_px >= 10


def test_stage_legend_in_the_order_of_the_bands():
    from simulation.labels import STAGE_LABELS

    chart = ChartFigure(AppModel(DEMO, seed=1, agents=False))
    legend = chart.figure.axes[0].get_legend()
    names = [t.get_text().replace("\n", " ") for t in legend.get_texts()]
    assert names[1:] == list(STAGE_LABELS.values())[::-1]


# -------------------------------------------------------------------------------------- the CLI
def test_cli_bad_inputs_exit_2_without_traceback(capsys, tmp_path):
    assert main(["app", str(tmp_path / "missing.yaml")]) == 2
    err = capsys.readouterr().err
    assert "missing.yaml: file not found" in err and "Traceback" not in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("logics: {social: {legitimacy: 3}}\n")
    assert main(["app", str(bad)]) == 2
    assert "logics.social.legitimacy" in capsys.readouterr().err
    assert main(["app", str(DEMO), "--port", "70000"]) == 2
    assert "--port" in capsys.readouterr().err


def test_cli_port_in_use(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["app", str(DEMO), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err


def test_controls_cover_what_the_issue_asks_for():
    names = {c.name for c in CONTROLS}
    assert {"mechanical", "ecological", "social", "mechanical_weight", "ecological_weight", "social_weight",
            "support_capacity", "turnover", "legitimacy", "replication_package", "assurance_interval",
            "seeding_rule", "network", "n_sites"} <= names
    # every strategy lever is a control (issue 18): funding length, collaboratives, the cascade, waves, seeding
    assert {"funding_months", "intake_months", "collaborative", "collaborative_start", "train_the_trainer", "trainees", "waves_every",
            "waves_size", "seed_sites", "adaptation"} <= names
    assert "seed" in model_params(load_scenario(DEMO), DEMO)
    # every control has a help line and a card
    for c in CONTROLS:
        assert c.help and len(c.help) > 20, c.name
        assert c.group in ("strategy", "logics", "context"), c.name


def test_strategy_levers_become_the_strategy_keys_exactly():
    """Funding throughout, the intake, waves, the cascade and collaboratives set the keys a strategies: section
    would, and the run is SpreadModel on those overrides."""
    from simulation.app.wrapper import FUNDED_THROUGHOUT

    values = dict(funding_months=FUNDED_THROUGHOUT, intake_months=24, waves_every=6, waves_size=20, train_the_trainer=False, trainees=4,
                  collaborative=True, collaborative_start=6, adaptation="strict")
    app = AppModel(DEMO, seed=5, **values)
    assert app.app_overrides == {"strategy.support.funding_months": None, "strategy.support.intake_months": 24,
                                 "strategy.waves.every": 6,
                                 "strategy.waves.size": 20, "strategy.train_the_trainer.enabled": False,
                                 "strategy.train_the_trainer.trainees": 4, "strategy.collaborative.enabled": True,
                                 "strategy.collaborative.start": 6, "strategy.adaptation": "strict"}
    assert app.control_values == {**control_values(load_scenario(DEMO)), **values}
    expected = load_scenario(DEMO).with_overrides(app.app_overrides)
    assert np.array_equal(_run(app), _run(SpreadModel(expected, 5)))


def test_bench_configuration_runs_small():
    from simulation.app.bench import app_stepping

    r = app_stepping(100, 3)
    assert r["sites"] == 100 and r["months"] == 3 and r["steps_per_s"] > 0


def test_downloaded_setup_is_reproduced_exactly_by_spreadsim_run(tmp_path):
    """The page's "Download setup" file, run by `spreadsim run`, gives the run the page showed:
    the same months, the same numbers, seed included (controls changed, a file-based network too)."""
    import pandas as pd

    from simulation.app.share import scenario_yaml, timeseries_csv
    from simulation.cli import main as cli_main

    for path, controls in ((DEMO, dict(support_capacity=45, funding_months=36, legitimacy=0.4, n_sites=150)),
                           (ROOT / "scenarios" / "cases" / "ckm_threshold.yaml", dict(seed_sites=3))):
        app = AppModel(path, seed=11, **controls)
        app.run_model()
        saved = tmp_path / f"{Path(path).stem}_saved.yaml"
        saved.write_text(scenario_yaml(app))
        out = tmp_path / f"{Path(path).stem}_run"
        assert cli_main(["run", str(saved), "--out", str(out), "--quiet"]) == 0
        mine = pd.read_csv(io.BytesIO(timeseries_csv(app)))
        theirs = pd.read_csv(out / "timeseries.csv")
        pd.testing.assert_frame_equal(mine, theirs)


def test_every_bundled_case_has_a_lesson_and_strategies():
    """Each case has a lesson (what it is, sources by author and title, three questions, what to
    notice) and a strategies: section, so that Compare can ask its question."""
    from simulation.app.lessons import LESSONS, lesson_for

    cases = sorted((ROOT / "scenarios" / "cases").glob("*.yaml"))
    assert cases
    for path in [*cases, DEMO]:
        lesson = lesson_for(path)
        assert lesson is not None, path.name
        assert lesson.what and lesson.notice and len(lesson.questions) == 3, path.name
        assert lesson.sources and all('"' in s for s in lesson.sources), path.name  # titles in quotes
        assert not any("shared/sources" in s for s in lesson.sources), path.name
    for path in cases:
        assert load_scenario(path).strategies, path.name
    assert set(LESSONS) >= {p.stem for p in cases}


def test_scenario_list_shows_names_with_calibration_last():
    from simulation.app.wrapper import bundled_scenarios, scenario_title

    found = bundled_scenarios()
    keys = list(found)
    assert keys[0] == "demo.yaml"
    calib = [i for i, k in enumerate(keys) if k.startswith("calibration/")]
    assert calib and min(calib) > max(i for i, k in enumerate(keys) if not k.startswith("calibration/"))
    titles = [scenario_title(k, p) for k, p in found.items()]
    assert "keystone michigan (case)" in titles
    assert not any(t.endswith(".yaml") or "/" in t for t in titles)


def test_status_reads_as_words_with_a_relative_path():
    from simulation.app.figures import status_html

    app = AppModel(DEMO, seed=2, turnover=0.3, collaborative=True, funding_months=-1)
    text = status_html(app)
    assert str(ROOT) not in text and "scenarios/demo.yaml" in text
    assert "True" not in text and "{&#x27;" not in text and "{'" not in text
    assert "--set strategy.collaborative.enabled=true" in text
    assert "--set strategy.support.funding_months=null" in text
    assert "uniform 0.225 to 0.375" in text  # the file's spread kept around the mean
    assert "sites still delivering" in text  # fidelity with its denominator


def test_speeds_step_several_months_per_frame_when_drawing_is_slow():
    from simulation.app.page import MAX_FPS, months_per_frame

    assert months_per_frame(1, 0.05) == 1 and months_per_frame(4, 0.05) == 1
    assert months_per_frame(16, 0.25) == 4  # 4 frames a second, 4 months each
    assert months_per_frame(16, 0.01) == round(16 / MAX_FPS)  # never more than MAX_FPS frames a second


def test_run_memory_labels_and_noise_sentence():
    from simulation.app.memory import PastRun, Spread, noise_sentence, what_changed

    a = control_values(load_scenario(DEMO))
    b = {**a, "support_capacity": 60}
    assert what_changed(a, 1, b, 1) == "support capacity 30 sites (now 60 sites)"
    assert what_changed(a, 1, a, 2) == "same settings, seed 1 (now 2)"
    prev = PastRun(1, a, 1, np.array([0.1, 0.2, 0.3]))
    sd = np.array([0.0, 0.01, 0.02])
    band = Spread(b, 20, np.array([0.1, 0.2, 0.3]), sd, sd, sd, 1.0)
    assert "Show 20 runs" in noise_sentence(0.31, 2, prev, "x", None)
    assert "within the noise" in noise_sentence(0.31, 2, prev, "x", band)  # 1 point < 2*sqrt(2)*2 points
    assert "more than the noise" in noise_sentence(0.50, 2, prev, "x", band)  # 20 points


DECIDE_TINY = """\
name: tiny_decide
seed: 5
months: 24
sites: {n: 40}
network: {type: small_world, k: 4, p: 0.1}
strategy:
  seeding: {rule: most_ready, n: 3}
  support: {capacity: 6, funding_months: 24}
strategies:
  more_support: {strategy.support.capacity: 20}
uncertainties:
  logics.mechanical.push: [0.02, 0.6]
  delivery.drift: [0.02, 0.2]
"""


def test_decide_view_is_spreadsim_explore_robust_and_discover(tmp_path):
    """The Decide view runs `explore` itself, batched, in memory (the same table as the Python
    API), with progress after each task and Stop between; the robustness table and the failure
    boxes are `robust` and `discover` on it, with conditions built from the controls."""
    import html
    import threading

    from simulation import decision
    from simulation.app import decide
    from simulation.app.compare import strategy_choices

    (tmp_path / "tiny.yaml").write_text(DECIDE_TINY)
    sc = load_scenario(tmp_path / "tiny.yaml")
    assert decide.has_uncertainties(sc) and not decide.has_uncertainties(load_scenario(DEMO))
    choices = strategy_choices(sc)
    seen = []
    job = decide.Decision(sc, choices, 8, 2, steps=4)
    assert job.total_runs == 32 and job.chunk_size == 8  # 4 tasks, each the batches of 4 (future, strategy) pairs
    out = job.run(lambda p: seen.append((p.done, p.total)))
    assert seen == [(0, 32), (8, 32), (16, 32), (24, 32), (32, 32)]
    ref = decision.explore(sc, 8, 2, strategies=["more_support"], out=None, executor="serial", progress=False)
    cols = ["sample", "strategy", "replicate", "seed", "logics.mechanical.push", "adopted_share", "attributable_benefit_years"]
    assert out.exploration.table[cols].equals(ref[cols])
    assert out.exploration.strategies == ["baseline", "more_support"]
    assert out.exploration.uncertainties == ["logics.mechanical.push", "delivery.drift"]
    # the robustness table is `robust`, satisficing built from the threshold in the outcome's direction
    assert decide.satisficing("adopted_share", 0.3) == "adopted_share >= 0.3"
    assert decide.satisficing("cost_per_sustained_site", 900) == "cost_per_sustained_site <= 900"
    res = decide.robustness(out, "adopted_share", 0.3)
    want = decision.robust(decision.from_frame(ref), "adopted_share", satisfice="adopted_share >= 0.3")
    assert res.table.equals(want.table) and res.stability["sentence"] == want.stability["sentence"]
    page = decide.robustness_html(res)
    assert page.count('class="ss-robust"') == 2 and "meets the threshold" in page and want.stability["sentence"] in page
    assert decide.robustness_png(res)[:4] == b"\x89PNG"
    # a failure condition from the controls, never free text
    assert decide.condition("adopted_share", "below", 0.25) == "adopted_share < 0.25"
    for bad in (("colour", "below", 1.0), ("adopted_share", "about", 1.0), ("adopted_share", "below", float("nan"))):
        with pytest.raises(InputError):
            decide.condition(*bad)
    thr = decide.default_threshold(out, "baseline", "adopted_share")
    lower = np.sort(out.exploration.values("adopted_share")[:, 0, :], axis=1)[:, 0]  # the lower of 2 replicates
    assert abs(np.mean(lower < thr) - 0.5) == min(abs(np.mean(lower < c) - 0.5) for c in np.unique(lower) + 1e-9)
    boxes = decide.failure_boxes(out, "baseline", "adopted_share", "below", thr)
    same = decision.discover(decision.from_frame(ref), "baseline", f"adopted_share < {thr:.6g}",
                             bootstrap=decide.DISCOVER_BOOTSTRAP)
    assert boxes.sentence == same.sentence and boxes.boxes.equals(same.boxes)
    assert boxes.sentence.startswith("baseline fails") and html.escape(boxes.sentence) in decide.boxes_html(boxes)
    print(boxes.sentence)
    # Stop: before it starts, and after the first task
    stop = threading.Event()
    stop.set()
    assert decide.Decision(sc, choices, 8, 2).run(cancel=stop) is None
    stop, seen = threading.Event(), []

    def press_stop(p):
        seen.append(p.done)
        if p.done >= 8:
            stop.set()

    assert decide.Decision(sc, choices, 8, 2, steps=4).run(press_stop, cancel=stop) is None and seen == [0, 8]
    with pytest.raises(InputError, match="uncertainties"):
        decide.Decision(load_scenario(DEMO), {"baseline": {}}, 8, 2)
    with pytest.raises(InputError, match="futures"):
        decide.Decision(sc, choices, 2, 2)
    assert "spreadsim explore" in decide.HOW_TO


def test_decide_view_shows_a_failure_box_with_its_limits():
    """Futures that fail exactly where one uncertainty is low: the box restricts that one, with its
    bounds, coverage and density, in the view's HTML (made from the lab's `discover`)."""
    import pandas as pd

    from simulation import decision
    from simulation.app import decide

    rng = np.random.default_rng(4)
    S, R = 40, 2
    x, y = rng.uniform(0, 1, S), rng.uniform(0, 1, S)
    rows = [{"sample": s, "strategy": k, "replicate": r, "seed": r, "a.x": x[s], "a.y": y[s],
             "adopted_share": (0.2 if x[s] < 0.3 else 0.8) + 0.01 * rng.standard_normal() + (0.05 if k == "b" else 0)}
            for s in range(S) for k in ("baseline", "b") for r in range(R)]
    exp = decision.from_frame(pd.DataFrame(rows))
    assert exp.uncertainties == ["a.x", "a.y"]
    explored = decide.Explored(exp, S, R, len(rows), 0.0)
    # below 0.5 (typed in the threshold box): the failures are exactly the futures with x < 0.3
    res = decide.failure_boxes(explored, "baseline", "adopted_share", "below", 0.5)
    first = res.boxes[res.boxes["box"] == 1]
    assert list(first["parameter"]) == ["a.x"]
    # PRIM's upper limit lies between the last failing future and the first holding one
    assert x[x < 0.3].max() <= first["high"].iloc[0] <= x[x >= 0.3].min()
    assert first["coverage"].iloc[0] == 1.0 and first["density"].iloc[0] >= 0.85
    page = decide.boxes_html(res)
    assert 'data-box="1"' in page and 'data-parameter="a.x"' in page and "coverage 100%" in page
    assert f"{first['high'].iloc[0]:.3g}" in page
    assert decide.robustness(explored, "adopted_share").ranking() == ["b", "baseline"]
