"""The app's memory of runs: earlier runs kept as faint curves, the spread of runs of the current
settings, and a sentence that says whether a difference between two runs is within that noise.

A class that writes "12.3% -> 23.7%" on the board needs to know how much two runs of the SAME
settings differ. :func:`spread` runs ``n`` replicates of the current settings on the batched engine
(the replicates side by side in one model, as ``spreadsim ensemble`` does) and :func:`noise_sentence`
compares the difference between this run and the previous one with that spread: two single runs
of the same settings differ by more than about ``2 * sqrt(2) * sd`` (sd: the replicates' standard
deviation at that month) in only about one case in twenty.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..scenario import Scenario
from .wrapper import CONTROLS, same_value

#: earlier runs kept at most
MAX_PAST = 5
#: runs in "Show N runs"
SPREAD_RUNS = 20


@dataclass(frozen=True)
class PastRun:
    """An earlier run of the page: its settings and its adopted share per month up to where it got."""

    number: int
    values: dict[str, Any]
    seed: int
    adopted: np.ndarray

    @property
    def month(self) -> int:
        return len(self.adopted) - 1


def what_changed(old_values: dict[str, Any], old_seed: int, new_values: dict[str, Any], new_seed: int) -> str:
    """How an earlier run's settings differ from the current ones, in words: "support capacity
    (sites at once) 12 sites (now 30 sites)"; "same settings, seed 3 (now 4)" when only the seed differs."""
    parts = []
    for c in CONTROLS:
        if c.name in old_values and c.name in new_values and not same_value(old_values[c.name], new_values[c.name]):
            parts.append(f"{c.label.split(' (')[0].lower()} {c.show(old_values[c.name])} (now {c.show(new_values[c.name])})")
    if not parts:
        return f"same settings, seed {old_seed}" + (f" (now {new_seed})" if old_seed != new_seed else " (the same run)")
    if old_seed != new_seed:
        parts.append(f"seed {old_seed}")
    return "; ".join(parts)


@dataclass(frozen=True)
class Spread:
    """Runs of one setting: the adopted share's mean, 5% and 95% quantiles and sd per month."""

    values: dict[str, Any]
    runs: int
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    sd: np.ndarray
    seconds: float

    def applies_to(self, values: dict[str, Any]) -> bool:
        """Whether the spread was made with these control values (any seed: replicates of a setting)."""
        return set(values) == set(self.values) and all(same_value(values[k], self.values[k]) for k in values)


def spread(scenario: Scenario, seed: int, values: dict[str, Any], runs: int = SPREAD_RUNS,
           on_progress: Callable[[int, int], None] | None = None, cancel: threading.Event | None = None) -> Spread | None:
    """``runs`` replicates of a scenario (seeds ``replicate_seed(seed, r)``), batched as ``spreadsim
    ensemble`` runs them; None if ``cancel`` was set."""
    import time

    from ..experiments.core import replicate_seed
    from ..runner import run_batch

    t0 = time.monotonic()
    seeds = [replicate_seed(seed, r) for r in range(runs)]
    step = max(1, math.ceil(runs / 4))  # four batches: progress and Stop between them
    curves = []
    for k in range(0, runs, step):
        if cancel is not None and cancel.is_set():
            return None
        for res in run_batch(scenario, seeds[k:k + step], sites=False):
            curves.append(res.timeseries["adopted_share"].to_numpy(float))
        if on_progress:
            on_progress(len(curves), runs)
    Y = np.vstack(curves)
    return Spread(dict(values), runs, Y.mean(axis=0), np.quantile(Y, 0.05, axis=0), np.quantile(Y, 0.95, axis=0),
                  Y.std(axis=0, ddof=1), time.monotonic() - t0)


def noise_sentence(adopted_now: float, month: int, previous: PastRun | None, previous_label: str,
                   band: Spread | None) -> str:
    """What a class should read into the difference between this run and the previous one.

    Returns one or two sentences (empty when there is nothing to compare and no spread yet).
    """
    out = []
    if band is not None and month < len(band.mean):
        out.append(f"{band.runs} runs of these settings: adopted at month {month} {band.mean[month]:.1%} on average, "
                   f"90% of runs between {band.low[month]:.1%} and {band.high[month]:.1%}.")
    if previous is not None and month <= previous.month:
        d = (adopted_now - float(previous.adopted[month])) * 100
        head = (f"At month {month} this run has {adopted_now:.1%} adopted, the previous run ({previous_label}) "
                f"{previous.adopted[month]:.1%}: {d:+.1f} points.")
        if band is not None and month < len(band.sd):
            limit = 2 * math.sqrt(2) * float(band.sd[month]) * 100
            if abs(d) <= limit:
                head += (f" That is within the noise: two runs of the same settings often differ by up to "
                         f"{limit:.1f} points.")
            else:
                head += (f" That is more than the noise: two runs of the same settings rarely differ by more than "
                         f"{limit:.1f} points.")
        else:
            head += " Is that more than chance? Press \u201cShow 20 runs\u201d to see how much runs of the same settings differ."
        out.append(head)
    return " ".join(out)
