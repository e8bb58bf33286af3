"""Inference: the ``fit`` entry point and the engines behind it.

``METHODS`` and ``GUIDES`` load without the engines; ``fit`` and the rest import JAX and PyTorch on
first use.
"""

import importlib

from pgm_ppl.inference.guides import GUIDES
from pgm_ppl.inference.methods import METHODS

_EXPORTS = {
    "fit": "pgm_ppl.inference.fitting", "Fit": "pgm_ppl.core.result",
    "ModelRunError": "pgm_ppl.inference.errors", "NonFiniteLossError": "pgm_ppl.inference.errors",
    "align_components": "pgm_ppl.inference.relabel",
    "laplace": "pgm_ppl.inference.laplace", "laplace_approximation": "pgm_ppl.inference.laplace",
    "LaplaceResult": "pgm_ppl.inference.laplace",
}

__all__ = ["GUIDES", "METHODS", *sorted(_EXPORTS)]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    raise AttributeError(f"module 'pgm_ppl.inference' has no attribute {name!r}")
