"""The backend-neutral modelling namespace: ``pyro``, ``dist`` and ``ops`` that follow the active backend.

Model code written against these three names runs unchanged on Pyro (PyTorch) and on NumPyro (JAX).
They are ``pyroapi.GenericModule`` dispatchers under our own names, so they never disturb a user's own
``pyroapi`` namespace; :func:`use_backend` switches them. Both backends are also registered with
``pyroapi.register_backend`` as ``"pgm_pyro"`` and ``"pgm_numpyro"``.

The primitives are our own small modules (:mod:`pgm_ppl.backend.numpyro_primitives` rather than
``numpyro.compat``, which lacks ``deterministic`` and ``factor``; :mod:`pgm_ppl.backend.pyro_primitives`,
whose ``param`` takes plain numbers as NumPyro's does); ``ops`` is our numpy-style array
vocabulary (:mod:`pgm_ppl.backend.ops_torch`, :mod:`pgm_ppl.backend.ops_jax`), identical on both; ``dist``
is the backend's distributions plus ours, the same on both (:mod:`pgm_ppl.backend.distributions_pyro`,
:mod:`pgm_ppl.backend.distributions_numpyro`), such as the state-marginalised ``HiddenMarkovModel``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pyroapi
from pyroapi.dispatch import GenericModule

BACKENDS: tuple[str, ...] = ("numpyro", "pyro")

_MODULES = {
    "pyro": {
        "pgm_ppl.pyro": "pgm_ppl.backend.pyro_primitives",
        "pgm_ppl.dist": "pgm_ppl.backend.distributions_pyro",
        "pgm_ppl.ops": "pgm_ppl.backend.ops_torch",
    },
    "numpyro": {
        "pgm_ppl.pyro": "pgm_ppl.backend.numpyro_primitives",
        "pgm_ppl.dist": "pgm_ppl.backend.distributions_numpyro",
        "pgm_ppl.ops": "pgm_ppl.backend.ops_jax",
    },
}

pyro = GenericModule("pgm_ppl.pyro", "pgm_ppl.backend.pyro_primitives")
dist = GenericModule("pgm_ppl.dist", "pgm_ppl.backend.distributions_pyro")
ops = GenericModule("pgm_ppl.ops", "pgm_ppl.backend.ops_torch")

for _name, _modules in _MODULES.items():
    pyroapi.register_backend(f"pgm_{_name}", _modules)


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one of :data:`BACKENDS`, else raise a ValueError listing them."""
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}: choose one of {', '.join(map(repr, BACKENDS))}.")
    return backend


@contextmanager
def use_backend(backend: str) -> Iterator[None]:
    """Route ``pyro``, ``dist`` and ``ops`` to ``backend`` ("pyro" or "numpyro") inside the block.

    Inside the block, numbers are 64-bit on both backends: PyTorch's default dtype is float64 and JAX
    runs with ``jax_enable_x64``; both settings are restored on exit.

    Examples
    --------
    >>> from pgm_ppl.backend import dist, use_backend
    >>> with use_backend("numpyro"):
    ...     type(dist.Normal(0.0, 1.0)).__module__
    'numpyro.distributions.continuous'
    """
    check_backend(backend)
    previous = {name: GenericModule.current_backend[name] for name in _MODULES[backend]}
    GenericModule.current_backend.update(_MODULES[backend])
    try:
        with _float64(backend):
            yield
    finally:
        GenericModule.current_backend.update(previous)


@contextmanager
def _float64(backend: str) -> Iterator[None]:
    if backend == "numpyro":
        import jax

        with jax.enable_x64(True):
            yield
    else:
        import torch

        previous = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)
        try:
            yield
        finally:
            torch.set_default_dtype(previous)
