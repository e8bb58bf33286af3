"""What the training engine asks of a neural generative model: the :class:`Trainable` protocol.

A trainable model is a :class:`torch.nn.Module` (typically a :class:`pyro.nn.PyroModule`, whose ``PyroParam``
attributes are ordinary module parameters) with some of these methods:

``model(batch)``
    A Pyro model with the batch observed (``pyro.sample("x", ..., obs=batch)`` inside a ``pyro.plate``). With
    any Pyro ELBO as the objective the engine minimises ``-ELBO``; with no ``guide`` it minimises
    :math:`-\\log p_\\theta(x)` exactly (an empty guide has no latent sites).
``guide(batch)``, optional
    The variational family :math:`q_\\phi(z \\mid x)` (a VAE's encoder). Default: the empty guide.
``loss(batch)``, optional
    A custom scalar loss, used when ``train`` is given no objective. Flow matching and denoising score
    matching are **regression losses** (squared errors between a network and a target field), not ELBOs:
    their value is not a bound on :math:`-\\log p(x)`.
``log_prob(x)``, optional
    One log-density per row of ``x``, shape ``(n,)``; the class attribute ``log_prob_kind`` says what it is:
    ``"exact"`` (flows, autoregressive models), ``"lower_bound"`` (a VAE's ELBO, DDPM's bound) or
    ``"estimate"`` (IWAE-K, a Hutchinson-trace continuous flow). Default kind: ``"exact"``.
``sample(num_samples)``, optional
    ``num_samples`` draws of data, shape ``(num_samples, *event_shape)``; the engine calls it inside a seeded
    torch generator, so it may draw from torch's default generator.

Only the methods an objective needs must exist: ``model`` for ELBOs, ``loss`` (or a loss callable) for custom
losses, the two losses of a :class:`~pgm_ppl.training.TwoPlayer` for GANs. A module with ``model`` and ``guide``
but no ``log_prob`` is evaluated on held-out rows by its per-row ELBO (``kind="lower_bound"``, see
:mod:`pgm_ppl.training.density`).

Module factories (functions that build a trainable module, like :func:`pgm_ppl.flows.realnvp`) take a
``seed: int = 0`` argument and build the module under :func:`pgm_ppl.backend.seeding.torch_seeded` ``(seed)``,
so the initial weights are a function of ``seed`` alone and the caller's torch generator is left untouched:
``train`` seeds everything after construction, and ``train(realnvp(2), X, seed=0)`` is then reproducible.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

__all__ = ["LOG_PROB_KINDS", "Trainable"]

LOG_PROB_KINDS = ("exact", "lower_bound", "estimate")


@runtime_checkable
class Trainable(Protocol):
    """A :class:`torch.nn.Module` with a Pyro ``model(batch)`` and optionally ``guide``, ``loss``, ``log_prob``,
    ``sample`` (see the module docstring for each method's contract)."""

    def parameters(self, recurse: bool = True) -> Any: ...

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, torch.Tensor]: ...

    def model(self, batch: torch.Tensor) -> Any: ...
