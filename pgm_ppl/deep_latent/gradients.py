r"""The two Monte Carlo gradients of the ELBO with respect to the encoder (course §6.4, eqs. (6.7)-(6.12)).

With :math:`f_\phi(z) = \log p_\theta(x, z) - \log q_\phi(z \mid x)` (6.7), the ELBO is
:math:`\mathbb E_{q_\phi}[f_\phi(z)]` and its gradient has two unbiased estimators:

* **score function** (REINFORCE, (6.8)): :math:`\nabla_\phi \mathcal L \approx f_\phi(z)\,\nabla_\phi \log
  q_\phi(z \mid x)` with :math:`z \sim q_\phi` held fixed (the term :math:`\mathbb E[\nabla_\phi f_\phi(z)] =
  -\mathbb E[\nabla_\phi \log q_\phi] = 0` is dropped);
* **pathwise** (reparameterisation, (6.9)-(6.12)): :math:`\nabla_\phi \mathcal L \approx \nabla_\phi
  f_\phi(\mu_\phi + \sigma_\phi \odot \varepsilon)` with :math:`\varepsilon \sim \mathcal N(0, I)`.

Both have the same mean; the notes call the first too noisy to be practical, and :func:`elbo_gradient_samples`
lets one measure by how much.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch
from torch.func import functional_call, grad, vmap

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int

__all__ = ["GradientSamples", "elbo_gradient_samples"]

ESTIMATORS = ("pathwise", "score_function")


class GradientSamples(NamedTuple):
    """Single-draw gradient estimates ``samples`` (S, P) of the encoder's P parameters, their mean (P,) and
    variance (P,) over the S draws, and the parameters' names in the flattened order."""

    samples: np.ndarray
    mean: np.ndarray
    variance: np.ndarray
    names: tuple[str, ...]


def elbo_gradient_samples(module: Any, x: Any, *, estimator: str = "pathwise", num_samples: int = 1000,
                          seed: int = 0) -> GradientSamples:
    r"""``num_samples`` independent one-particle estimates of :math:`\nabla_\phi \sum_n \mathcal L(x_n)`.

    Parameters
    ----------
    module
        A :class:`~pgm_ppl.deep_latent.VAE` (unconditional).
    x
        Data rows, shape (n, D); the estimate is of the gradient of the ELBO summed over the rows.
    estimator
        ``"pathwise"`` (reparameterisation) or ``"score_function"`` (REINFORCE, (6.8)).
    num_samples
        S, the number of independent estimates (each with one :math:`z` per row).
    seed
        Seeds the draws of :math:`\varepsilon`.

    Returns
    -------
    GradientSamples
        Per-draw estimates, their mean and variance: compare the variances of the two estimators at equal mean.
    """
    check_choice(estimator, "estimator", ESTIMATORS)
    S = check_int(num_samples, "num_samples")
    params = {f"encoder.{k}": v.detach() for k, v in module.encoder.named_parameters()}
    x = torch.as_tensor(np.asarray(x), dtype=next(module.parameters()).dtype)

    def objective(p: dict[str, torch.Tensor], eps: torch.Tensor) -> torch.Tensor:
        loc, scale = _encode(module, p, x)
        z = loc + scale * eps
        if estimator == "score_function":
            z = z.detach()
        q = torch.distributions.Normal(loc, scale)
        log_q = q.log_prob(z).sum(-1)
        log_joint = module.decoder_distribution(z).log_prob(x) + module.prior().log_prob(z)
        f = log_joint - log_q  # (6.7), per row
        if estimator == "score_function":
            return (f.detach() * log_q).sum()  # (6.8)
        return f.sum()

    with torch_seeded(seed):
        eps = torch.randn(S, x.shape[0], module.latent_features, dtype=x.dtype)
    grads = vmap(grad(objective), in_dims=(None, 0), randomness="different")(params, eps)
    names = tuple(params)
    flat = torch.cat([grads[name].reshape(S, -1) for name in names], 1).detach().numpy().astype(np.float64)
    return GradientSamples(flat, flat.mean(0), flat.var(0, ddof=1), names)


def _encode(module: Any, params: dict[str, torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The encoder's (loc, scale) with the encoder's weights replaced by ``params``."""
    encoder_params = {k.removeprefix("encoder."): v for k, v in params.items()}
    inputs = x if module.image_shape is None else x.reshape(-1, *module.image_shape)
    return module.gaussian_head(functional_call(module.encoder, encoder_params, (inputs,)))
