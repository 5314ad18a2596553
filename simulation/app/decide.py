"""The app's Decide view, without the page: explore, robustness and failure boxes, as the CLI does.

:class:`Decision` runs :func:`simulation.decision.explore` on the chosen strategies of a scenario
that has an ``uncertainties:`` section, in memory, on the batched engine (the replicates of a
strategy in a future share one batch model; progress is reported after each task, where Stop takes
effect), exactly as ``spreadsim explore SCENARIO --samples N --replicates R`` with those strategies.
:func:`robustness` is ``spreadsim robust`` on it (the robustness table with bootstrap intervals, the
ranking and its stability statement) and :func:`failure_boxes` is ``spreadsim discover`` (PRIM
boxes of the futures where a strategy fails). The failure condition and the satisficing threshold
are built from a choice of outcome, a comparison and a number, written in the decision lab's small
grammar (:mod:`simulation.decision.expr`), never typed as free text.
"""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import labels
from ..errors import InputError, Problem
from ..scenario import Scenario
from .compare import METRICS, Progress, _Stopped

MIN_SAMPLES, MAX_SAMPLES = 4, 200
MIN_REPLICATES, MAX_REPLICATES = 1, 50
#: bootstrap resamples: the robustness intervals and the stability of the failure box (the CLI's
#: defaults are 200 and 50; the box's stability is re-run PRIM on each resample, so fewer here)
ROBUST_BOOTSTRAP, DISCOVER_BOOTSTRAP = 200, 20
#: comparisons offered for a failure condition: (word, operator)
COMPARISONS = {"below": "<", "above": ">"}


def outcomes() -> list[str]:
    """Outcomes offered: those counted over all the sites (a regret between strategies is only
    meaningful for them, as a verdict in the Compare view)."""
    return [m for m in METRICS if labels.verdict_allowed(m)]


def has_uncertainties(sc: Scenario) -> bool:
    return bool(getattr(sc, "uncertainties", None))


HOW_TO = ("This scenario has no uncertainties: section, so there are no futures to explore. Add one to its file, "
          "listing what is deeply uncertain as key paths with a range or a set of values, for example\n"
          "uncertainties:\n  logics.social.q: [0.05, 0.3]\n  strategy.support.funding_months: {values: [36, 48, 60]}\n"
          "and open it again (strategies/demo_strategies.yaml and cases/keystone_michigan.yaml have one). "
          "The command spreadsim explore SCENARIO --samples 100 --out DIR does the same as this view, then "
          "spreadsim robust DIR and spreadsim discover DIR.")


def condition(outcome: str, comparison: str, threshold: float) -> str:
    """A condition in the decision lab's grammar from the view's controls ("adopted_share < 0.3").

    Raises:
        InputError: an unknown outcome or comparison, or a threshold that is not a finite number.
    """
    from ..runner import SUMMARY_KEYS

    if outcome not in SUMMARY_KEYS:
        raise InputError(Problem("Decide", "outcome", f"no output '{outcome}'"))
    op = COMPARISONS.get(comparison, comparison if comparison in (">=", "<=", "<", ">") else None)
    if op is None:
        raise InputError(Problem("Decide", "comparison", f"must be one of {', '.join(COMPARISONS)} (got {comparison!r})"))
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise InputError(Problem("Decide", "threshold", f"must be a number (got {threshold!r})"))
    return f"{outcome} {op} {float(threshold):.6g}"


def satisficing(outcome: str, threshold: float | None) -> str | None:
    """The satisficing condition "the outcome is at least (or, for a lower-is-better outcome, at
    most) the threshold", or None without a threshold."""
    if threshold is None:
        return None
    return condition(outcome, "<=" if labels.better(outcome) < 0 else ">=", threshold)


@dataclass
class Explored:
    """A finished exploration in memory."""

    exploration: Any  # simulation.decision.Exploration
    samples: int
    replicates: int
    runs: int
    seconds: float


class Decision:
    """Explore the chosen strategies of a scenario across its uncertainties, in the background.

    Args:
        scenario: the scenario (with an ``uncertainties:`` section).
        strategies: ``{name: overrides}``; the baseline (the file as written) is always included.
        samples: futures drawn from the Latin hypercube.
        replicates: runs per future and strategy (the same seeds everywhere).
        seed: base seed (default: the scenario's).
        steps: about how many times progress is reported (and stopping is possible).

    Raises:
        InputError: no uncertainties, or counts out of range.
    """

    def __init__(self, scenario: Scenario, strategies: dict[str, dict[str, Any]], samples: int, replicates: int,
                 seed: int | None = None, steps: int = 40):
        problems = []
        if not has_uncertainties(scenario):
            problems.append(Problem("Decide", "uncertainties", "this scenario has no uncertainties: section"))
        for name, v, lo, hi in (("futures", samples, MIN_SAMPLES, MAX_SAMPLES),
                                ("replicates", replicates, MIN_REPLICATES, MAX_REPLICATES)):
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                problems.append(Problem("Decide", name, f"must be a whole number from {lo} to {hi} (got {v!r})"))
        if problems:
            raise InputError(problems)
        self.scenario = scenario
        self.strategies = {"baseline": dict(strategies.get("baseline", {})),
                           **{k: dict(v) for k, v in strategies.items() if k != "baseline"}}
        self.samples, self.replicates, self.seed = samples, replicates, seed
        pairs = samples * len(self.strategies)
        # a task is the replicates of a few (future, strategy) pairs, each pair one batch
        self.chunk_size = replicates * max(1, math.ceil(pairs / steps))

    @property
    def total_runs(self) -> int:
        return self.samples * len(self.strategies) * self.replicates

    def run(self, on_progress: Callable[[Progress], None] | None = None,
            cancel: threading.Event | None = None) -> Explored | None:
        """Run the exploration; None if ``cancel`` was set before it finished."""
        import warnings

        from ..decision import explore, from_frame

        progress = Progress(0, self.total_runs)
        if on_progress:
            on_progress(progress)
        if cancel is not None and cancel.is_set():
            return None

        def report(done: int, total: int) -> None:
            progress.done = done
            if on_progress:
                on_progress(progress)
            if cancel is not None and cancel.is_set():
                raise _Stopped

        t0 = time.monotonic()
        try:
            with warnings.catch_warnings():
                # "this strategy sets an uncertain key itself": shown beside the strategies instead
                warnings.simplefilter("ignore")
                frame = explore(self.scenario, self.samples, self.replicates, strategies=self.strategies,
                                seed=self.seed, out=None, executor="serial", progress=report,
                                chunk_size=self.chunk_size)
        except _Stopped:
            return None
        exp = from_frame(frame, [u for u in frame.columns if u in _paths(self.scenario)], list(self.strategies))
        return Explored(exp, self.samples, self.replicates, len(frame), time.monotonic() - t0)


def _paths(sc: Scenario) -> list[str]:
    from ..decision.spec import uncertainties

    return [u.path for u in uncertainties(sc)]


def fixed_by_strategy(sc: Scenario, strategies: dict[str, dict]) -> dict[str, list[str]]:
    """Per strategy, the uncertain keys it sets itself (its own value is then used in every future)."""
    paths = set(_paths(sc)) if has_uncertainties(sc) else set()
    return {k: sorted(paths & set(v)) for k, v in strategies.items() if paths & set(v)}


def robustness(explored: Explored, outcome: str, threshold: float | None = None, seed: int = 0):
    """``spreadsim robust`` on the exploration: a :class:`simulation.decision.RobustResult`."""
    from ..decision import robust

    return robust(explored.exploration, outcome, satisfice=satisficing(outcome, threshold),
                  bootstrap=ROBUST_BOOTSTRAP, seed=seed)


def default_threshold(explored: Explored, strategy: str, outcome: str, comparison: str = "below") -> float:
    """A starting failure threshold at which about half of the futures fail, so that PRIM has both
    sides to separate: a future fails when at least half its replicates are below (above) the
    threshold, so this is the median over the futures of each future's lower (upper) median
    replicate: of the cuts between those values, the one at which the share of futures failing is
    closest to a half (rounded to 3 significant figures)."""
    import numpy as np

    exp = explored.exploration
    v = exp.values(outcome)[:, exp.strategies.index(strategy), :]
    v = np.sort(np.where(np.isfinite(v), v, np.nan), axis=1)
    k = math.ceil(v.shape[1] / 2)
    per_future = v[:, k - 1] if COMPARISONS.get(comparison, comparison) in ("<", "<=") else v[:, v.shape[1] - k]
    per_future = per_future[np.isfinite(per_future)]
    if not per_future.size:
        return 0.0
    below = COMPARISONS.get(comparison, comparison) in ("<", "<=")
    # among the midpoints between distinct values (outcomes such as a share of 40 sites tie often),
    # the one at which the share of futures failing is closest to a half
    vals = np.unique(per_future)
    if vals.size == 1:
        return float(f"{float(vals[0]):.3g}")
    cuts = np.array([float(f"{c:.3g}") for c in (vals[:-1] + vals[1:]) / 2])
    fail = np.array([np.mean(per_future < c) if below else np.mean(per_future > c) for c in cuts])
    return float(cuts[int(np.argmin(np.abs(fail - 0.5)))])


def failure_boxes(explored: Explored, strategy: str, outcome: str, comparison: str, threshold: float,
                  seed: int = 0):
    """``spreadsim discover`` on the exploration: a :class:`simulation.decision.DiscoverResult`."""
    from ..decision import discover

    return discover(explored.exploration, strategy, condition(outcome, comparison, threshold),
                    bootstrap=DISCOVER_BOOTSTRAP, seed=seed)


def robustness_png(res) -> bytes:
    """The lab's robustness figure (outcome across futures; regret with its interval), as PNG,
    drawn on a Figure of its own (never pyplot: the page draws from several threads)."""
    from matplotlib.figure import Figure

    from .compare import _png

    fig = Figure(figsize=(11, 0.6 * len(res.strategies) + 2.2), constrained_layout=True)
    res.plot(ax=fig.subplots(1, 2))
    return _png(fig)


# ------------------------------------------------------------------------------------- as HTML
def _fmt(v: float, outcome: str, share: bool = False) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    if share:
        return f"{v:.0%}"
    if labels.is_share(outcome):
        return f"{100 * v:.1f}%"
    return f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def robustness_html(res) -> str:
    """The robustness table, ranked by mean regret: per strategy the outcome's mean and 10th-90th
    percentiles across futures, the regret (mean with its 95% interval, 90th percentile, worst),
    the probability of being best and the satisficing share (with their 95% intervals); then the
    ranking in words and its stability statement."""
    t = res.table
    out = res.outcome
    sat = res.satisfice is not None
    head = ("<tr><th>rank</th><th>strategy</th><th>mean [95%]</th><th>10th-90th percentile of futures</th>"
            "<th>regret: mean [95%]</th><th>regret: 90th pct</th><th>regret: worst</th><th>best in [95%]</th>"
            + ("<th>meets the threshold in [95%]</th>" if sat else "") + "</tr>")
    rows = []
    for i, s in enumerate(res.ranking(), 1):
        r = t.loc[s]

        def ci(k, share=False):
            return (f"{_fmt(r[k], out, share)} <span class='ss-muted'>[{_fmt(r[k + '_low'], out, share)}, "
                    f"{_fmt(r[k + '_high'], out, share)}]</span>")

        rows.append(f'<tr class="ss-robust" data-strategy="{html.escape(s)}" data-rank="{i}" '
                    f'data-regret="{r.regret_mean:.6g}" data-pbest="{r.p_best:.6g}">'
                    f"<td>{i}</td><td>{html.escape(labels.strategy_label(s))}</td><td>{ci('mean')}</td>"
                    f"<td>{_fmt(r.p10, out)} to {_fmt(r.p90, out)}</td><td>{ci('regret_mean')}</td>"
                    f"<td>{_fmt(r.regret_p90, out)}</td><td>{_fmt(r.regret_max, out)}</td><td>{ci('p_best', True)}</td>"
                    + (f"<td>{ci('satisficing', True)}</td>" if sat else "") + "</tr>")
    order = res.ranking()
    words = (f"Most robust for {html.escape(labels.output_label(out))}: {html.escape(labels.strategy_label(order[0]))}"
             + (", then " + ", then ".join(html.escape(labels.strategy_label(s)) for s in order[1:]) if len(order) > 1 else "")
             + " (ranked by mean regret, the shortfall from the best strategy in the same future).")
    stab = res.stability
    cls = "ss-stable" if stab["stable"] else "ss-unstable"
    notes = "".join(f"<p class='ss-muted'>{html.escape(n)}</p>" for n in res.notes)
    return (f'<div style="overflow-x: auto"><table class="ss-diff-table ss-robust-table">{head}{"".join(rows)}</table></div>'
            f'<p class="ss-ranking">{words}</p>'
            f'<p class="ss-stability {cls}" data-stable="{int(stab["stable"])}">{html.escape(stab["sentence"])}</p>{notes}')


def boxes_html(res) -> str:
    """The failure boxes: the sentence, then per box its coverage and density and the restricted
    uncertainties with their low and high ends, and the stability of the first box (how often each
    uncertainty is restricted in the first box of the resamples; discover measures no other)."""
    parts = [f'<p class="ss-box-sentence">{html.escape(res.sentence)}</p>']
    for b, g in res.boxes.groupby("box"):
        r0 = g.iloc[0]
        rows = "".join(
            f'<tr class="ss-box-limit" data-parameter="{html.escape(r.parameter)}">'
            f"<td>{html.escape(labels.param_label(r.parameter))} <span class='ss-muted'>({html.escape(r.parameter)})</span></td>"
            f"<td>{_limit(res, r.parameter, r.low)}</td><td>{_limit(res, r.parameter, r.high)}</td>"
            f"<td>{res.x[r.parameter].min():.3g} to {res.x[r.parameter].max():.3g}</td>"
            + (f"<td>{r.restricted_share:.0%}</td>" if b == 1 else "") + "</tr>" for r in g.itertuples())
        parts.append(
            f'<div class="ss-box" data-box="{b}" data-coverage="{r0.coverage:.6g}" data-density="{r0.density:.6g}">'
            f"<b>Box {b}</b>: coverage {r0.coverage:.0%} (share of all failures inside), density {r0.density:.0%} "
            f"(share of the {int(r0.futures_in_box)} futures inside that fail)"
            "<table class='ss-diff-table'><tr><th>uncertainty</th><th>low</th><th>high</th><th>explored range</th>"
            + ("<th>restricted in resamples</th>" if b == 1 else "") + f"</tr>{rows}</table></div>")
    parts.append(f"<p class='ss-muted'>{html.escape(res.stability_sentence)}</p>")
    return "".join(parts)


def _limit(res, name: str, v: float) -> str:
    codes = res.codes.get(name)
    if codes:
        i = int(round(v))
        return html.escape(str(codes[min(max(i, 0), len(codes) - 1)]))
    return f"{v:.3g}"
