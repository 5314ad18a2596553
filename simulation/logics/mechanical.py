"""Mechanical logic: spread as planned replication by a central programme.

Implementation science's view (Greenhalgh & Papoutsi 2019, source 004; NIRN stages, source 000):
a programme with limited support capacity invites sites in its chosen order (seeding rule, waves),
supports them through exploration, installation and initial implementation, trains them (progress
and competence: :mod:`simulation.processes.workforce`) and coaches fidelity up
(:mod:`simulation.processes.delivery`; Scaling What Works, source 002). Which sites it supports is
decided in :mod:`simulation.processes.support`.

When a site's support ends (it reached full implementation, funding ran out, capacity was cut) the
site has to carry the work alone: a *dependency* pressure to abandon, the larger the less
competence and capacity the site built while supported, fading as the months since support pass
(support ends through a transition, not a cliff: THIS Institute guide on sustainability, source
003; Dynamic Sustainability Framework). A site supported by a trainer is supported.
"""

from __future__ import annotations

import numpy as np

from ..schema import CALIBRATED, Section, param
from . import Pressures


class Mechanical(Section):
    """Implementation-science logic: a central programme engages, trains and coaches sites."""

    enabled: bool = param(True, "switch the mechanical logic on")
    weight: float = param(1.0, "weight of its pressures", ge=0, le=1)
    push: float = param(0.3, "monthly probability that a site the programme invites engages", ge=0, le=1, unit="/month",
                        source="direction: NIRN (000), active invitation; value assumed")
    train: float = param(0.0711, "monthly probability that a supported site moves on a stage (once ready)", ge=0, le=1,
                         unit="/month", source=CALIBRATED)
    coach: float = param(0.22, "monthly share of the fidelity gap closed by the programme's coaching", ge=0, le=1,
                         unit="/month", source="direction: NIRN (000), coaching lifts fidelity; value assumed (v2's search "
                                               "value: no v3 pattern identifies it, docs/validation.md)")
    skill: float = param(0.0993, "monthly share of the competence gap closed by the programme's coaching", ge=0, le=1,
                         unit="/month", source=CALIBRATED)
    dependency: float = param(0.22, "monthly pressure to abandon when support has just ended, times (1 - competence x capacity)",
                              ge=0, le=1, unit="/month", source=CALIBRATED)
    dependency_fade: float = param(12.0, "months over which dependency on ended support fades (by a factor e)", gt=0,
                                   unit="months", source="direction: THIS Institute (003), support ends through a transition; "
                                                         "value assumed (the patterns identify it, no calibration fitted it: "
                                                         "docs/validation.md)")


def pressures(m, par: Mechanical) -> Pressures:
    """Engage invited sites; move supported sites on; dependency once a site's support has ended."""
    w = par.weight
    engage = (w * par.push) * m.invited
    progress = (w * par.train) * m.supported
    if m.light_push is not None:  # the light-touch tier's workshop and kit (simulation.processes.support)
        progress = 1.0 - (1.0 - progress) * (1.0 - w * m.light_push)
    abandon = None
    if par.dependency > 0 and m.ever_supported.any():
        # m.dep_fade: exp(-months since the site's support ended / dependency_fade), 0 while supported
        abandon = 1.0 - m.competence * m.capacity
        abandon *= m.dep_fade
        abandon *= w * par.dependency
    return Pressures(engage, progress, abandon)
