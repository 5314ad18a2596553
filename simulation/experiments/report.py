"""The printed report of an experiment: outcomes and paired differences, in tables that fit the
terminal (at most 100 columns).

A table with many strategies is folded: its columns are split into blocks that fit the width, each
block repeating the outcome names, so that nothing wraps mid-number. Outcomes are named in words
(:func:`simulation.labels.output_label`); strategies keep their names, which are what
``--strategies`` and ``--baseline`` take.
"""

from __future__ import annotations

import math
import shutil
from typing import TYPE_CHECKING

from ..labels import OUTPUTS, output_label
from .metrics import TABLE_METRICS

if TYPE_CHECKING:  # pragma: no cover
    from .result import ExperimentResult

#: widest a printed table may be
MAX_WIDTH = 100


def width() -> int:
    """The width to print in: the terminal's, at most :data:`MAX_WIDTH` (and at least 60)."""
    cols = shutil.get_terminal_size((MAX_WIDTH, 24)).columns
    return max(60, min(MAX_WIDTH, cols))


def _decimals(v: float) -> int:
    """Decimals that show about three significant digits of ``v`` (none from 100 up)."""
    if v == 0 or math.isnan(v):
        return 3
    if abs(v) >= 100:
        return 0
    return max(0, 2 - math.floor(math.log10(abs(v))))


def fmt_ci(mean: float, lo: float, hi: float, pct: bool, signed: bool = False) -> str:
    """``45.2% [43.1, 47.3]``, ``+2.1 pp [0.4, 3.8]`` or ``1,234 [1,180, 1,290]``."""
    if mean is None or math.isnan(mean):
        return "n/a"
    sign = "+" if signed else ""
    if pct:
        unit = " pp" if signed else "%"
        head = f"{mean * 100:{sign}.1f}{unit}"
        if math.isnan(lo):
            return head
        return f"{head} [{lo * 100:{sign}.1f}, {hi * 100:{sign}.1f}]"
    half = (hi - lo) / 2 if not (math.isnan(lo) or math.isnan(hi)) else math.nan
    # two significant digits of the interval's half-width (three of the mean without an interval)
    d = min(6, max(0, 1 - math.floor(math.log10(half)))) if half and not math.isnan(half) else _decimals(mean)
    fmt = f"{sign},.{d}f"
    if math.isnan(lo):
        return f"{mean:{fmt}}"
    return f"{mean:{fmt}} [{lo:{fmt}}, {hi:{fmt}}]"


def fold(title: str, header: list[str], rows: list[list[str]], max_width: int | None = None) -> str:
    """A text table whose first column names the rows, split into blocks of columns that each fit
    ``max_width`` characters (the first column repeated in every block)."""
    max_width = max_width or width()
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    first = widths[0]
    blocks: list[list[int]] = []
    used = first
    for i in range(1, len(header)):
        if blocks and used + 2 + widths[i] <= max_width:
            blocks[-1].append(i)
            used += 2 + widths[i]
        else:
            blocks.append([i])
            used = first + 2 + widths[i]
    lines = [title]
    for b, cols in enumerate(blocks):
        if b:
            lines.append("")
        idx = [0, *cols]
        lines.append("  ".join(header[i].ljust(widths[i]) if i == 0 else header[i].rjust(widths[i]) for i in idx).rstrip())
        for r in rows:
            lines.append("  ".join(r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in idx).rstrip())
    return "\n".join(_wrap(line, max_width) if k == 0 else line for k, line in enumerate(lines))


def _wrap(text: str, max_width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, max_width, break_on_hyphens=False)) or text  # paths stay whole


def _row_label(metric: str) -> str:
    out = OUTPUTS.get(metric)
    label = output_label(metric)
    if out is not None and out.unit in ("people", "months", "sites"):
        label += f" ({out.unit})"
    return label


def format_report(result: ExperimentResult, level: float = 0.95, baseline: str | None = None,
                  max_width: int | None = None) -> str:
    """The outcome table with intervals and, with two or more strategies, the paired differences,
    each at most ``max_width`` (default: :func:`width`) characters wide."""
    tab = result.table(level=level)
    strategies = result.strategies
    reps = result.runs.groupby("strategy", sort=False).size()
    n_text = f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}-{reps.max()}"
    header = ["outcome", *strategies]
    cell = {(r.strategy, r.metric): r for r in tab.itertuples()}
    rows = []
    for m, (_, pct) in TABLE_METRICS.items():
        row = [_row_label(m)]
        for s in strategies:
            r = cell[(s, m)]
            row.append(fmt_ci(r.mean, r.ci_low, r.ci_high, pct))
        rows.append(row)
    notes = ["support units: 1 = one site supported for one month"] if "cost_per_sustained_site" in TABLE_METRICS else []
    ce = result.cost_effectiveness(baseline=baseline)
    if ce["benefit_years"].notna().any():
        base = baseline or result.baseline
        ce_rows = [[r.strategy, f"{r.benefit_years:,.4g}", f"{r.total_cost:,.4g}",
                    "n/a" if math.isnan(r.per_unit) else f"{r.per_unit:.3g}",
                    "" if math.isnan(r.incremental_per_unit) else f"{r.incremental_per_unit:.3g}"] for r in ce.itertuples()]
        notes.insert(0, fold(f"Cost-effectiveness: attributable benefit over the run (person-years) per support unit of "
                             f"total cost (programme + local), ratio of means; incremental: extra benefit per extra "
                             f"unit against {base}",
                             ["strategy", "benefit (person-years)", "total cost", "per unit", "incremental per unit"],
                             ce_rows, max_width))
    parts = [fold(f"Outcomes: mean [{level:.0%} CI] over {n_text} replicates per strategy", header, rows, max_width)]
    if len(strategies) > 1:
        base = baseline or result.baseline
        diff = result.differences(baseline=base, level=level)
        dcell = {(r.strategy, r.metric): r for r in diff.itertuples()}
        others = [s for s in strategies if s != base]
        rows = []
        for m, (_, pct) in TABLE_METRICS.items():
            row = [_row_label(m)]
            for s in others:
                r = dcell[(s, m)]
                text = fmt_ci(r.mean_diff, r.ci_low, r.ci_high, pct, signed=True)
                if not math.isnan(r.ci_low) and (r.ci_low > 0 or r.ci_high < 0):
                    text += " *"
                row.append(text)
            rows.append(row)
        parts.append(fold(f"Paired difference from {base} (same replicate seeds): mean [{level:.0%} CI]; "
                          "* the interval excludes 0; pp = percentage points", ["outcome", *others], rows, max_width))
    groups = result.group_table(metrics=GROUP_ROWS, level=level)
    if groups["group"].nunique() > 1:
        gcell = {(r.strategy, r.group, r.metric): r for r in groups.itertuples()}
        rows = []
        for g in dict.fromkeys(groups["group"]):
            for m in GROUP_ROWS:
                row = [f"{g}: {_group_label(m)}"]
                for s in strategies:
                    r = gcell.get((s, g, m))
                    row.append(fmt_ci(r.mean, r.ci_low, r.ci_high, m.endswith("share")) if r is not None else "")
                rows.append(row)
        parts.append(fold(f"By group of sites: mean [{level:.0%} CI]", ["group: outcome", *strategies], rows, max_width))
    return "\n\n".join(parts + notes)


#: the brief report's outcomes: measured over all sites (they get verdicts), then conditional ones
BRIEF_ALL = ("adopted_share", "reach_share", "attributable_benefit_years", "cost_per_sustained_site")
BRIEF_CONDITIONAL = ("mean_fidelity", "abandonment", "equity_gap")
#: the brief report is at most this many lines (a test checks it)
BRIEF_LINES = 40


def format_brief(result: ExperimentResult, level: float = 0.95, baseline: str | None = None,
                 max_width: int | None = None, full: str = "report.txt") -> str:
    """What ``spreadsim compare`` prints: the paired differences first, in at most
    :data:`BRIEF_LINES` lines; the full tables are in the results folder (``full``).

    One row per strategy. Outcomes counted over all the sites come first and say "better" or
    "worse" when their interval excludes 0; measures taken among some of the sites follow, with no
    verdict (they move when the sites they are measured among move).
    """
    from .. import labels
    from ..runner import SUMMARY_KEYS

    base = baseline or result.baseline
    others = [s for s in result.strategies if s != base]
    reps = result.runs.groupby("strategy", sort=False).size()
    n_text = f"{reps.min()}" if reps.min() == reps.max() else f"{reps.min()}-{reps.max()}"
    if not others:
        return format_report(result, level=level, baseline=baseline, max_width=max_width)
    all_site = [m for m in BRIEF_ALL if m in SUMMARY_KEYS]
    conditional = [m for m in BRIEF_CONDITIONAL if m in SUMMARY_KEYS]
    diff = result.differences(baseline=base, metrics=[*all_site, *conditional], level=level)
    cell = {(r.strategy, r.metric): r for r in diff.itertuples()}
    levels = result.table(metrics=["adopted_share"], level=level)
    adopted = {r.strategy: r for r in levels.itertuples()}

    def text(s: str, m: str, judged: bool) -> str:
        r = cell[(s, m)]
        t = fmt_ci(r.mean_diff, r.ci_low, r.ci_high, labels.is_share(m), signed=True)
        clear = not math.isnan(r.ci_low) and (r.ci_low > 0 or r.ci_high < 0)
        if clear and judged and labels.better(m):
            t += " better" if r.mean_diff * labels.better(m) > 0 else " worse"
        return t

    def short(m: str) -> str:
        lab = labels.output_label(m)
        return {"attributable benefit over the run": "attributable benefit (person-years)",
                "reach (share of people)": "reach (share)"}.get(lab, lab)

    w = max_width or width()
    head = _wrap(f"Paired difference from {base} over {n_text} replicates (the same seeds): mean "
                 f"[{level:.0%} CI]; pp = percentage points", w)
    rows = [[s, *[text(s, m, True) for m in all_site]] for s in others]
    parts = [head + "\n" + fold("Counted over all the sites (better/worse: the interval excludes 0):",
                                ["strategy", *[short(m) for m in all_site]], rows, max_width)]
    if conditional:
        rows = [[s, *[text(s, m, False) for m in conditional]] for s in others]
        parts.append(fold("Among some of the sites (never judged alone: read beside adoption):",
                          ["strategy", *[short(m) for m in conditional]], rows, max_width))
    lvl = "; ".join(f"{s} {adopted[s].mean:.1%}" for s in result.strategies)
    parts.append(_wrap(f"Adopted share at the end (mean): {lvl}", w))
    parts.append(_wrap(f"Full tables (outcomes, differences, groups of sites): {full}", max_width or width()))
    return "\n\n".join(parts)


#: per-group outcomes in the printed report
GROUP_ROWS = ("adopted_share", "reach_share", "benefit_per_1000")


def _group_label(metric: str) -> str:
    return {"adopted_share": "adopted", "reach_share": "reach", "benefit_per_1000": "benefit per 1,000 people",
            "attributable_per_1000": "attributable per 1,000", "mean_fidelity": "mean fidelity"}[metric]
