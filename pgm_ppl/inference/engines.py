"""The backend engines behind :func:`pgm_ppl.fit`, imported on first use (so a NumPyro fit never loads PyTorch and
Pyro, and a Pyro fit never loads JAX)."""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = {"numpyro": "pgm_ppl.inference.numpyro_engine", "pyro": "pgm_ppl.inference.pyro_engine"}


def engine(backend: str) -> ModuleType:
    """The engine module of ``backend`` ("numpyro" or "pyro"): ``model_structure``, ``run_mcmc``, ``run_svi``,
    ``predictive``, ``pointwise_log_likelihood``."""
    return importlib.import_module(_MODULES[backend])
