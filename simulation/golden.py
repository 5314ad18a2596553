"""Golden outputs: the stored results of a few bundled scenarios and seeds, for regression tests.

``tests/test_golden.py`` runs each case below and compares its summary (every output of
:data:`simulation.runner.SUMMARY_KEYS`) and a few monthly series with the stored file
``tests/golden/<case>.json``, to a relative tolerance of 1e-12 (last-bit differences between CPUs'
vectorised maths are tolerated; any change to the model is not). A change to the model's outputs is
therefore never silent: when it is meant (a new mechanism, a recalibration), regenerate the files
with one deliberate command and review the diff it prints before committing them::

    python -m simulation.golden --write      # or: make golden
    python -m simulation.golden              # check only: prints the differences, exit code 1 if any

The diff lists, per case, each output whose value changed (old -> new) and, per monthly series,
how many months changed and the largest change.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOLDEN_DIR = ROOT / "tests" / "golden"

#: (case name, scenario file relative to the repository, seed, overrides)
CASES = (
    ("demo_seed1", "scenarios/demo.yaml", 1, {}),
    ("demo_seed7", "scenarios/demo.yaml", 7, {}),
    ("action_schools_bc_seed3", "scenarios/cases/action_schools_bc.yaml", 3, {}),
    ("matching_michigan_seed2", "scenarios/cases/matching_michigan.yaml", 2, {}),
    ("threshold_seed1", "scenarios/classic/threshold.yaml", 1, {}),
    # every optional mechanism on at once (assurance with a capacity, aftercare, shocks with a funding
    # cut, collaboratives, a train-the-trainer cascade, free adaptation), so that none is unguarded
    ("demo_everything_seed5", "scenarios/demo.yaml", 5, {
        "months": 72, "strategy.assurance.interval": 3, "strategy.assurance.capacity": 8, "strategy.support.aftercare": 3,
        "shocks.rate": 0.03, "shocks.months": [30], "shocks.severity": 0.3, "shocks.funding_cut": 0.2,
        "strategy.collaborative.enabled": True, "strategy.train_the_trainer.enabled": True,
        "strategy.train_the_trainer.after": 6, "strategy.adaptation": "free", "strategy.replication_package": 0.3,
        "workforce.concurrent_initiatives": 2}),
)

#: monthly series stored with the summary (stage counts and outputs)
COLUMNS = ("exploration", "initial", "full", "discontinued", "adopted", "reach", "mean_fidelity", "benefit",
           "attributable_benefit", "support_used")

RTOL = 1e-12


def _num(x) -> float | int | None:
    """A JSON-safe number: NaN as null, integers as integers."""
    if x is None:
        return None
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return int(x)
    x = float(x)
    if math.isnan(x):
        return None
    return int(x) if x.is_integer() and abs(x) < 2**53 else x


def compute(name: str) -> dict:
    """Run the case ``name`` and return its golden record."""
    from .runner import SUMMARY_KEYS, run
    from .scenario import load_scenario

    case = {c[0]: c for c in CASES}[name]
    _, file, seed, overrides = case
    sc = load_scenario(ROOT / file)
    if overrides:
        sc = sc.with_overrides(overrides, "golden")
    r = run(sc, seed=seed, agents=False)
    ts = r.timeseries
    return {
        "case": name,
        "scenario": file,
        "seed": seed,
        "overrides": overrides,
        "summary": {k: _num(r.summary[k]) for k in SUMMARY_KEYS},
        "timeseries": {c: [_num(v) for v in ts[c].tolist()] for c in COLUMNS if c in ts.columns},
    }


def path_of(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def _shown(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def load(name: str) -> dict | None:
    p = path_of(name)
    return json.loads(p.read_text()) if p.exists() else None


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a == b or abs(a - b) <= RTOL * max(abs(a), abs(b))


def diff(old: dict | None, new: dict) -> list[str]:
    """Human-readable differences between a stored record and a new one ([] when they agree)."""
    if old is None:
        return [f"{new['case']}: no stored golden file ({_shown(path_of(new['case']))})"]
    out = []
    for k in ("scenario", "seed", "overrides"):
        if old.get(k) != new[k]:
            out.append(f"{new['case']}: {k} {old.get(k)!r} -> {new[k]!r}")
    keys = list(dict.fromkeys([*old.get("summary", {}), *new["summary"]]))
    for k in keys:
        a, b = old.get("summary", {}).get(k, "absent"), new["summary"].get(k, "absent")
        if "absent" in (a, b) or not _same(a, b):
            out.append(f"{new['case']}: summary.{k}: {a} -> {b}")
    cols = list(dict.fromkeys([*old.get("timeseries", {}), *new["timeseries"]]))
    for c in cols:
        a, b = old.get("timeseries", {}).get(c), new["timeseries"].get(c)
        if a is None or b is None or len(a) != len(b):
            out.append(f"{new['case']}: timeseries.{c}: {'absent' if a is None else f'{len(a)} months'} -> "
                       f"{'absent' if b is None else f'{len(b)} months'}")
            continue
        changed = [i for i, (x, y) in enumerate(zip(a, b)) if not _same(x, y)]
        if changed:
            big = max((abs(a[i] - b[i]) for i in changed if a[i] is not None and b[i] is not None), default=float("nan"))
            out.append(f"{new['case']}: timeseries.{c}: {len(changed)} of {len(a)} months differ (first month "
                       f"{changed[0]}: {a[changed[0]]} -> {b[changed[0]]}; largest change {big:.6g})")
    return out


def write(name: str, record: dict) -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    # one line per output and per monthly series: small files whose git diffs read well
    head = {k: v for k, v in record.items() if k not in ("summary", "timeseries")}
    lines = ["{"] + [f" {json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()]
    for part in ("summary", "timeseries"):
        items = list(record[part].items())
        lines.append(f" {json.dumps(part)}: {{")
        lines += [f"  {json.dumps(k)}: {json.dumps(v)}{',' if i < len(items) - 1 else ''}" for i, (k, v) in enumerate(items)]
        lines.append(" }," if part == "summary" else " }")
    path_of(name).write_text("\n".join(lines) + "\n}\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m simulation.golden",
                                 description="Check (default) or regenerate (--write) the golden outputs in tests/golden/.")
    ap.add_argument("--write", action="store_true", help="store the current outputs (after printing what changes)")
    ap.add_argument("cases", nargs="*", help="cases to check or write (default: all)", metavar="CASE")
    args = ap.parse_args(argv)
    names = args.cases or [c[0] for c in CASES]
    unknown = [n for n in names if n not in {c[0] for c in CASES}]
    if unknown:
        print(f"unknown case(s): {', '.join(unknown)}; cases are: {', '.join(c[0] for c in CASES)}", file=sys.stderr)
        return 2
    changes = 0
    for name in names:
        new = compute(name)
        lines = diff(load(name), new)
        changes += bool(lines)
        for line in lines:
            print(line)
        if args.write and lines:
            write(name, new)
            print(f"wrote {_shown(path_of(name))}")
    if not changes:
        print(f"golden outputs unchanged ({len(names)} cases)")
        return 0
    if args.write:
        print(f"\n{changes} golden file(s) rewritten: review the differences above, then commit tests/golden/.")
        return 0
    print(f"\n{changes} case(s) differ from tests/golden/. If the change is meant, run `python -m simulation.golden "
          "--write` (or `make golden`), review the diff it prints and commit tests/golden/.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
