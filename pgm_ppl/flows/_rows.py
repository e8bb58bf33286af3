"""Rows of data for a model's ``log_prob``: one check shared by the flows, flow matching and diffusion models."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


def reference_tensor(module: nn.Module) -> torch.Tensor:
    """A tensor of ``module`` (a parameter, else a buffer) giving the dtype and device it computes in."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor
    return torch.zeros(())


def as_rows(x: Any, features: int, like: torch.Tensor, name: str = "x") -> torch.Tensor:
    """``x`` as a tensor of shape ``(n, features)`` in the dtype and on the device of ``like``.

    A numpy array (or nested list) is converted and a tensor of another floating dtype is cast (a float64 array
    scored by a float32 model is scored in float32), so every model's ``log_prob`` takes what ``train`` takes.

    Raises
    ------
    TypeError
        ``x`` is not a tensor, an array or a nested sequence of numbers.
    ValueError
        ``x`` is not 2-D with ``features`` columns.
    """
    if not isinstance(x, torch.Tensor):
        if not isinstance(x, (np.ndarray, list, tuple)):
            raise TypeError(f"{name}: expected a tensor or array of shape (n, {features}), got {type(x).__name__}.")
        try:
            x = torch.as_tensor(np.asarray(x, dtype=np.float64))
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name}: expected numbers of shape (n, {features}), got {type(x).__name__} that numpy "
                            f"cannot read as a float array ({error}).") from None
    if x.ndim != 2 or x.shape[-1] != features:
        raise ValueError(f"{name}: expected shape (n, {features}), got {tuple(x.shape)}.")
    dtype = like.dtype if like.is_floating_point() else torch.get_default_dtype()
    return x.to(dtype=dtype, device=like.device)
