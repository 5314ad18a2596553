"""Every figure the package makes speaks words: no identifier in any of its text.

Each figure is made from a small run and drawn; then every piece of text in it is read (titles,
axis labels, tick labels, legend entries and titles, annotations, figure notes, colour-bar labels)
and none may contain an identifier: an underscore, an ``@`` or a dot between letters
(``train_the_trainer``, ``adopted_share@60``, ``logics.social.q``). Numbers keep their dots.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.text  # noqa: E402
import pytest  # noqa: E402

from simulation.labels import identifiers_in  # noqa: E402

from .conftest import ROOT  # noqa: E402

SC = ROOT / "scenarios"
DEMO = SC / "demo.yaml"
STRATEGIES = SC / "strategies" / "demo_strategies.yaml"
SENSITIVITY = SC / "strategies" / "demo_sensitivity.yaml"
CKM_BASS = SC / "cases" / "ckm_bass.yaml"


def figure_texts(fig) -> list[str]:
    """Every visible, non-empty text of a drawn figure (tick labels included)."""
    fig.canvas.draw()
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        ax = t.axes
        if not t.get_visible() or (ax is not None and not ax.get_visible()):
            continue
        s = t.get_text().strip()
        if s:
            out.append(s)
    return out


def _check(name: str, fig) -> None:
    texts = figure_texts(fig)
    assert texts, f"{name}: no text at all (is this the figure?)"
    bad = {t: identifiers_in(t) for t in texts if identifiers_in(t)}
    plt.close(fig)
    assert not bad, f"{name}: identifiers in the figure's text: {bad}"


# ------------------------------------------------------------------------------ the walker works
def test_the_walker_finds_identifiers_wherever_they_are():
    """The check can fail: identifiers in a title, a tick label, a legend or a note are all found."""
    for where in ("title", "tick", "legend", "note", "annotation"):
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1], label="adopted share")
        ax.set_title("adopted share")
        ax.legend()
        if where == "title":
            ax.set_title("adopted_share")
        elif where == "tick":
            ax.set_xticks([0, 1], ["baseline", "train_the_trainer"])
        elif where == "legend":
            ax.legend(["logics.social.q"])
        elif where == "note":
            fig.text(0.5, 0.01, "see adopted_share@60")
        else:
            ax.annotate("strategy.support.capacity", (0.5, 0.5))
        texts = figure_texts(fig)
        plt.close(fig)
        assert any(identifiers_in(t) for t in texts), where
    assert identifiers_in("0.25 of 1,000.5 sites, 5-95% band") == []


# ---------------------------------------------------------------------------------- the figures
@pytest.fixture(scope="module")
def comparison():
    from simulation.experiments import compare

    return compare(STRATEGIES, replicates=3, executor="serial", progress=False)


@pytest.fixture(scope="module")
def sobol():
    from simulation.sensitivity import Sensitivity

    return Sensitivity(SENSITIVITY, method="sobol", samples=4, replicates=1, strategies=["cascade", "collaborative"],
                       outputs=["adopted_share@60", "cost_per_sustained_site"], executor="serial",
                       progress=False).run()


@pytest.fixture(scope="module")
def calibration():
    from simulation.calibration import calibrate

    return calibrate(CKM_BASS, executor="serial", population=10, generations=1, draws=3, progress=False)


def test_run_figure(tmp_path):
    from simulation import load_scenario, run

    _check("run.plot", run(load_scenario(SC / "classic" / "complex_contagion_clustered.yaml"), seed=1).plot().figure)
    _check("run.plot (demo)", run(load_scenario(DEMO), seed=1).plot().figure)


@pytest.mark.parametrize("column", ["adopted_share", "reach", "mean_fidelity", "support_used", "full"])
def test_comparison_bands(comparison, column):
    _check(f"plot({column})", comparison.plot(column).figure)


def test_comparison_differences(comparison):
    from simulation.experiments.result import TABLE_METRICS

    _check("plot_differences", comparison.plot_differences())
    _check("plot_differences(all outputs)", comparison.plot_differences(metrics=[*TABLE_METRICS, "support_used",
                                                                                 "time_to_50", "benefit"]))


def test_sensitivity_figures(sobol):
    figs = sobol.plot()
    assert {"heatmap", "wins"} <= set(figs) and any(k.startswith("sobol_") for k in figs)
    for name, fig in figs.items():
        _check(name, fig)


def test_morris_figures():
    from simulation.sensitivity import Sensitivity

    sa = Sensitivity(SENSITIVITY, method="morris", samples=4, replicates=1, strategies=["cascade"],
                     outputs=["adopted_share"], executor="serial", progress=False).run()
    for name, fig in sa.plot().items():
        _check(name, fig)


def test_sweep_figures():
    from simulation.sensitivity import sweep

    res = sweep(SENSITIVITY, {"logics.social.q": [0.1, 0.2]}, replicates=2, strategies=["cascade", "central"],
                executor="serial", progress=False)
    figs = res.plot()
    assert len(figs) == 2
    for name, fig in figs.items():
        _check(name, fig)


def test_calibration_figures(calibration):
    from simulation.calibration import forecast

    _check("plot_fit", calibration.plot_fit())
    _check("plot_marginals", calibration.plot_marginals())
    fc = forecast(CKM_BASS, calibration, months=24, draws=3, progress=False)
    for series in ("adopted", "ever_adopted", "full"):
        _check(f"forecast {series}", fc.plot(series))


def test_readme_figures():
    from simulation.figures import case_figure, sobol_figure, strategy_figures

    _check("case", case_figure(replicates=2, executor="serial", progress=False))
    bands, diff = strategy_figures(replicates=2, executor="serial", progress=False)
    _check("strategy comparison", bands)
    _check("strategy differences", diff)
    _check("sobol", sobol_figure(samples=4, replicates=1, executor="serial", progress=False))


def test_app_figures():
    pytest.importorskip("PIL")
    from simulation.app.figures import ChartFigure, NetworkFigure
    from simulation.app.wrapper import AppModel

    m = AppModel(STRATEGIES, seed=1)
    for _ in range(5):
        m.step()
    net, chart = NetworkFigure(m), ChartFigure(m)
    net.png(), chart.png()
    _check("app network", net.figure)
    _check("app chart", chart.figure)


# ------------------------------------------------------------------ what the figures say, besides words
def _synthetic_result():
    """Three strategies with known paired differences: "gains" raises the adopted share and lowers
    abandonment (both better), "harms" does the opposite, "same" differs by noise only."""
    import numpy as np
    import pyarrow as pa

    from simulation import load_scenario
    from simulation.experiments.result import RUN_COLUMNS, ExperimentResult

    rng = np.random.default_rng(0)
    reps = 12
    rows = {c: [] for c in RUN_COLUMNS}
    shift = {"baseline": 0.0, "gains": 0.1, "harms": -0.1, "same": 0.0}
    base_noise = rng.normal(0, 0.01, reps)
    for s, d in shift.items():
        for r in range(reps):
            # "same": the baseline's values give or take 0.01, alternately (a mean difference of 0)
            noise = base_noise[r] + (0.01 * (-1) ** r if s == "same" else rng.normal(0, 0.002) if d else 0.0)
            vals = {k: 1.0 for k in RUN_COLUMNS[5:]}
            vals.update(adopted_share=0.5 + d + noise, abandonment=0.2 - d / 2 + noise / 2,
                        support_used=1000 + 2000 * d + noise, mean_fidelity=0.8 + noise / 10)
            for c, v in {"run_id": f"{s}-{r}", "strategy": s, "replicate": r, "seed": r, "months": 120, **vals}.items():
                rows[c].append(v)
    table = pa.table(rows)
    sc = load_scenario(STRATEGIES)
    return ExperimentResult(sc, table, list(rows["run_id"]), baseline="baseline")


def _points(ax, first) -> dict[str, str]:
    """Strategy label -> colour of its point, in one panel of a differences figure (``first``: the
    panel that carries the strategy names; the others share its rows)."""
    import matplotlib.colors as mcolors

    ticks = {round(float(t), 6): lab.get_text() for t, lab in zip(first.get_yticks(), first.get_yticklabels())}
    out = {}
    for line in ax.lines:
        if line.get_marker() == "o" and len(line.get_ydata()) == 1:
            out[ticks[round(float(line.get_ydata()[0]), 6)]] = mcolors.to_hex(line.get_color())
    return out


def test_differences_are_coloured_by_better_or_worse():
    from simulation.plots import DIFF_COLOURS

    res = _synthetic_result()
    fig = res.plot_differences(metrics=["adopted_share", "abandonment", "support_used"])
    axes = [a for a in fig.axes if a.get_visible()]
    by_title = {a.get_title().split("\n")[0]: a for a in axes}
    assert by_title["adopted share"].get_title().endswith("(higher is better)")
    # abandonment is measured among the sites that ever adopted: shown, never judged on its own
    assert " ".join(by_title["abandonment"].get_title().split()).endswith("(not judged: among the sites that ever adopted)")
    assert by_title["support used"].get_title().endswith("(neither direction is better)")
    # higher adopted share is better: gains green, harms red, noise grey
    first = axes[0]
    assert _points(by_title["adopted share"], first) == {"gains": DIFF_COLOURS["better"], "harms": DIFF_COLOURS["worse"],
                                                   "same": DIFF_COLOURS["unclear"]}
    # a conditional measure that differs is neither green nor red (hollow grey), whichever way it moved
    assert _points(by_title["abandonment"], first) == {"gains": DIFF_COLOURS["subset"], "harms": DIFF_COLOURS["subset"],
                                                 "same": DIFF_COLOURS["unclear"]}
    pts = _points(by_title["support used"], first)
    assert pts["gains"] == pts["harms"] == DIFF_COLOURS["neutral"]
    texts = figure_texts(fig)
    assert any("better than the baseline" in t for t in texts) and any("worse than the baseline" in t for t in texts)
    assert any("not judged" in t for t in texts)
    # the support unit is defined where support is shown
    assert any(t.startswith("1 support unit = ") for t in texts)
    plt.close(fig)


def test_tiny_differences_are_shown_against_the_baseline_level():
    res = _synthetic_result()
    fig = res.plot_differences(metrics=["mean_fidelity"])
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert any(t.startswith("baseline mean 0.8") for t in texts), texts
    lo, hi = ax.get_xlim()
    assert hi >= 0.05 * 0.8 - 1e-9 and lo <= -0.04  # at least 5% of the baseline level either side
    plt.close(fig)


def test_stage_legend_follows_the_stacked_bands():
    """The stacked bands go up from "not engaged"; the legend lists them from the top band down."""
    from simulation import load_scenario, run
    from simulation.labels import STAGE_LABELS

    ax = run(load_scenario(DEMO), seed=1).plot()
    entries = [t.get_text() for t in ax.get_legend().get_texts()]
    assert entries[0].startswith("adopted")
    assert entries[1:] == list(STAGE_LABELS.values())[::-1]
    plt.close(ax.figure)


def test_sobol_note_when_an_index_is_out_of_range(sobol):
    from simulation.sensitivity.plots import OUT_OF_RANGE_NOTE, indices_figure

    saved = sobol._indices.copy()
    try:
        ix = sobol._indices
        ix["S1"] = ix["S1"].clip(0, 1)
        ix["ST"] = ix["ST"].clip(0, 1)
        fig = indices_figure(sobol, "adopted_share@60")
        assert not any("estimation error" in t.replace("\n", " ") for t in figure_texts(fig))
        plt.close(fig)
        ix.loc[ix.index[0], "ST"] = 1.3
        fig = indices_figure(sobol, "adopted_share@60")
        texts = figure_texts(fig)
        assert any(t.replace("\n", " ") == OUT_OF_RANGE_NOTE for t in texts)
        plt.close(fig)
        ix["ST"] = ix["ST"].clip(0, 1)
        ix.loc[ix.index[0], "S1"] = -0.2
        fig = indices_figure(sobol, "adopted_share@60")
        assert any("estimation error" in t.replace("\n", " ") for t in figure_texts(fig))
        plt.close(fig)
    finally:
        sobol._indices = saved


def test_bins_are_titled_as_they_are(sobol):
    figs = sobol.plot(kind="wins")
    name = next(k for k in figs if k.startswith("wins_by_parameter"))
    title = figs[name]._suptitle.get_text()
    assert "fifth of the samples" in title and "fifths of each range" not in title
    for f in figs.values():
        plt.close(f)


def test_figures_are_saved_at_200_dpi(tmp_path):
    from PIL import Image

    from simulation.figures import _save
    from simulation.sensitivity import sweep

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.set_title("a figure")
    path = _save(fig, tmp_path / "f.png")
    with Image.open(path) as im:
        assert im.info["dpi"] == pytest.approx((200, 200), abs=0.5)
        assert im.size[0] >= 2 * 200 * 0.8  # bbox tight may trim the margins, not the resolution
    res = sweep(SENSITIVITY, {"logics.social.q": [0.1, 0.2]}, replicates=1, executor="serial", progress=False)
    res.save(tmp_path / "sweep")
    pngs = sorted((tmp_path / "sweep").glob("*.png"))
    assert pngs
    for p in pngs:
        with Image.open(p) as im:
            assert im.info["dpi"] == pytest.approx((200, 200), abs=0.5), p.name


def test_only_all_site_outcomes_get_verdicts():
    """Adoption, reach, benefit and time to 50% are measured over all sites and can be better or
    worse; fidelity among users, sustained cohorts, abandonment among adopters and the equity gap
    are conditional: they are shown with their denominator and never judged on their own."""
    from simulation import labels
    from simulation.runner import SUMMARY_KEYS

    for key in ("adopted_share", "reach_share", "attributable_benefit_years", "time_to_50"):
        assert labels.verdict_allowed(key), key
    for key in ("mean_fidelity", "sustained_startup", "sustained_delivering_12", "abandonment", "equity_gap"):
        assert labels.kind(key) == "conditional" and not labels.verdict_allowed(key), key
        assert labels.among(key) and labels.with_denominator(key).startswith(labels.output_label(key) + " among the ")
    assert labels.with_denominator("mean_fidelity", 12).startswith("mean fidelity among the 12 sites still delivering")
    # every summary output is one of the three kinds, and each kind is consistent with its direction
    for key in SUMMARY_KEYS:
        k = labels.kind(key)
        assert k in ("all", "conditional", "none"), key
        if k == "all":
            assert labels.better(key) != 0, key
