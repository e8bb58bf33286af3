"""Moving data between numpy and the backends' array types, in 64-bit precision."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np

#: A backend array, in annotations of backend-neutral code: a ``torch.Tensor`` under the Pyro backend, a
#: ``jax.Array`` under NumPyro (and a ``np.ndarray`` where :data:`pgm_ppl.backend.hidden_markov.numpy_ops` is the
#: namespace). ``Any`` because such code takes any of them; use a concrete type where only one is possible.
Array: TypeAlias = Any


def to_backend(value: Any, backend: str) -> Any:
    """Convert numpy arrays (also inside dicts, lists and tuples) to ``backend`` arrays.

    Floating arrays become float64, integer arrays int64, booleans stay boolean; scalars, strings and
    ``None`` pass through unchanged, so model options such as ``num_components=3`` keep their Python type.
    """
    if isinstance(value, dict):
        return {key: to_backend(item, backend) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_backend(item, backend) for item in value)
    if not isinstance(value, np.ndarray):
        return value
    array = _widen(value)
    if backend == "numpyro":
        import jax.numpy as jnp

        return jnp.asarray(array)
    import torch

    return torch.as_tensor(array)


def to_numpy(value: Any) -> np.ndarray:
    """Convert a torch tensor, JAX array or array-like to a numpy array (detached, on the CPU)."""
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value)


def _widen(array: np.ndarray) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating):
        return array.astype(np.float64, copy=False)
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.int64, copy=False)
    return array
