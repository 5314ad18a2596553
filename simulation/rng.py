"""Named random streams: one seed decides a run completely.

Each process of the model (trait draws, network generation, seeding, transitions, turnover, shocks,
...) draws from its own :class:`numpy.random.Generator`, derived from the run's seed and the
process's name through :class:`numpy.random.SeedSequence`. Switching a mechanism on or off therefore
does not shift the draws of the others: replicate *r* of two strategies sees the same network,
traits and random numbers wherever the strategies do not differ (common random numbers; the same
design as Starsim's named random streams). Global random state is never touched.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The random streams of one run.

    Args:
        seed: the run's seed (a non-negative integer).

    ``streams.root`` is the run's one Generator; ``streams["name"]`` is the named child stream,
    created on first use and the same object afterwards.
    """

    def __init__(self, seed: int):
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        self.seed = int(seed)
        self._seq = np.random.SeedSequence(self.seed)
        self.root = np.random.Generator(np.random.PCG64(self._seq))
        self._streams: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._streams.get(name)
        if gen is None:
            seq = np.random.SeedSequence(self._seq.entropy, spawn_key=(_key(name),))
            gen = np.random.Generator(np.random.PCG64(seq))
            self._streams[name] = gen
        return gen
