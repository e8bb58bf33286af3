"""Turning the ``data`` argument of :func:`pgm_ppl.fit` into the model's arguments, validated."""

from __future__ import annotations

from typing import Any

import numpy as np


def model_inputs(data: Any, model_kwargs: dict | None) -> tuple[tuple, dict]:
    """Split ``data`` into positional and keyword arguments of the model, arrays as checked numpy.

    ``data`` may be None (a model without arguments), a dict (keyword arguments), a tuple (positional
    arguments) or a single array (the first positional argument). Arrays (numpy, torch, JAX, lists of
    numbers) must be non-empty and finite; ``model_kwargs`` are passed on as given.
    """
    if data is None:
        args, kwargs = (), {}
    elif isinstance(data, dict):
        args, kwargs = (), {name: _checked(value, repr(name)) for name, value in data.items()}
    elif isinstance(data, tuple):
        args, kwargs = tuple(_checked(value, f"positional argument {i}") for i, value in enumerate(data)), {}
    else:
        args, kwargs = (_checked(data, "data"),), {}
    clash = set(kwargs) & set(model_kwargs or {})
    if clash:
        raise ValueError(f"{sorted(clash)} given both in data and in model_kwargs: give each once.")
    return args, {**kwargs, **(model_kwargs or {})}


def _checked(value: Any, name: str) -> Any:
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
        raise TypeError(f"Model input {name}: expected a numeric array, got dtype {array.dtype}.")
    if array.size == 0:
        raise ValueError(f"Model input {name} is empty (shape {array.shape}).")
    if np.issubdtype(array.dtype, np.floating):
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            where = tuple(int(i) for i in bad[0])
            raise ValueError(f"Model input {name} has {len(bad)} non-finite value(s); the first, "
                             f"{array[where]}, is at index {where}. Remove or impute them first.")
    return array
