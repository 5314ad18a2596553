"""Phase 3, delivery: fidelity to the core components, adaptation, effective fit and assurance.

Fidelity (0-1) is how faithfully a site delivers the programme's core components. Drift is the
default, not the exception, once a programme leaves its pilot (Scaling What Works, source 002), but
it does not run to zero: each month fidelity moves a share ``drift`` of the way towards the level a
site can hold on its own, its *equilibrium*

    equilibrium = ceiling x competence x (0.5 + 0.5 x capacity),

set by its staff's competence and its capacity for supervision (NIRN's competency and
organisational drivers, source 000). The programme's coaching of supported sites and assurance
rounds (audit, coaching, re-audit: source 002) lift it above that level; when they stop, it
settles back. ``ceiling`` is ``1 - core share x adaptation``: adapting the core components lowers
fidelity to them for good, adapting the documented adaptable parts does not (source 002: protect
the core, document the adaptable periphery). How far adaptation may go is the strategy's choice
(``strategy.adaptation``); the adaptation itself is the ecological logic's
(:mod:`simulation.logics.ecological`, Greenhalgh & Papoutsi 2019, source 004).

A site starts delivering (installation) with fidelity ``entry_fidelity`` times the quality of its
training: full for sites trained by the programme, diluted per train-the-trainer generation, and
``self_taught`` for sites that took the programme up without training (Fixsen et al. 2005:
information alone rarely produces faithful use).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..blocks import positive
from ..logics import ecological
from ..schema import CALIBRATED, Section, param


class Delivery(Section):
    """Fidelity: where it starts, how it drifts."""

    entry_fidelity: float = param(0.8, "fidelity of a site trained by the programme when it starts delivering", ge=0, le=1,
                                  source="direction: Fixsen et al. 2005, training brings practice near the standard; value assumed")
    self_taught: float = param(0.5, "share of entry fidelity reached by a site that starts without the programme's training",
                               ge=0, le=1, source="direction: Fixsen et al. 2005; value assumed")
    drift: float = param(0.0212, "monthly share of the gap between fidelity and its equilibrium that closes", ge=0, le=1,
                         unit="/month", source=CALIBRATED)


class Assurance(Section):
    """An assurance loop: regular audit and coaching that repair fidelity drift (source 002)."""

    interval: int = param(0, "months between assurance rounds (audit and coaching); 0 = off", ge=0, unit="months")
    target: float = param(0.9, "fidelity the assurance loop restores towards", ge=0, le=1,
                          source="direction: Scaling What Works (002); value assumed")
    repair: float = param(0.5, "share of the gap to target repaired at each audit", ge=0, le=1,
                          source="direction: Scaling What Works (002); value assumed")
    capacity: int | None = param(None, "sites the programme can audit per round (null = every site due)", ge=0, unit="sites")
    cost: float = param(0.5, "support units per site audited (1 unit = one site supported for a month)", ge=0, unit="units",
                        source="direction: Scaling What Works (002), audit, feedback and coaching take a coach's time, about half a month's support; value assumed")


AdaptationPolicy = Literal["strict", "permitted", "free"]


def init(m, sc) -> None:
    m.fidelity = np.zeros(m.n)
    m.adaptation = np.zeros(m.n)
    m.fit_eff = m.fit.copy()
    m._misfit = 1.0 - m.fit


def step(m, sc) -> None:
    """Adaptation and fit, drift towards the equilibrium, coaching, assurance (sources 000, 002, 004)."""
    using = m._using
    ceiling_cap, core = ecological.ADAPTATION_POLICY[sc.strategy.adaptation]
    if m._eco_on:
        ecological.update(m, sc.logics.ecological, ceiling_cap)
    f = m.fidelity
    ceiling = 1.0 - core * m.adaptation if core > 0 else 1.0
    dv = sc.delivery
    if positive(dv.drift):  # a float, or per site in a batch (simulation.blocks)
        eq = m.capacity * 0.5
        eq += 0.5
        eq *= m.competence
        if core > 0:
            eq *= ceiling
        eq -= f
        eq *= using
        eq *= dv.drift
        f += eq
    mech = sc.logics.mechanical
    if m._mech_on and mech.coach > 0:
        idx = np.flatnonzero(m.supported & using)
        if len(idx):
            q = m.dilution if np.isscalar(m.dilution) else m.dilution[idx]
            top = ceiling if np.isscalar(ceiling) else ceiling[idx]
            f[idx] += (mech.weight * mech.coach) * q * (top - f[idx])
    if m.audited is not None:
        a = sc.strategy.assurance
        f += a.repair * np.maximum(a.target * ceiling - f, 0.0) * m.audited
    if core > 0:
        np.minimum(f, ceiling, out=f)  # changed core components cap fidelity to them
    np.minimum(f, 1.0, out=f)
    np.maximum(f, 0.0, out=f)


def training_quality(m, idx: np.ndarray) -> np.ndarray:
    """Quality of the training sites ``idx`` received: 1 from the programme, diluted per generation."""
    return np.full(len(idx), m.dilution) if np.isscalar(m.dilution) else m.dilution[idx]


def entry_fidelity(m, sc, idx: np.ndarray) -> np.ndarray:
    """Fidelity of sites ``idx`` as they start delivering: trained, diluted per generation, or self-taught."""
    dv = sc.delivery
    quality = np.where(m.generation[idx] >= 1, training_quality(m, idx), dv.self_taught)
    return dv.entry_fidelity * quality
