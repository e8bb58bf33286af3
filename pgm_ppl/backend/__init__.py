"""Backends: the neutral modelling namespace (``pyro``, ``dist``, ``ops``), backend switching, arrays."""

from pgm_ppl.backend.arrays import to_backend, to_numpy
from pgm_ppl.backend.neutral import BACKENDS, check_backend, dist, ops, pyro, use_backend

__all__ = ["BACKENDS", "check_backend", "dist", "ops", "pyro", "to_backend", "to_numpy", "use_backend"]
