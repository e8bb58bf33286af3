r"""The :class:`~pgm_ppl.nn.MLP` for NumPyro: the same network as a ``jax.example_libraries.stax`` pair.

NumPyro registers a network's parameters with ``numpyro.module(name, (init_fn, apply_fn), input_shape)``;
:func:`stax_mlp` builds that pair with the same layers as ``MLP`` (same sizes, same activations, same order),
and :func:`torch_to_stax_params` / :func:`stax_to_torch_params` copy weights between the two, so a network
trained in Pyro can be used in a NumPyro model and the other way round.

JAX is imported inside the functions, so ``import pgm_ppl.nn`` does not load it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from pgm_ppl.core.validation import check_choice, check_int
from pgm_ppl.nn.mlp import ACTIVATIONS, MLP, _check_widths

__all__ = ["stax_mlp", "stax_to_torch_params", "torch_to_stax_params"]


def _stax_activation(name: str, argument: str) -> tuple[Callable, Callable]:
    """Return the stax layer computing the activation ``name`` exactly as its ``torch.nn`` class does."""
    import jax.nn
    import jax.numpy as jnp
    from jax.example_libraries import stax

    check_choice(name, argument, tuple(ACTIVATIONS))
    if name == "gelu":  # torch's nn.GELU is the exact (erf) form; jax.nn.gelu defaults to the tanh approximation
        return stax.elementwise(jax.nn.gelu, approximate=False)
    functions = {"relu": jax.nn.relu, "sigmoid": jax.nn.sigmoid, "tanh": jnp.tanh, "softplus": jax.nn.softplus,
                 "leaky_relu": jax.nn.leaky_relu, "elu": jax.nn.elu, "silu": jax.nn.silu,
                 "selu": jax.nn.selu}  # defaults match torch's: leaky slope 0.01, ELU alpha 1, SELU's constants
    return stax.elementwise(functions[name])


def stax_mlp(in_features: int, out_features: int, hidden_features: Sequence[int] | int = (64, 64),
             activation: str = "relu", output_activation: str | None = None) -> tuple[Callable, Callable]:
    r"""Return ``(init_fn, apply_fn)`` of a stax MLP with the same architecture as :class:`~pgm_ppl.nn.MLP`.

    The layers are ``Dense(h_1), act, Dense(h_2), act, ..., Dense(out_features)`` (and the output activation),
    one stax layer per ``MLP`` module; see :mod:`pgm_ppl.nn.mlp` for the formula. Freshly initialised weights
    follow stax's defaults (Glorot-normal weights), not torch's, so copy them with
    :func:`torch_to_stax_params` to get the same function.

    Parameters
    ----------
    in_features
        Size of the input's last axis; ``init_fn`` checks it against ``input_shape[-1]``.
    out_features, hidden_features, activation, output_activation
        As for :class:`~pgm_ppl.nn.MLP`.

    Returns
    -------
    init_fn : callable
        ``init_fn(rng_key, input_shape) -> (output_shape, params)``; ``input_shape`` is ``(..., in_features)``
        and ``params`` a list with one entry per layer: ``(W, b)`` with ``W`` of shape ``(fan_in, fan_out)``
        for a dense layer, ``()`` for an activation.
    apply_fn : callable
        ``apply_fn(params, x)``: ``x`` of shape ``(..., in_features)`` to ``(..., out_features)``.

    Raises
    ------
    ValueError
        For an unknown activation name (the valid names are listed) or a bad size; from ``init_fn``, for an
        ``input_shape`` whose last axis is not ``in_features``.

    See Also
    --------
    pgm_ppl.nn.MLP : the torch network.

    Examples
    --------
    A Bayesian-regression-style NumPyro model whose mean is the network, its weights a ``numpyro.module``:

    >>> import jax, numpyro, numpyro.distributions as dist
    >>> init_fn, apply_fn = stax_mlp(3, 1, hidden_features=(8,), activation="tanh")
    >>> def model(x, y=None):
    ...     net = numpyro.module("net", (init_fn, apply_fn), input_shape=(1, 3))
    ...     mean = net(x)[..., 0]
    ...     with numpyro.plate("data", x.shape[0]):
    ...         return numpyro.sample("y", dist.Normal(mean, 1.0), obs=y)
    >>> with numpyro.handlers.seed(rng_seed=0):
    ...     trace = numpyro.handlers.trace(model).get_trace(jax.numpy.zeros((5, 3)))
    >>> trace["y"]["value"].shape
    (5,)
    >>> [tuple(p.shape) for p in trace["net$params"]["value"][0]]
    [(3, 8), (8,)]
    """
    from jax.example_libraries import stax

    widths = (check_int(in_features, "in_features"), *_check_widths(hidden_features),
              check_int(out_features, "out_features"))
    hidden_act = _stax_activation(activation, "activation")
    layers: list[tuple[Callable, Callable]] = []
    for i, b in enumerate(widths[1:]):
        layers.append(stax.Dense(b))
        if i < len(widths) - 2:
            layers.append(hidden_act)
    if output_activation is not None:
        layers.append(_stax_activation(output_activation, "output_activation"))
    serial_init, apply_fn = stax.serial(*layers)

    def init_fn(rng_key: Any, input_shape: tuple[int, ...]) -> tuple[tuple[int, ...], list]:
        if len(input_shape) == 0 or input_shape[-1] != widths[0]:
            raise ValueError(f"input_shape: expected a last axis of size in_features={widths[0]}, "
                             f"got {tuple(input_shape)}.")
        return serial_init(rng_key, input_shape)

    return init_fn, apply_fn


def torch_to_stax_params(mlp: MLP) -> list:
    """Return the weights of a torch :class:`~pgm_ppl.nn.MLP` as the ``params`` of the matching :func:`stax_mlp`.

    Each ``nn.Linear`` becomes ``(W, b)`` with ``W = weight.T`` (stax multiplies ``x @ W``, torch
    ``x @ weight.T``); each activation becomes ``()``. Arrays keep the torch dtype where JAX allows it (float64
    needs ``jax.enable_x64``).

    Parameters
    ----------
    mlp
        The torch network.

    Returns
    -------
    list
        One entry per layer, to pass as ``apply_fn(params, x)`` or as a ``numpyro.module`` parameter value.

    Raises
    ------
    TypeError
        If ``mlp`` is not an :class:`~pgm_ppl.nn.MLP`.
    """
    import jax.numpy as jnp

    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp: expected a pgm_ppl.nn.MLP, got {type(mlp).__name__}.")
    return [(jnp.asarray(layer.weight.detach().cpu().numpy().T), jnp.asarray(layer.bias.detach().cpu().numpy()))
            if isinstance(layer, nn.Linear) else () for layer in mlp]


def stax_to_torch_params(params: Sequence, mlp: MLP) -> MLP:
    """Copy stax ``params`` of a :func:`stax_mlp` into the torch :class:`~pgm_ppl.nn.MLP` of the same architecture.

    The inverse of :func:`torch_to_stax_params`: each ``(W, b)`` is written to the matching ``nn.Linear`` as
    ``weight = W.T``, ``bias = b``, in place and in the MLP's dtype.

    Parameters
    ----------
    params
        The list of per-layer parameters from ``init_fn`` or a fitted NumPyro ``"<name>$params"`` site.
    mlp
        The torch network to write to.

    Returns
    -------
    MLP
        ``mlp`` itself, updated.

    Raises
    ------
    TypeError
        If ``mlp`` is not an :class:`~pgm_ppl.nn.MLP`.
    ValueError
        If the number of layers or a layer's shape differs (the layer is named).
    """
    if not isinstance(mlp, MLP):
        raise TypeError(f"mlp: expected a pgm_ppl.nn.MLP, got {type(mlp).__name__}.")
    if len(params) != len(mlp):
        raise ValueError(f"params: expected {len(mlp)} layers to match the MLP, got {len(params)}.")
    with torch.no_grad():
        for i, (layer, p) in enumerate(zip(mlp, params)):
            if not isinstance(layer, nn.Linear):
                continue
            if len(p) != 2:
                raise ValueError(f"params[{i}]: expected (W, b) for layer {layer}, got {len(p)} arrays.")
            weight, bias = (torch.as_tensor(np.array(a)) for a in p)
            if weight.T.shape != layer.weight.shape or bias.shape != layer.bias.shape:
                raise ValueError(f"params[{i}]: expected W of shape {tuple(layer.weight.T.shape)} and b of shape "
                                 f"{tuple(layer.bias.shape)}, got {tuple(weight.shape)} and {tuple(bias.shape)}.")
            layer.weight.copy_(weight.T)
            layer.bias.copy_(bias)
    return mlp
