"""Save and share what the app shows: the setup as a scenario file, the run's tables and charts,
and one site's story.

* :func:`scenario_yaml` writes the running model's scenario (the file with the page's controls
  applied, every value resolved, the seed included) as a YAML scenario that ``spreadsim run`` runs
  to exactly the same result; files it refers to (a site table, a network) are given as absolute
  paths, since the download is saved somewhere else.
* :func:`timeseries_csv`, :func:`summary_csv` and :func:`sites_csv` are the tables ``spreadsim run``
  writes, for the run up to the month shown.
* :func:`site_story` is one site's traits and history, for the page's site inspector.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import numpy as np

from .. import labels
from ..model import STAGES, SpreadModel

#: scenario keys that name a file (relative to the scenario's folder)
FILE_KEYS = ("file",)


def _absolute_files(d: Any, sc) -> Any:
    """The scenario dict with every ``file:`` made absolute (the download is saved elsewhere)."""
    if isinstance(d, dict):
        return {k: (str(sc.resolve_path(v).resolve()) if k in FILE_KEYS and isinstance(v, str) else _absolute_files(v, sc))
                for k, v in d.items()}
    if isinstance(d, list):
        return [_absolute_files(v, sc) for v in d]
    return d


def scenario_yaml(model: SpreadModel) -> str:
    """The running model's setup as a scenario file that ``spreadsim run FILE`` reproduces exactly.

    Every value is written out resolved (defaults included), so that a later change of a default
    does not change what the file means; the seed is the run's.
    """
    import yaml

    sc = model.scenario_obj
    d = _absolute_files(sc.to_dict(), sc)
    d["seed"] = int(model.seed)
    for key in ("sensitivity", "calibration"):
        if d.get(key) is None:
            d.pop(key, None)
    changed = getattr(model, "app_overrides", {}) or {}
    source = getattr(model, "scenario_file", None) or sc.source
    head = [f"# {labels.scenario_label(sc.name)}: saved from the spreadsim app on "
            f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
            f"# from {source}" + (", with the page's controls:" if changed else ", as written"),
            *[f"#   {labels.param_label(k)}: {v!r}" for k, v in changed.items()],
            f"# Run it again exactly with: spreadsim run THIS_FILE (seed {int(model.seed)})", ""]
    return "\n".join(head) + yaml.safe_dump(d, sort_keys=False, allow_unicode=True)


def timeseries_csv(model: SpreadModel) -> bytes:
    """The run's months so far, as ``spreadsim run``'s ``timeseries.csv``."""
    from ..runner import timeseries_frame

    return timeseries_frame(model).to_csv(index=False).encode()


def summary_csv(model: SpreadModel) -> bytes:
    """The run's summary outcomes at the month shown (``output, label, value``)."""
    import pandas as pd

    from ..runner import summarise

    s = summarise(model)
    rows = [{"output": k, "label": labels.output_label(k), "value": v, "month": model.month} for k, v in s.items()]
    return pd.DataFrame(rows).to_csv(index=False).encode()


def sites_csv(model: SpreadModel) -> bytes:
    """One row per site at the month shown (``spreadsim run``'s ``sites.csv``)."""
    from ..runner import sites_frame

    return sites_frame(model).to_csv(index=False).encode()


def site_at(model: SpreadModel, x: float, y: float, pos: np.ndarray, drawn: np.ndarray, radius: float = 0.06) -> int | None:
    """The site drawn nearest a point of the network figure's data coordinates (None if none is within
    ``radius``)."""
    if len(drawn) == 0:
        return None
    d = np.hypot(pos[:, 0] - x, pos[:, 1] - y)
    k = int(np.argmin(d))
    return int(drawn[k]) if d[k] <= radius else None


def site_story(model: SpreadModel, i: int) -> dict[str, Any]:
    """One site's traits now and its history: the months it changed stage.

    Returns:
        ``{"site", "group", "stage", "traits": {label: text}, "history": [(month, stage label)],
        "supported_months"}``.
    """
    i = int(i)
    stage = STAGES[int(model.stage[i])]
    traits = {
        "context fit": f"{model.fit[i]:.2f}",
        "capacity": f"{model.capacity0[i]:.2f} at the start, {model.capacity[i]:.2f} now",
        "leadership": f"{model.leadership[i]:.2f}",
        "staff turnover": f"{model.turnover[i]:.0%} a year",
        "champions": f"{int(model.champions[i])}",
        "people served": f"{model.size[i]:,.0f}",
        "ties to other sites": f"{int(model.degree[i])}",
        "fidelity": f"{model.fidelity[i]:.2f}",
        "competence": f"{model.competence[i]:.2f}",
    }
    history: list[tuple[int, str]] = []
    supported = None
    h = getattr(model, "history", None)
    if h is not None and h.months:
        st = h.data["stage"][: h.months, i]
        changes = np.flatnonzero(np.r_[True, st[1:] != st[:-1]])
        history = [(int(t), labels.STAGE_LABELS[STAGES[int(st[t])]]) for t in changes]
        supported = int(h.data["supported"][: h.months, i].sum())
    return {"site": str(model.ids[i]), "group": str(model.group[i]), "stage": labels.STAGE_LABELS[stage],
            "traits": traits, "history": history, "supported_months": supported}
