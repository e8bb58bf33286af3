"""One seeding scheme: a user's ``seed`` is split into independent streams, never reused by offsets.

``seed + 1`` for a second purpose collides with chain 1 of a run seeded ``seed``; :func:`spawn_seeds` derives
streams with numpy's :class:`~numpy.random.SeedSequence`, whose children are statistically independent of each
other and of the parent. Library code never seeds a global generator: torch draws happen inside
:func:`pgm_ppl.backend.seeding.torch_seeded`, JAX keys are split, numpy uses a local ``Generator``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["spawn_seeds", "stream"]

# Named purposes get fixed stream indices, so adding a purpose never shifts the others.
_PURPOSES = {"inference": 0, "prior": 1, "posterior_predictive": 2, "log_likelihood": 3, "initialisation": 4,
             "data": 5, "sample": 6, "validation": 7}


def spawn_seeds(seed: int, num_streams: int) -> list[int]:
    """``num_streams`` independent 32-bit seeds derived from ``seed`` (e.g. one per chain)."""
    children = np.random.SeedSequence(int(seed)).spawn(int(num_streams))
    return [int(child.generate_state(1)[0]) for child in children]


def stream(seed: int, purpose: str) -> int:
    """The seed of one named purpose ("inference", "prior", "posterior_predictive", "data", ...) of a run.

    >>> stream(0, "prior") != stream(0, "posterior_predictive")
    True
    """
    if purpose not in _PURPOSES:
        raise ValueError(f"purpose: expected one of {', '.join(map(repr, _PURPOSES))}, got {purpose!r}.")
    child = np.random.SeedSequence(int(seed), spawn_key=(1000 + _PURPOSES[purpose],))
    return int(child.generate_state(1)[0])
