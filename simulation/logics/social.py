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
good unit does" and adds a norm pressure. Neighbours who use the innovation help a site progress and
lower its pressure to abandon (lateral support; collaboratives, source 003).
"""

from __future__ import annotations

import numpy as np

from . import Pressures


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
        abandon = (w * par.abandon) * (1.0 - par.lateral_support * m.nb_share) * (1.0 + m.fatigue) * (2.0 - par.legitimacy)
    return Pressures(engage, progress, abandon)
