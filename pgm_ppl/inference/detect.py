"""Which language a model is written in: the neutral namespace, native Pyro, or native NumPyro."""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

from pyroapi.dispatch import GenericModule

FLAVOURS = ("neutral", "pyro", "numpyro")


def detect_flavour(model: Callable, args: tuple = (), kwargs: dict | None = None) -> str:
    """Return "neutral", "pyro" or "numpyro" from the names the model's code refers to.

    A model that uses ``pgm_ppl.pyro`` / ``dist`` / ``ops`` is neutral; otherwise the package of the
    modules, functions and classes it refers to (``numpyro.*`` or ``pyro.*``) decides. A model that
    refers to neither (it calls helpers defined elsewhere) is traced once under NumPyro: if NumPyro
    records sample sites it is a NumPyro model, else a Pyro one.
    """
    packages = {_package(value) for value in _referenced(model)}
    if "neutral" in packages:
        return "neutral"
    if "numpyro" in packages:
        return "numpyro"
    if "pyro" in packages:
        return "pyro"
    return "numpyro" if _records_numpyro_sites(model, args, kwargs or {}) else "pyro"


def _referenced(model: Callable) -> list:
    target = getattr(model, "__call__", model) if not inspect.isfunction(model) else model
    try:
        names = inspect.getclosurevars(inspect.unwrap(target))
    except TypeError:
        return []
    return list(names.globals.values()) + list(names.nonlocals.values())


def _package(value) -> str | None:
    if isinstance(value, GenericModule):
        return "neutral"
    name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    if not isinstance(name, str):
        return None
    root = name.split(".")[0]
    return root if root in ("pyro", "numpyro") else None


def _records_numpyro_sites(model: Callable, args: tuple, kwargs: dict) -> bool:
    from numpyro import handlers

    from pgm_ppl.backend import to_backend, use_backend

    try:
        with use_backend("numpyro"):
            trace = handlers.trace(handlers.seed(model, 0)).get_trace(*to_backend(args, "numpyro"),
                                                                       **to_backend(kwargs, "numpyro"))
    except Exception:  # a Pyro model fails on JAX arrays: it is not a NumPyro model
        return False
    return bool(trace)
