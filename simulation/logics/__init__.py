"""The three logics of spread (Greenhalgh & Papoutsi 2019, source 004), one module each.

Each logic reads the model's state and returns, per site, monthly pressures (probabilities in
[0, 1]) to *engage* (start exploring), to *progress* (move on a stage) and to *abandon* (decline or
discontinue). The model combines the pressures of all logics that are switched on (see
:func:`combine`), so any mix of logics works, as real programmes mix them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pressures:
    """Monthly pressures per site from one logic (None = no pressure of that kind)."""

    engage: np.ndarray | None = None
    progress: np.ndarray | None = None
    abandon: np.ndarray | None = None


def combine(parts: list[np.ndarray], rule: str, n: int) -> np.ndarray:
    """Combine weighted pressures into one monthly probability per site.

    ``independent``: ``1 - prod(1 - p_i)``, as if each pressure were an independent chance of
    moving in the month (the default, MODEL.md); each part must already lie in [0, 1]. ``additive``: ``min(1, sum p_i)``, the hazard of
    the Bass model ``p + qF`` exactly (Bass 1969).
    """
    if not parts:
        return np.zeros(n)
    if len(parts) == 1:
        out = np.minimum(parts[0], 1.0)
        return np.maximum(out, 0.0, out=out)
    if rule == "additive":
        out = parts[0] + parts[1]
        for p in parts[2:]:
            out += p
        return np.minimum(out, 1.0, out=out)
    # every logic returns probabilities in [0, 1] (each keeps its own within bounds), so no clipping
    stay = 1.0 - parts[0]
    tmp = np.empty_like(stay)
    for p in parts[1:]:
        np.subtract(1.0, p, out=tmp)
        stay *= tmp
    return np.subtract(1.0, stay, out=stay)
