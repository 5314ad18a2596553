"""Per-block parameters: runs of *different* scenarios side by side in one batch model.

A :class:`~simulation.model.SpreadModel` runs a batch as blocks of sites in the same arrays (one
block per replicate seed). Runs of a sensitivity analysis, a sweep, a calibration or an exploration
differ from each other in a few numbers only (``logics.social.q`` = 0.12 in one sample, 0.27 in
the next); such runs share a batch when their scenarios differ only in the parameters listed here,
each read by the processes either as a Python number (the same in every block) or as a float array
of shape ``(m.n,)`` (each block's value repeated over its sites). numpy broadcasting then computes
every block with its own value, with the same floating-point operations in the same order as a run
alone, so a run's outputs are identical whether it ran alone or in a batch (tests/test_blocks.py).

The rule (:func:`batch_key`): runs share a batch when their overrides are the same except for the
keys in :data:`BATCHABLE` (and any key under :data:`BATCHABLE_PREFIXES`), and those keys are the
same set with values of the same kind (null, zero or positive: a parameter that is zero switches a
process step off, and every block of a batch takes the same steps). Anything else (another network,
number of sites or months, pipeline, logics or mechanisms switched on or off, seeding rule,
waves...) is structure: runs that differ in it run in separate batches, as before.

Trait distributions (``sites.traits.*``) are read once, when each block draws its sites' traits
from its own scenario, and never again: any of them may differ within a batch.

How a process reads a batchable parameter (the convention shared with :mod:`simulation.kernels`):
``sc.logics.social.q`` is a float or an ``(m.n,)`` array, so formulas broadcast as written; sites
picked by index take :func:`at` ``(x, idx)``; a guard ``if x > 0`` takes :func:`positive` (the same
in every block of a batch, by the rule above); a per-block quantity (support capacity, package
cost) takes :func:`per_block`.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: most sites simulated side by side in one batch model (replicates, samples or value sets), shared by
#: the experiments engine and the calibration's simulator
BATCH_SITES = 100_000
#: parameters that may differ between the blocks of one batch (each process reading them handles
#: a per-site array; tests/test_blocks.py runs every one of them batched against alone)
BATCHABLE: tuple[str, ...] = (
    "logics.social.q",
    "logics.social.legitimacy",
    "logics.mechanical.push",
    "logics.ecological.adapt",
    "delivery.drift",
    "strategy.replication_package",
    "strategy.support.capacity",
    "strategy.support.funding_months",
    "strategy.support.intake_months",
)
#: every key under these may differ within a batch (read only when each block draws its traits)
BATCHABLE_PREFIXES: tuple[str, ...] = ("sites.traits.",)


def batchable(key: str) -> bool:
    """Whether an override key may differ between the blocks of one batch."""
    return key in BATCHABLE or key.startswith(BATCHABLE_PREFIXES)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return "other:" + json.dumps(value, sort_keys=True, default=repr)  # not a number: structure
    return "pos" if value > 0 else ("zero" if value == 0 else "neg")


#: batch runs of different scenarios together (False: only replicates of one scenario share a
#: batch, as before per-block parameters; for benchmarks and checks)
ACROSS = True


def batch_key(overrides: dict) -> str:
    """The batch a run's overrides belong to: runs with the same key may share a batch model.

    The non-batchable overrides in full, the batchable keys with the kind of their value (null, zero
    or positive; trait distributions' keys only).
    """
    if not ACROSS:
        return json.dumps(overrides, sort_keys=True, separators=(",", ":"), default=repr)
    fixed, kinds = {}, {}
    for k, v in overrides.items():
        k = str(k)
        if k.startswith(BATCHABLE_PREFIXES):
            kinds[k] = "trait"
        elif k in BATCHABLE:
            kinds[k] = _kind(v)
        else:
            fixed[k] = v
    return json.dumps([fixed, kinds], sort_keys=True, separators=(",", ":"), default=repr)


def _get(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def varying(scenarios: list) -> dict[str, np.ndarray]:
    """The batchable parameters whose values differ among ``scenarios``: path -> one value per
    scenario (float64). Raises ValueError if they differ in anything else (see :func:`check`)."""
    out = {}
    for path in BATCHABLE:
        values = [_get(sc, path) for sc in scenarios]
        first = values[0]
        if any(v != first for v in values[1:]):
            kinds = {_kind(v) for v in values}
            if len(kinds) > 1:
                raise ValueError(f"{path}: the scenarios of a batch differ in its kind ({', '.join(sorted(kinds))})")
            out[path] = np.asarray(values, dtype=np.float64)
    return out


def structure(sc) -> str:
    """A scenario's structure: everything but the batchable parameters (and the kinds of theirs)."""
    raw = sc.model_dump(mode="json")
    raw.get("sites", {}).pop("traits", None)
    kinds = {}
    for path in BATCHABLE:
        parts = path.split(".")
        d = raw
        for p in parts[:-1]:
            d = d[p]
        kinds[path] = _kind(d.pop(parts[-1]))
    for g in (raw.get("sites", {}).get("groups") or {}).values():
        if isinstance(g, dict):
            g.pop("traits", None)
    return json.dumps([raw, kinds, str(sc.source), str(sc.base_dir)], sort_keys=True, default=repr)


def check(scenarios: list) -> None:
    """Raise ValueError unless the scenarios differ only in batchable parameters (same kinds)."""
    first = structure(scenarios[0])
    for sc in scenarios[1:]:
        if sc is not scenarios[0] and structure(sc) != first:
            raise ValueError("the scenarios of a batch must differ only in the parameters of simulation.blocks.BATCHABLE")


class View:
    """A scenario as the processes of a batch see it: the parameters that differ between blocks
    read as per-site arrays, everything else as in the scenario (attributes are looked up once)."""

    def __init__(self, obj: Any, arrays: dict[str, np.ndarray], prefix: str = ""):
        self.__dict__["_obj"] = obj
        self.__dict__["_arrays"] = arrays
        self.__dict__["_prefix"] = prefix

    def __getattr__(self, name: str) -> Any:
        path = self._prefix + name
        arrays = self._arrays
        if path in arrays:
            value = arrays[path]
        else:
            value = getattr(self._obj, name)
            sub = path + "."
            if any(k.startswith(sub) for k in arrays):
                value = View(value, arrays, sub)
        self.__dict__[name] = value  # later reads skip __getattr__
        return value

    def __setattr__(self, name, value):
        raise AttributeError("a batch's scenario view is read-only")

    def __repr__(self) -> str:
        return f"View({self._obj!r}, varying={sorted(self._arrays)})"


def view(sc, values: dict[str, np.ndarray], N: int, blocks: np.ndarray):
    """The scenario ``sc`` with each varying parameter (one value per replicate) as a per-site
    array; ``blocks`` maps each block to its replicate (counterfactual arms take their replicate's)."""
    if not values:
        return sc
    return View(sc, {path: np.repeat(v[blocks], N) for path, v in values.items()})


def positive(x) -> bool:
    """``x > 0`` for a parameter that may be per site (the same sign in every block of a batch)."""
    if isinstance(x, np.ndarray):
        return bool(x[0] > 0)
    return x > 0


def at(x, idx: np.ndarray):
    """A parameter at the sites ``idx`` (a number stays a number)."""
    return x[idx] if isinstance(x, np.ndarray) else x


def per_block(m, x):
    """A parameter's value per block (shape ``(m.R,)``) from a per-site array; a number stays a number."""
    return x[::m.N] if isinstance(x, np.ndarray) else x


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def assignable(key: str, value: Any) -> bool:
    """Whether :func:`assign` may set this override on a validated scenario: a batchable
    parameter, or a number in a trait distribution."""
    return key in BATCHABLE or (key.startswith(BATCHABLE_PREFIXES) and _number(value))


def same_but_values(overrides: dict) -> str:
    """A key shared by overrides that differ only in the values of :func:`assignable` parameters
    (of the same kinds): a scenario made from one of them becomes another's by :func:`assign`."""
    return json.dumps({str(k): (("kind", _kind(v)) if assignable(str(k), v) else v) for k, v in overrides.items()},
                      sort_keys=True, separators=(",", ":"), default=repr)


def assign(sc, changes: dict[str, Any]):
    """A copy of a validated scenario with some :func:`assignable` parameters set, each validated
    as it is set: the field's own checks, then those of each section holding it, up to the
    scenario; None if any is refused (the caller then validates the whole scenario, which reports
    the problem properly)."""
    from pydantic import ValidationError

    try:
        new = sc.model_copy()
        for path, value in changes.items():
            parts = path.split(".")
            chain = [new]
            for p in parts[:-1]:
                chain.append(getattr(chain[-1], p).model_copy())
            setattr(chain[-1], parts[-1], value)
            if getattr(chain[-1], parts[-1]) != value:
                return None
            for parent, p, child in zip(chain[-2::-1], parts[-2::-1], chain[:0:-1]):
                setattr(parent, p, child)  # the parent's own checks see the new value
    except (ValidationError, ValueError, TypeError, AttributeError):
        return None
    return new
