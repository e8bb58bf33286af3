"""NumPyro's modelling primitives under the names Pyro uses (the ``pyro`` of the neutral namespace).

``pyro.sample``, ``plate``, ``param``, ``deterministic``, ``factor`` and ``subsample`` map one to one onto
NumPyro's; ``module`` is absent on purpose (neural networks belong to the Pyro backend).
"""

from numpyro.primitives import deterministic, factor, param, plate, sample, subsample

__all__ = ["sample", "plate", "param", "deterministic", "factor", "subsample"]
