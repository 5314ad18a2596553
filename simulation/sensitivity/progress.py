"""Saying what a long analysis is doing: an estimate before the runs, and a heartbeat after them.

A sensitivity analysis of the demo is thousands of runs, then minutes of bootstrap intervals and
figures; a terminal that goes quiet for a minute looks hung. :func:`estimate` times a few runs of
the scenario (batched, as the runner batches replicates) and scales them to the whole analysis;
:class:`Phase` prints what is being done and, every few seconds while it lasts, how long it has
taken so far, on standard error, so that the report on standard output stays clean.
"""

from __future__ import annotations

import sys
import threading
import time


def estimate(scenario, n_runs: int, workers: int, sample: int = 4) -> tuple[float, float]:
    """Seconds the runs of an analysis will take, roughly: ``sample`` runs of the scenario timed
    here, scaled to ``n_runs`` over ``workers`` processes. Returns (estimate, seconds spent timing)."""
    from ..experiments.core import replicate_seed
    from ..runner import run_batch

    t0 = time.perf_counter()
    run_batch(scenario, [replicate_seed(int(scenario.seed), r) for r in range(sample)], sites=False)
    spent = time.perf_counter() - t0
    # the samples' parameters move run times both ways, and several processes on shared cores do
    # not each run at full speed (0.8 of one each: a rough factor; the estimate is said to be rough)
    per_run = spent / sample
    return per_run * n_runs / (1 if workers <= 1 else 0.8 * workers), spent


def duration(seconds: float) -> str:
    """"about 40 s", "about 18 minutes", "about 2.5 hours"."""
    if seconds < 90:
        return f"about {max(1, round(seconds))} s"
    if seconds < 5400:
        return f"about {round(seconds / 60)} minutes"
    return f"about {seconds / 3600:.1f} hours"


class Phase:
    """``with Phase("analysing"):`` prints "analysing..." and then, every ``every`` seconds until
    the block ends, "analysing... 20 s" (on standard error; nothing when ``enabled`` is False)."""

    def __init__(self, text: str, enabled: bool = True, every: float = 10.0, file=None):
        self.text, self.enabled, self.every = text, enabled, every
        self.file = file or sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.t0 = 0.0

    def _beat(self) -> None:
        while not self._stop.wait(self.every):
            print(f"  {self.text}... {time.monotonic() - self.t0:.0f} s", file=self.file, flush=True)

    def __enter__(self) -> "Phase":
        self.t0 = time.monotonic()
        if self.enabled:
            print(f"{self.text}...", file=self.file, flush=True)
            self._thread = threading.Thread(target=self._beat, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1)
