"""Social logic: spread through peers, norms and legitimacy.

Social science's view (Greenhalgh & Papoutsi 2019, source 004). Rules for peer influence:

* ``influence``: engagement pressure ``q`` times the prestige-weighted share of a site's neighbours
  that have adopted (opinion leaders count for more; Rogers, *Diffusion of Innovations*);
* ``threshold``: the linear-threshold model (Granovetter 1978; Watts 2002): a site engages for
  certain when the weighted share of its adopted neighbours is at least its own threshold, and never
  when it has no neighbours; synchronous, since every rule reads the state at the start of the month;
* ``bass``: imitation ``q`` times the adopted share of the whole population (global mixing; Bass 1969).

All are scaled by legitimacy (professionally led vs seen as top-down) and damped by change fatigue
(Keystone vs Matching Michigan, source 004). Once adoption passes ``bandwagon_at`` it becomes "what a
good unit does": it adds a norm pressure to engage and, scaled by legitimacy, keeps units that
use it from dropping it (``norm_keep``; Dixon-Woods et al., "Explaining Michigan", Milbank Quarterly
2011: the programme became what a good ICU signs up to). Neighbours who use the innovation help a site progress and
lower every pressure to abandon it (lateral support; collaboratives, source 003: applied with the
other modifiers of sustainment in :mod:`simulation.processes.transitions`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..schema import CALIBRATED, Section, param
from . import Pressures


class Social(Section):
    """Social-science logic: peer influence, thresholds, norms, legitimacy, lateral support."""

    enabled: bool = param(True, "switch the social logic on")
    weight: float = param(1.0, "weight of its pressures", ge=0, le=1)
    rule: Literal["influence", "threshold", "bass"] = param(
        "influence",
        "influence: prestige-weighted share of adopted neighbours; threshold: linear threshold "
        "(Granovetter 1978, Watts 2002); bass: share adopted in the whole population (Bass 1969)",
    )
    q: float = param(0.15, "monthly imitation: engagement pressure at full peer adoption", ge=0, le=1, unit="/month",
                     source="direction: Bass (1969), Rogers; value assumed (Sultan et al. 1990 average 0.38/year is for consumer products)")
    legitimacy: float = param(0.8, "professionally led (1) vs seen as top-down (0)", ge=0, le=1,
                              source="direction: Keystone vs Matching Michigan (004); value assumed")
    bandwagon_at: float = param(0.5, "adopted share of the system at which adopting becomes the norm", ge=0, le=1,
                                source="direction: Keystone, what a good unit does (004); value assumed")
    bandwagon: float = param(0.02, "monthly engagement pressure from the norm once reached", ge=0, le=1, unit="/month",
                             source="direction: Keystone (004); value assumed")
    norm_keep: float = param(0.715, "share of the pressure to abandon removed once adopting is the norm (times legitimacy)",
                             ge=0, le=1, source=CALIBRATED)
    progress: float = param(0.061, "monthly progress pressure when all neighbours are users", ge=0, le=1, unit="/month",
                            source=CALIBRATED)
    lateral_support: float = param(0.6, "share of abandonment pressure removed when all neighbours are users", ge=0, le=1,
                                   source="direction: THIS Institute (003), Keystone (004); value assumed")
    abandon: float = param(0.005, "monthly abandonment pressure with no peer support", ge=0, le=1, unit="/month",
                           source="direction: Matching Michigan (004); value assumed")


def pressures(m, par) -> Pressures:
    w = par.weight
    scale = (w * par.legitimacy) * (1.0 - m.fatigue)
    if par.rule == "bass":
        engage = (par.q * m.share_site) * scale
    elif par.rule == "threshold":
        engage = scale * ((m.nb_share >= m.threshold) & m.has_ties)
    else:
        engage = par.q * m.nb_prestige * scale
    if par.bandwagon > 0:
        norm = m.share_site >= par.bandwagon_at  # per site: its own system's adopted share
        if norm.any():
            engage = np.minimum(engage + (par.bandwagon * scale) * norm, 1.0)
    progress = (w * par.progress) * m.nb_share if par.progress > 0 else None
    abandon = None
    if par.abandon > 0:
        # top-down framing and fatigue wear a site down; peers' support acts on every pressure to
        # abandon (processes.transitions.sustain_modifier)
        abandon = (w * par.abandon * (2.0 - par.legitimacy)) * (1.0 + m.fatigue)
        if np.any(w * par.abandon * (2.0 - par.legitimacy) * 2.0 > 1.0):  # fatigue can double it: keep it a probability
            np.minimum(abandon, 1.0, out=abandon)
    return Pressures(engage, progress, abandon)
