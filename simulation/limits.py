"""Limits on what spreadsim accepts, and the memory a model will need, in one place.

Every number a scenario, a data file or an option may hold is bounded here, so that a typo
(``capacity: 10**30``, ``--samples 2**40``, a month of 10**12 in observed data) or a hostile file
(a YAML alias bomb, ``/dev/zero`` as a network) is refused with one clear message instead of
exhausting the machine. The scenario schema applies :data:`MAX_INT` and :data:`MAX_FLOAT` to every
field automatically (see ``simulation.scenario._Section``).

Memory
------
:func:`model_bytes` estimates the peak memory of one model (a run, or a batch of replicates side by
side) from the number of sites, of ties (non-zero entries of the adjacency matrix, both directions
of an undirected tie), of months and of replicates::

    bytes = BASE_BYTES + sites * R * (SITE_BYTES + AGENT_BYTES if agents)
            + ties * R * TIE_BYTES + (months + 1) * R * MONTH_BYTES

The constants were measured on the development machine (2026-11, numpy 2, scipy 1.16, Mesa 3.5)
as the growth of peak resident memory (``ru_maxrss``) of a fresh process over its baseline after a
tiny warm-up run, for ``runner.run`` and ``runner.run_batch`` on networks from 100 to 200,000
sites, 0 to 6 million ties, up to 100,000 months and up to 100 replicates, then rounded up (the
estimate is 10-40% above every measurement). ``python -m simulation.limits`` measures them again;
rerun it when the model's arrays change and update the constants below.

===================== ========= ==========================================================
measurement           measured  what it covers
===================== ========= ==========================================================
per site              412 B     state arrays, traits, per-site outputs (``sites.csv``)
per site, Mesa agents 330 B     one ``Site`` agent per site (``run(..., agents=True)``)
per tie               26-58 B   sparse matrix and its transpose, build temporaries
                                (a ``complete`` network: 38 B per tie, dense temporaries included)
per month, replicate  257 B     stage counts, monthly series, ``timeseries.csv`` frame
===================== ========= ==========================================================

:func:`memory_limit` is the memory a model may use: ``SPREADSIM_MEMORY_LIMIT`` if set (bytes, or
with a unit: ``8G``, ``512M``), else :data:`MEMORY_SHARE` of the smallest of the machine's
physical memory, the cgroup (container) limit and the address-space limit.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import sys

from .errors import InputError, Problem

# ------------------------------------------------------------------------------------ numbers
#: largest whole number a scenario field takes unless the field declares its own upper bound: more
#: sites, months, trainees or support slots than any real system has; larger values are typos
MAX_INT = 10**9
#: largest magnitude of a number in a scenario unless the field declares its own bound: sums over
#: a million sites and 100,000 months of such values stay finite in float64
MAX_FLOAT = 1e15
#: largest seed (seeds are 63-bit: ``experiments.replicate_seed`` derives seeds below 2**63)
MAX_SEED = 2**63 - 1
#: longest horizon, in months (about 8,300 years)
MAX_MONTHS = 100_000
#: most model runs one command may ask for (about 10 hours at 270 runs/s); beyond, the run table
#: alone would not fit in memory
MAX_RUNS = 10_000_000
#: most digits YAML may give one number (Python refuses to convert longer ones)
MAX_DIGITS = 400

# -------------------------------------------------------------------------------------- files
#: largest scenario file read (bundled scenarios are under 10 KB)
MAX_SCENARIO_BYTES = 1 << 20
#: largest network, site-table or GraphML file read (an edge list of a million sites with five
#: million ties is about 130 MB); pandas needs about ten times the file's size to read it
MAX_TABLE_BYTES = 256 << 20
#: largest observed-data file read
MAX_OBSERVED_BYTES = 64 << 20
#: deepest nesting of lists and mappings accepted in YAML (scenarios nest five levels)
MAX_YAML_DEPTH = 40
#: most nodes (values, lists, mappings) in one YAML document
MAX_YAML_NODES = 200_000

# ------------------------------------------------------------------------------------- memory
BASE_BYTES = 64 << 20
SITE_BYTES = 450
AGENT_BYTES = 350
TIE_BYTES = 60
MONTH_BYTES = 260
#: bytes per site and month a site history keeps (stage, fidelity, competence, capacity, support, benefit)
HISTORY_BYTES = 18
#: share of the machine's memory one model may take
MEMORY_SHARE = 0.8
ENV_LIMIT = "SPREADSIM_MEMORY_LIMIT"


def model_bytes(sites: int, ties: int, months: int, replicates: int = 1, *, agents: bool = False,
                counterfactual: bool = False, history: bool = False) -> int:
    """Estimated peak memory, in bytes, of one model (see the module docstring).

    Args:
        sites: sites per replicate.
        ties: non-zero entries of the adjacency matrix per replicate (an undirected tie counts twice).
        months: the horizon.
        replicates: replicates side by side in one batch model.
        agents: one Mesa agent per site (single runs only).
        counterfactual: each replicate also runs its no-programme arm (twice the blocks).
        history: every site's state is kept every month.
    """
    per_site = SITE_BYTES + (HISTORY_BYTES * (int(months) + 1) if history else 0)
    r = max(1, int(replicates)) * (2 if counterfactual else 1)
    return int(BASE_BYTES + int(sites) * (AGENT_BYTES if agents else 0)
               + r * (int(sites) * per_site + int(ties) * TIE_BYTES + (int(months) + 1) * MONTH_BYTES))


def _parse_bytes(text: str) -> int | None:
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        return None
    scale = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def _physical() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def _cgroup() -> int | None:
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            return int(text)
    return None


def _rlimit() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None
    return None if soft in (-1, resource.RLIM_INFINITY) else int(soft)


def memory_limit() -> tuple[int, str]:
    """The memory one model may use, in bytes, and where that limit comes from.

    Raises:
        InputError: ``SPREADSIM_MEMORY_LIMIT`` is set but is not a size.
    """
    env = os.environ.get(ENV_LIMIT)
    if env:
        value = _parse_bytes(env)
        if value is None or value <= 0:
            raise InputError(Problem(ENV_LIMIT, "", "must be a size such as 8G, 512M or a number of bytes"))
        return value, ENV_LIMIT
    found = [(v, why) for v, why in ((_physical(), "physical memory"), (_cgroup(), "the container's memory limit"),
                                     (_rlimit(), "the address-space limit (ulimit -v)")) if v]
    if not found:  # pragma: no cover - nothing known: do not refuse
        return 2**62, "no known limit"
    value, why = min(found)
    return int(value * MEMORY_SHARE), f"{MEMORY_SHARE:.0%} of {why}"


def fmt_bytes(n: float) -> str:
    """``1.5 GiB``, ``300 MiB``..."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} B"


def check_memory(sites: int, ties: int, months: int, replicates: int = 1, *, agents: bool = False,
                 counterfactual: bool = False, history: bool = False,
                 concurrent: int = 1, source: str = "<python>", field: str = "sites.n") -> int:
    """Refuse (InputError naming ``source`` and ``field``) a model that would not fit in memory.

    Args:
        sites, ties, months, replicates, agents: as for :func:`model_bytes`.
        concurrent: models built at the same time on this machine (pool workers).
        source, field: what the error names.

    Returns:
        The estimate, in bytes.
    """
    need = model_bytes(sites, ties, months, replicates, agents=agents, counterfactual=counterfactual,
                       history=history) * max(1, int(concurrent))
    limit, why = memory_limit()
    if need > limit:
        what = f"{sites:,} sites, {ties:,} tie entries, {months:,} months"
        if replicates > 1:
            what += f", {replicates:,} replicates side by side"
        if counterfactual:
            what += ", each with its counterfactual arm"
        if history:
            what += ", every site's history kept"
        if concurrent > 1:
            what += f", {concurrent} at once"
        raise InputError(Problem(source, field, f"the model would need about {fmt_bytes(need)} of memory ({what}); "
                                 f"the limit is {fmt_bytes(limit)} ({why}); use fewer sites, ties, months or "
                                 f"workers, or set {ENV_LIMIT}"))
    return need


def check_runs(n: int, source: str, field: str = "") -> None:
    """Refuse a command that asks for more than :data:`MAX_RUNS` model runs."""
    if n > MAX_RUNS:
        raise InputError(Problem(source, field, f"asks for {n:,} model runs; at most {MAX_RUNS:,} are allowed "
                                 "(fewer samples, replicates or strategies)"))


def estimated_ties(network, n: int, sites=None) -> int:
    """Expected non-zero entries of the adjacency matrix (each undirected tie counts twice) of a
    generated network of ``n`` sites, from the generator's actual parameters (0 for ``file``, whose
    ties are counted once read):

    * ``small_world``: n k (a ring lattice of k neighbours each; rewiring keeps the count);
    * ``random``: n(n - 1) p with p = min(1, degree / (n - 1));
    * ``scale_free``: 2 m (n - m) (each new site brings m ties);
    * ``regions``: twice the expected ties of the block model, sum over blocks of C(s_i, 2) p_ii plus
      sum over pairs of blocks of s_i s_j p_ij, with the probabilities ``p_within``/``p_between``
      or those ``degree`` and ``within`` give, and the block sizes the generator makes (``sites``
      gives the group sizes of ``regions: groups``);
    * ``complete``: n(n - 1).
    """
    kind = network.type
    n = int(n)
    if n < 2:
        return 0
    if kind == "small_world":
        return n * min(int(network.k), n - 1)
    if kind == "random":
        return int(math.ceil(n * (n - 1) * min(1.0, float(network.degree) / (n - 1))))
    if kind == "scale_free":
        m = min(int(network.m), n - 1)
        return 2 * m * (n - m)
    if kind == "complete":
        return n * (n - 1)
    if kind == "regions":
        if network.regions == "groups":
            if sites is None:
                return int(math.ceil(n * min(float(network.degree), n - 1)))
            sizes = [int(s) for s in sites.group_sizes(n).values()]
        else:
            b = max(1, min(int(network.regions), n))
            sizes = [n // b + (1 if i < n % b else 0) for i in range(b)]
        b = len(sizes)
        total = sum(sizes)
        pairs_out = (total * total - sum(s * s for s in sizes)) / 2
        if network.p_within is not None:
            p_in = [float(network.p_within)] * b
            p_out = float(network.p_between)
        else:
            p_in = [min(1.0, float(network.degree) * float(network.within) / max(1, s - 1)) for s in sizes]
            mean_out = (total - sum(sizes) / b) if b > 1 else 1
            p_out = min(1.0, float(network.degree) * (1 - float(network.within)) / max(1.0, mean_out)) if b > 1 else 0.0
        ties = sum(s * (s - 1) / 2 * p for s, p in zip(sizes, p_in)) + pairs_out * p_out
        return int(math.ceil(2 * ties))
    return 0


# ------------------------------------------------------------------------- worker processes
_MALLOC_TUNED = False


def tune_malloc() -> None:
    """Undo, in this process, what a Dask nanny's ``MALLOC_TRIM_THRESHOLD_=65536`` does to the model.

    Dask's nanny starts its workers with that variable (``distributed.nanny.pre-spawn-environ``)
    so that freed memory goes back to the system at once. Setting the trim threshold also freezes
    glibc's mmap threshold at 128 KiB, so every model array above it (a batch of replicates' state)
    is mapped and unmapped afresh, page faults and all: measured on the demo, a task of 50 runs took
    1.02 s in such a process against 0.64 s without. Raising both thresholds (mmap 32 MiB, trim
    64 MiB) in the worker gives back 0.65 s; the worker then keeps at most 64 MiB of freed heap.
    Only processes started with the variable set are touched, and only on glibc. Called by the
    experiments' tasks and by calibration's simulator, once per process.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(Exception):
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 32 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 64 * 2**20)  # M_TRIM_THRESHOLD


# ------------------------------------------------------------------------------ re-measuring
_MEASURE = r'''
import gc, json, resource, sys
from simulation.runner import run, run_batch
from simulation.scenario import from_dict
cfg = json.loads(sys.argv[1])
run(from_dict({"sites": {"n": 50}, "months": 3}), seed=1)
gc.collect()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sc = from_dict(cfg["scenario"])
if cfg["R"] > 1:
    model = run_batch(sc, list(range(cfg["R"])), sites=False)[0].model
else:
    model = run(sc, seed=1, agents=cfg["agents"]).model
print(json.dumps({"kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base, "ties": int(model.W.nnz) // cfg["R"]}))
'''

MEASURE_CONFIGS = [
    ({"sites": {"n": 100_000}, "months": 12, "network": {"type": "none"}}, 1, False),
    ({"sites": {"n": 200_000}, "months": 12, "network": {"type": "none"}}, 1, False),
    ({"sites": {"n": 200_000}, "months": 12, "network": {"type": "none"}}, 1, True),
    ({"sites": {"n": 200_000}, "months": 12, "network": {"type": "small_world", "k": 30}}, 1, False),
    ({"sites": {"n": 4_000}, "months": 12, "network": {"type": "complete"}}, 1, False),
    ({"sites": {"n": 100}, "months": 100_000, "network": {"type": "none"}}, 1, False),
    ({"sites": {"n": 1_000}, "months": 2_000}, 100, False),
]


def measure() -> list[dict]:
    """Measure peak memory of the configurations in :data:`MEASURE_CONFIGS`, each in a fresh process,
    and compare each with :func:`model_bytes` (the estimate should be above every measurement)."""
    import json
    import subprocess
    import sys

    rows = []
    for scenario, R, agents in MEASURE_CONFIGS:
        cfg = {"scenario": scenario, "R": R, "agents": agents}
        out = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps(cfg)], capture_output=True, text=True,
                             check=True)
        got = json.loads(out.stdout.strip().splitlines()[-1])
        measured = got["kib"] * 1024
        n, months = scenario["sites"]["n"], scenario["months"]
        estimate = model_bytes(n, got["ties"], months, R, agents=agents)
        rows.append({"sites": n, "ties": got["ties"], "months": months, "replicates": R, "agents": agents,
                     "measured": measured, "estimate": estimate})
    return rows


if __name__ == "__main__":  # pragma: no cover - a measuring tool
    for r in measure():
        flag = "" if r["estimate"] >= r["measured"] else "   <- estimate too low: raise the constants"
        print(f"{r['sites']:>9,} sites {r['ties']:>11,} ties {r['months']:>7,} months x{r['replicates']:<4}"
              f"{' agents' if r['agents'] else '       '}  measured {fmt_bytes(r['measured']):>10}  "
              f"estimate {fmt_bytes(r['estimate']):>10}{flag}")
