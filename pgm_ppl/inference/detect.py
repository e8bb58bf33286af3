"""Which language a model is written in: the neutral namespace, native Pyro, or native NumPyro."""

from __future__ import annotations

import dis
import inspect
import sys
import types
from collections.abc import Callable

from pyroapi.dispatch import GenericModule

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
    """Objects the model's code loads as globals or closure variables, and modules it imports inside."""
    function = inspect.unwrap(model if inspect.isfunction(model) else getattr(model, "__call__", model))
    code = getattr(function, "__code__", None)
    if code is None:
        return []
    loaded, imported = set(), []
    for instruction in _instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF"):
            loaded.add(instruction.argval)
        elif instruction.opname == "IMPORT_NAME":
            imported.append(sys.modules.get(instruction.argval.split(".")[0]))
    namespace = {**function.__globals__, **inspect.getclosurevars(function).nonlocals}
    return [namespace[name] for name in loaded if name in namespace] + [m for m in imported if m is not None]


def _instructions(code: types.CodeType):
    for instruction in dis.get_instructions(code):
        yield instruction
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _instructions(constant)


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
