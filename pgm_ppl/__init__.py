"""pgm_ppl: probabilistic generative modelling on Pyro, NumPyro, ArviZ, GPyTorch and POT.

What you type daily: ``fit``, the neutral modelling namespace ``pyro`` / ``dist`` / ``ops``, and the
subpackages ``models``, ``data``, ``diagnostics``.
"""

__version__ = "0.1.0"

from pgm_ppl import data, diagnostics, models  # noqa: E402
from pgm_ppl.backend import dist, ops, pyro, use_backend  # noqa: E402
from pgm_ppl.data import load_data  # noqa: E402
from pgm_ppl.diagnostics import diagnose, to_inference_data  # noqa: E402
from pgm_ppl.inference import Fit, fit  # noqa: E402

__all__ = ["Fit", "data", "diagnose", "diagnostics", "dist", "fit", "load_data", "models", "ops", "pyro",
           "to_inference_data", "use_backend"]
