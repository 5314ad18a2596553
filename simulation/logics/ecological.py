"""Ecological logic: spread as adaptation in a complex system.

Complexity science's view (Greenhalgh & Papoutsi 2019, source 004): there is no blueprint. Sites
adapt the innovation to their context, which raises its fit but costs fidelity when core components
are touched (how far adaptation may go is the strategy's choice: strict, permitted or free; Scaling
What Works, source 002; the fidelity side is in :mod:`simulation.processes.delivery`). Sites learn
adaptations from neighbours, and an innovation fits better where partners have adopted it too
(interdependence). Sites start and progress on their own in proportion to fit and capacity, and
abandon where fit and adaptive capability are low. System-wide shocks are absorbed according to
adaptive capability (:mod:`simulation.processes.transitions`; Dynamic Sustainability Framework in
source 003).
"""

from __future__ import annotations

import numpy as np

from ..blocks import at

from ..schema import Section, param
from . import Pressures

#: how far adaptation may go (its ceiling) and how much of it touches core components
ADAPTATION_POLICY = {"strict": (0.0, 0.0), "permitted": (0.5, 0.1), "free": (1.0, 0.6)}


class Ecological(Section):
    """Complexity-science logic: adaptation to context, partners, learning from neighbours."""

    enabled: bool = param(True, "switch the ecological logic on")
    weight: float = param(1.0, "weight of its pressures", ge=0, le=1)
    explore: float = param(0.01, "monthly probability a site with perfect fit starts exploring on its own", ge=0, le=1,
                           unit="/month", source="direction: Greenhalgh & Papoutsi (004), self-organisation; value assumed")
    learn: float = param(0.019, "monthly probability of moving on a stage at perfect fit and capacity", ge=0, le=1,
                         unit="/month", source="direction: Greenhalgh & Papoutsi (004), self-organisation; value assumed (v2's "
                                               "search value: no v3 pattern identifies it, docs/validation.md)")
    adapt: float = param(0.05, "monthly adaptation rate of delivering sites to local context", ge=0, le=1, unit="/month",
                         source="direction: Greenhalgh & Papoutsi (004); value assumed")
    neighbour_learning: float = param(0.2, "monthly share of the gap to neighbours' adaptation learned", ge=0, le=1,
                                      unit="/month", source="direction: Greenhalgh & Papoutsi (004); value assumed")
    partners: float = param(0.3, "fit gained when all partners (neighbours) have adopted", ge=0, le=1,
                            source="direction: Greenhalgh & Papoutsi (004), interdependence; value assumed")
    abandon: float = param(0.01, "monthly abandonment pressure at zero fit and adaptive capability", ge=0, le=1,
                           unit="/month", source="direction: NASSS (003); value assumed")


def update(m, par: Ecological, ceiling: float) -> None:
    """Delivering sites adapt towards their context and learn adaptations from neighbours; effective fit."""
    if ceiling > 0:
        a = m.adaptation
        idx = np.flatnonzero(m._using & (a < ceiling))  # delivering sites with room to adapt
        if len(idx):
            ai = a[idx]
            drive = at(par.adapt, idx) * m._misfit[idx] + par.neighbour_learning * m.nb_adaptation[idx]
            a[idx] = ai + par.weight * np.minimum(drive, 1.0) * (ceiling - ai)
    # effective fit: adaptation closes part of the gap, partners' adoption adds to it
    fe = m.fit_eff
    np.multiply(m._misfit, m.adaptation, out=fe)
    fe += m.fit
    if par.partners > 0:
        fe += (par.partners * par.weight) * m.nb_share
    np.minimum(fe, 1.0, out=fe)


def adaptive_capability(m) -> np.ndarray:
    """A site's capability to absorb change and shocks: mean of capacity, leadership and adaptation (0-1)."""
    return (m.capacity + m.leadership + m.adaptation) / 3.0


def pressures(m, par: Ecological) -> Pressures:
    """Self-started exploration and progress driven by fit; abandonment where fit and capability are low."""
    w = par.weight
    engage = (w * par.explore) * m.fit_eff
    progress = (w * par.learn) * m.fit_eff * m.capacity
    abandon = m.capacity + m.leadership  # 1 - adaptive capability, times 3
    abandon += m.adaptation
    np.subtract(3.0, abandon, out=abandon)
    abandon *= 1.0 - m.fit_eff
    abandon *= w * par.abandon / 3.0
    return Pressures(engage, progress, abandon)
