"""Mechanical logic: spread as planned replication by a central programme.

Implementation science's view (Greenhalgh & Papoutsi 2019, source 004; NIRN stages, source 000):
a programme with limited support capacity invites sites in its chosen order (seeding rule, waves),
supports them through exploration, installation and initial implementation, trains them (progress
and competence) and coaches fidelity up (Scaling What Works, source 002). When funding ends, sites
that relied on support feel pressure to abandon, the less so the more competent they are
(THIS Institute guide on sustainability, source 003).
"""

from __future__ import annotations

import numpy as np

from . import Pressures


def update(m, par) -> None:
    """State changes from support this month: coaching raises fidelity, training raises competence."""
    sup = np.flatnonzero(m.supported & m._using)
    if not len(sup):
        return
    w = par.weight
    m.fidelity[sup] += w * par.coach * (1.0 - m.fidelity[sup])
    m.competence[sup] += w * par.skill * (1.0 - m.competence[sup])


def pressures(m, par) -> Pressures:
    """Engage invited sites; move supported sites on; abandonment once support has gone."""
    w = par.weight
    engage = (w * par.push) * m.invited
    progress = (w * par.train) * m.supported
    abandon = None
    if not m.funded and par.dependency > 0:
        # sites that leaned on support and neither built competence nor kept faithful delivery let go first
        abandon = (w * par.dependency) * (1.0 - m.competence * m.fidelity) * m.ever_supported
    return Pressures(engage, progress, abandon)
