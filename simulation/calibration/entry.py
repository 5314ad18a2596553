"""``calibrate``: to observed data (:mod:`.core`) or to the published patterns (:mod:`.patterns`).

The entry point chooses between the two, so that neither module imports the other back (the
pattern calibration reuses the data calibration's ABC machinery).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..scenario import Scenario, load_scenario
from .core import Calibration, calibrate_data
from .spec import calibration_spec


def calibrate(scenario: Scenario | str | Path, data: Any = None, *, params: dict[str, Any] | None = None,
              method: str | None = None, executor: str = "processes", workers: int | None = None, client=None,
              seed: int | None = None, progress: bool = True, **settings: Any) -> Calibration:
    """Fit a scenario's unknown values to observed roll-out data, or to the published patterns.

    Args:
        scenario: a scenario (or its file) whose ``calibration:`` section declares the unknowns, or
            with ``params``.
        data: observed data: a file (counts with ``month``, or a site table with adoption months), a
            DataFrame with a ``month`` column, or None for the section's ``calibration.data``.
        params: priors ``{dotted.path: {low, high[, dist, ...]}}``, replacing the section's.
        method: ``abc`` (default) or ``optimize``.
        executor: ``serial`` (reproducible bit for bit), ``processes`` (pyabc's multicore sampler;
            a process pool for the optimiser) or ``dask`` (pyabc's Dask sampler; ``client`` or a
            local cluster).
        workers: processes for ``processes`` (default: all cores).
        seed: the calibration's seed (default: the section's, else the scenario's).
        progress: show a progress bar.
        **settings: ``targets``, ``holdout``, ``draws`` and budgets (``population``, ``generations``,
            ``min_epsilon``, ``max_simulations``, ``max_minutes``, ``trials``, ``replicates``, ``batch``).

    Returns:
        A :class:`Calibration`.

    Raises:
        InputError: for a bad scenario, calibration section, parameter path or data file.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    spec = calibration_spec(scenario, params=params, method=method, seed=seed,
                            data=str(data) if isinstance(data, (str, Path)) else None, **settings)
    if spec.patterns and data is None:
        from .patterns import calibrate_patterns

        return calibrate_patterns(scenario, spec, spec.patterns, spec.pattern_replicates, executor=executor,
                                  workers=workers, client=client, progress=progress)
    return calibrate_data(scenario, data, params=params, method=method, executor=executor, workers=workers,
                          client=client, seed=seed, progress=progress, **settings)
