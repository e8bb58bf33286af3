"""Pyro's modelling primitives as the neutral namespace's ``pyro`` on the Pyro backend.

All but ``param`` are Pyro's own. ``param`` also takes a Python number or numpy array as its initial
value, as NumPyro's does (Pyro's requires a tensor), so that model code is the same on both backends.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyro
import torch
from pyro import deterministic, factor, plate, sample, subsample
from numpy.typing import ArrayLike
from pyro.distributions import constraints

__all__ = ["sample", "plate", "param", "deterministic", "factor", "subsample"]


def param(name: str, init_value: torch.Tensor | ArrayLike | Callable[[], torch.Tensor] | None = None,
          constraint: constraints.Constraint = constraints.real, event_dim: int | None = None) -> torch.Tensor:
    """``pyro.param``, with numbers and numpy arrays converted to tensors of the default dtype."""
    if init_value is not None and not isinstance(init_value, torch.Tensor) and not callable(init_value):
        init_value = torch.as_tensor(np.asarray(init_value, dtype=np.float64), dtype=torch.get_default_dtype())
    return pyro.param(name, init_value, constraint=constraint, event_dim=event_dim)
