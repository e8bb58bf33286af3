"""pgm_ppl: probabilistic generative modelling on Pyro, NumPyro, ArviZ, GPyTorch and POT.

What you type daily: ``fit``, the neutral modelling namespace ``pyro`` / ``dist`` / ``ops``, and the
subpackages: ``models``, ``data``, ``diagnostics``, ``inference``, and the course's classical engines
``information`` (chapter 1), ``em`` (chapter 2), ``cavi`` (chapter 3), ``gp`` and ``dp`` (chapter 4),
``graphical`` (message passing, HMMs, Kalman) and ``ot`` (chapter 5); the deep half's shared pieces ``core`` (the
result type and contract every engine follows), ``nn`` (network blocks) and ``training`` (the one training engine),
and the deep chapters ``deep_latent`` (6: VAEs, GANs), ``sequence`` (7: autoregressive models, Transformers),
``flows`` and ``flow_matching`` (8), ``diffusion`` (9). Names are imported on first use, so that
``import pgm_ppl`` (and the ``pgm-ppl`` command) starts without loading JAX and PyTorch.
"""

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "fit": "pgm_ppl.inference", "Fit": "pgm_ppl.inference",
    "pyro": "pgm_ppl.backend", "dist": "pgm_ppl.backend", "ops": "pgm_ppl.backend",
    "use_backend": "pgm_ppl.backend",
    "load_data": "pgm_ppl.data",
    "diagnose": "pgm_ppl.diagnostics", "to_inference_data": "pgm_ppl.diagnostics",
}
_SUBPACKAGES = ("backend", "cavi", "clustering", "core", "data", "deep_latent", "diagnostics", "diffusion", "dp", "em",
                "flow_matching", "flows", "gp", "graphical", "inference", "information", "models", "nn", "ot",
                "sequence", "training")

__all__ = sorted(_EXPORTS) + list(_SUBPACKAGES)


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cache: later look-ups skip this function
        return value
    if name in _SUBPACKAGES:
        return importlib.import_module(f"pgm_ppl.{name}")
    raise AttributeError(f"module 'pgm_ppl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
