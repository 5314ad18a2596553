"""The app's Compare view, without the page: strategies run in the background, as ``spreadsim compare``.

:class:`Comparison` runs :func:`simulation.experiments.compare` on the chosen strategies of a
scenario, in memory, on the same batched engine as the command line: the replicates of a strategy
run side by side in one model (a task of many replicates is one batch), and progress is reported
after each task, where Stop takes effect. The result is exactly ``compare(scenario, strategies,
replicates)``: the same seeds, the same runs, the same paired differences. It ends with the figures
``spreadsim compare`` writes (adoption bands and paired differences) and a table of the differences
in which only outcomes measured over all sites get a verdict (:func:`simulation.labels.verdict_allowed`);
conditional measures are shown with their denominator and never coloured.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .. import labels
from ..errors import InputError
from ..scenario import Scenario

BASELINE = "baseline"
#: the strategy made of the controls applied in the Run view
YOUR_SETTINGS = "your settings"


def _metrics() -> tuple[str, ...]:
    """Outcomes of the differences figure and table: those measured over all sites first (they get
    verdicts), then the conditional ones (shown with their denominator), from the summary's keys."""
    from ..runner import SUMMARY_KEYS

    first = ("adopted_share", "reach_share", "attributable_benefit_years", "cost_per_sustained_site")
    sustained = [k for k in ("sustained_delivering_24", "sustainment") if k in SUMMARY_KEYS][:1]
    later = ("mean_fidelity", *sustained, "abandonment", "equity_gap")
    return tuple(k for k in (*first, *later) if k in SUMMARY_KEYS)


#: outcomes of the differences figure and table
METRICS = _metrics()
MIN_REPLICATES, MAX_REPLICATES = 2, 200


def strategy_choices(sc: Scenario, app_overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """What the Compare view offers: the baseline (the file as written), each strategy of its
    ``strategies:`` section and, when controls were changed in the Run view, those settings.

    Returns:
        ``{name: overrides}`` in that order.
    """
    out: dict[str, dict[str, Any]] = {BASELINE: {}}
    for name, ov in sc.strategies.items():
        if name != BASELINE:
            out[name] = dict(ov)
    if app_overrides:
        out[YOUR_SETTINGS] = dict(app_overrides)
    return out


def describe(overrides: dict[str, Any]) -> str:
    """A strategy's settings in words ("support capacity (sites at once) 60; collaborative on")."""
    if not overrides:
        return "the scenario as written"
    parts = []
    for path, v in overrides.items():
        if isinstance(v, bool):
            shown = "on" if v else "off"
        elif v is None:
            shown = "unlimited"
        elif isinstance(v, dict):
            shown = ", ".join(f"{k} {x}" for k, x in v.items())
        else:
            shown = labels.readable(str(v)) if isinstance(v, str) else f"{v:g}" if isinstance(v, float) else str(v)
        parts.append(f"{labels.param_label(path)} {shown}")
    return "; ".join(parts)


@dataclass
class Outcome:
    """What a finished comparison shows."""

    strategies: list[str]
    replicates: int
    baseline: str
    bands_png: bytes
    differences_png: bytes
    differences: Any  # DataFrame: strategy, metric, mean_diff, ci_low, ci_high, n
    table: Any  # DataFrame: strategy, metric, mean, ci_low, ci_high, n
    seconds: float
    runs: int
    #: per strategy, (mean sites still delivering at the end, sites): the denominator of mean fidelity
    delivering: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass
class Progress:
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        secs = time.monotonic() - self.started
        return f"{self.done:,} of {self.total:,} runs ({secs:.0f} s)"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


class Comparison:
    """Compare strategies of a scenario on common random numbers, in the background.

    Args:
        scenario: the scenario (its file as written: strategies are overrides on top of it).
        strategies: ``{name: overrides}`` to compare (two or more); the first is the reference
            the others are compared with.
        replicates: replicates per strategy.
        seed: base seed of the replicates (default: the scenario's).
        steps: how many times progress is reported (and stopping is possible).

    Raises:
        InputError: fewer than two strategies, or replicates out of range.
    """

    def __init__(self, scenario: Scenario, strategies: dict[str, dict[str, Any]], replicates: int,
                 seed: int | None = None, steps: int = 10):
        from ..errors import Problem

        problems = []
        if len(strategies) < 2:
            problems.append(Problem("Compare", "strategies", "choose two or more strategies"))
        if isinstance(replicates, bool) or not isinstance(replicates, int) or not (
                MIN_REPLICATES <= replicates <= MAX_REPLICATES):
            problems.append(Problem("Compare", "replicates",
                                    f"must be a whole number from {MIN_REPLICATES} to {MAX_REPLICATES} (got {replicates!r})"))
        if problems:
            raise InputError(problems)
        self.scenario = scenario
        self.strategies = dict(strategies)
        self.baseline = next(iter(self.strategies))
        self.replicates = replicates
        self.seed = seed
        # replicates per task: each task is one batch of one strategy's replicates, and there are
        # about ``steps`` of them (progress and Stop between two); batches of 10 or more replicates
        # already share most of the fixed cost of a month
        per_strategy = max(1, math.ceil(steps / len(self.strategies)))
        self.chunk_size = max(min(replicates, 10), math.ceil(replicates / per_strategy))

    @property
    def total_runs(self) -> int:
        return self.replicates * len(self.strategies)

    def run(self, on_progress: Callable[[Progress], None] | None = None,
            cancel: threading.Event | None = None) -> Outcome | None:
        """Run the comparison; None if ``cancel`` was set before it finished.

        Raises:
            InputError: a strategy the scenario refuses (named as ``spreadsim compare`` names it).
        """
        from matplotlib.figure import Figure

        from ..experiments import compare
        from ..experiments.figures import plot_bands, plot_differences

        progress = Progress(0, self.total_runs)
        if on_progress:
            on_progress(progress)
        if cancel is not None and cancel.is_set():
            return None
        others = {k: v for k, v in self.strategies.items() if k != self.baseline}

        def report(done: int, total: int) -> None:
            progress.done = done
            if on_progress:
                on_progress(progress)
            if cancel is not None and cancel.is_set():
                raise _Stopped

        t0 = time.monotonic()
        try:
            res = compare(self.scenario, {self.baseline: self.strategies[self.baseline], **others}, self.replicates,
                          seed=self.seed, baseline=self.baseline, executor="serial", out=None, progress=report,
                          chunk_size=self.chunk_size)
        except _Stopped:
            return None
        # sized for the page: the bands as wide as the Run view's charts, two panels a row
        bands = Figure(figsize=(6.4, 4.2))
        plot_bands(res, "adopted_share", ax=bands.add_subplot())
        diff_fig = Figure()
        plot_differences(res, baseline=self.baseline, metrics=list(METRICS), fig=diff_fig, ncols=2)
        return Outcome(strategies=list(res.strategies), replicates=self.replicates, baseline=self.baseline,
                       bands_png=_png(bands), differences_png=_png(diff_fig),
                       differences=res.differences(baseline=self.baseline, metrics=list(METRICS)),
                       table=res.table(metrics=list(METRICS)), seconds=time.monotonic() - t0,
                       runs=len(res.runs), delivering=_delivering(res))


def _delivering(res) -> dict[str, tuple[float, float]]:
    """Per strategy, the mean number of sites in initial or full implementation at the end of the
    runs and the number of sites (the denominator of mean fidelity among the sites delivering)."""
    from ..model import STAGES

    last = int(res.scenario.months)
    ts = res.timeseries_at([last], columns=list(STAGES))
    out = {}
    for s, sub in ts.groupby("strategy", sort=False):
        out[str(s)] = (float((sub["initial"] + sub["full"]).mean()), float(sub[list(STAGES)].sum(axis=1).mean()))
    return out


class _Stopped(Exception):
    """Stop pressed: raised from the progress report, between two tasks."""


def differences_html(outcome: Outcome) -> str:
    """The paired differences as an HTML table: one row per strategy and outcome. Outcomes measured
    over all sites get a word for better, worse or no clear difference; conditional measures are
    shown with their denominator ("mean fidelity among the 12 of 40 sites still delivering") and no
    verdict or colour of their own (``data-verdict="subset"`` when they differ)."""
    import html

    from ..experiments.figures import _significance

    rows = []
    d = outcome.differences
    for s in outcome.strategies:
        if s == outcome.baseline:
            continue
        for m in METRICS:
            r = d[(d["strategy"] == s) & (d["metric"] == m)]
            if r.empty:
                continue
            r = r.iloc[0]
            pct = labels.is_share(m)
            scale, unit = (100.0, " pp") if pct else (1.0, "")
            if math.isnan(r["mean_diff"]):
                cell, verdict = "n/a", "unclear"
            else:
                ci = "" if math.isnan(r["ci_low"]) else f" [{r['ci_low'] * scale:+.2f}, {r['ci_high'] * scale:+.2f}]"
                cell = f"{r['mean_diff'] * scale:+.2f}{unit}{ci}"
                verdict = _significance(r["ci_low"], r["ci_high"], r["mean_diff"], m)
            word = {"better": "better", "worse": "worse", "neutral": "different", "unclear": "no clear difference",
                    "subset": "differs (not judged alone)"}[verdict]
            if labels.kind(m) == "conditional":
                name = html.escape(labels.with_denominator(m))
                if m in labels.DENOMINATOR_SHARE and s in outcome.delivering and outcome.baseline in outcome.delivering:
                    (n1, tot), (n0, _) = outcome.delivering[s], outcome.delivering[outcome.baseline]
                    name += (f' <span class="ss-muted">(on average {n1:,.0f} of {tot:,.0f} sites, against '
                             f"{n0:,.0f} under {html.escape(labels.strategy_label(outcome.baseline))})</span>")
                else:
                    name += ' <span class="ss-muted">(read it beside adoption)</span>'
            else:
                name = f'{html.escape(labels.output_label(m))} <span class="ss-muted">({labels.direction(m)})</span>'
            rows.append(f'<tr class="ss-diff" data-strategy="{html.escape(s)}" data-metric="{m}" data-verdict="{verdict}" '
                        f'data-kind="{labels.kind(m)}">'
                        f"<td>{html.escape(labels.strategy_label(s))}</td><td>{name}</td>"
                        f'<td style="text-align:right">{cell}</td>'
                        f'<td class="ss-verdict ss-{verdict}">{word}</td></tr>')
    head = ("<tr><th>strategy</th><th>outcome</th><th>difference from "
            f"{html.escape(labels.strategy_label(outcome.baseline))} [95% CI]</th><th></th></tr>")
    note = ('<p class="ss-muted">Only outcomes counted over all the sites (adoption, reach, benefit, cost) are called '
            "better or worse. The others are measured among some of the sites: when fewer sites adopt, the few that "
            "remain can have higher fidelity, so such a number is shown beside adoption, never judged alone.</p>")
    return f'<table class="ss-diff-table">{head}{"".join(rows)}</table>{note}'
