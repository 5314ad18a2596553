"""Ecological logic: spread as adaptation in a complex system.

Complexity science's view (Greenhalgh & Papoutsi 2019, source 004): there is no blueprint. Sites
adapt the innovation to their context, which raises its fit but costs fidelity when core components
are touched (how far adaptation may go is the strategy's choice: strict, permitted or free; Scaling
What Works, source 002). Sites learn adaptations from neighbours, and an innovation fits better
where partners have adopted it too (interdependence). Sites start and progress on their own in
proportion to fit and capacity, and abandon where fit and adaptive capability are low. System-wide
shocks are absorbed according to adaptive capability (the model's shock phase; Dynamic
Sustainability Framework in source 003).
"""

from __future__ import annotations

import numpy as np

from . import Pressures

#: how far adaptation may go (its ceiling) and how much of it touches core components
ADAPTATION_POLICY = {"strict": (0.0, 0.0), "permitted": (0.5, 0.1), "free": (1.0, 0.6)}


def update(m, par, policy: str) -> None:
    """Users adapt towards their context and learn adaptations from neighbours; fidelity pays for core changes."""
    ceiling, core = ADAPTATION_POLICY[policy]
    if ceiling > 0:
        users = m._using
        a = m.adaptation
        room = np.maximum(ceiling - a, 0.0) * users
        drive = par.adapt * m._misfit + par.neighbour_learning * m.nb_adaptation
        da = par.weight * np.minimum(drive, 1.0) * room
        a += da
        if core > 0:
            m.fidelity -= core * da
    # effective fit: adaptation closes part of the gap, partners' adoption adds to it
    fe = m.fit_eff
    np.multiply(m._misfit, m.adaptation, out=fe)
    fe += m.fit
    if par.partners > 0:
        fe += (par.partners * par.weight) * m.nb_share
    np.minimum(fe, 1.0, out=fe)


def pressures(m, par) -> Pressures:
    """Self-started exploration and progress driven by fit; abandonment where fit and capability are low."""
    w = par.weight
    engage = (w * par.explore) * m.fit_eff
    progress = (w * par.learn) * m.fit_eff * m.capacity
    abandon = (w * par.abandon) * (1.0 - m.fit_eff) * (1.0 - m.adaptive_capability)
    return Pressures(engage, progress, abandon)
