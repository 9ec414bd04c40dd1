"""Seeding: one root seed -> one seed per replication -> one generator per named stream.

Stream generators are keyed by a stable hash of their name (not by creation order), so adding a
stream, or drawing from streams in another order, changes no other stream's numbers.
"""

from __future__ import annotations

import hashlib

import numpy as np


def replication_seeds(root_seed: int, n_replications: int) -> list[int]:
    """One 63-bit seed per replication, derived from ``root_seed`` with ``SeedSequence``.

    Replication ``i`` gets the same seed whatever ``n_replications`` is, so adding replications
    extends an experiment without changing the ones already run.
    """
    return [
        int(np.random.SeedSequence(root_seed, spawn_key=(i,)).generate_state(1, np.uint64)[0] >> 1)
        for i in range(n_replications)
    ]


def stream_key(name: str) -> int:
    """Stable 32-bit key for a stream name (independent of Python's hash randomisation)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


class Streams:
    """Named, independent random generators for one replication."""

    def __init__(self, replication_seed: int):
        self.replication_seed = int(replication_seed)
        self._cache: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        gen = self._cache.get(name)
        if gen is None:
            seq = np.random.SeedSequence(self.replication_seed, spawn_key=(stream_key(name),))
            gen = self._cache[name] = np.random.Generator(np.random.PCG64(seq))
        return gen
