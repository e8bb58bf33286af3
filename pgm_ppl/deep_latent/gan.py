r"""Generative adversarial networks and Wasserstein GANs as two-player objectives of the training engine.

A GAN (course §6.3, Goodfellow et al. 2014) pushes noise :math:`z \sim p(z) = \mathcal N(0, I)` through a
generator :math:`G` and trains it against a discriminator :math:`D(x) = \mathrm{sigmoid}(d(x))` on the value
function (6.5)

.. math::

    V(G, D) = \mathbb E_{p_{\mathrm{data}}}[\log D(x)] + \mathbb E_{p(z)}[\log(1 - D(G(z)))],
    \qquad \min_G \max_D V(G, D).

The discriminator maximises :math:`V` (its loss is :math:`-V`, a binary cross-entropy); the generator either
minimises :math:`V` (``"minimax"``, which saturates when :math:`D` wins early) or, as in practice (§6.3), the
*non-saturating* loss :math:`-\mathbb E[\log D(G(z))]`. The updates alternate, ``critic_steps`` discriminator
steps per generator step (:class:`~pgm_ppl.training.TwoPlayer`).

A WGAN (Arjovsky et al. 2017) replaces :math:`D` by a critic :math:`f` and :math:`V` by the Kantorovich-
Rubinstein dual :math:`\mathbb E_{p_{\mathrm{data}}}[f(x)] - \mathbb E_{p(z)}[f(G(z))]`, which equals
:math:`W_1(p_{\mathrm{data}}, p_g)` when maximised over 1-Lipschitz :math:`f`. Lipschitz-ness is imposed by
clipping the critic's weights to :math:`[-c, c]` (WGAN) or by the gradient penalty (WGAN-GP, Gulrajani et al.
2017) :math:`\lambda\,\mathbb E_{\hat x}[(\|\nabla f(\hat x)\|_2 - 1)^2]` on interpolates
:math:`\hat x = t x + (1 - t) G(z)`, :math:`t \sim U(0, 1)`. The penalised critic does **not** estimate
:math:`W_1` exactly (see :func:`pgm_ppl.deep_latent.gan_theory.wgan_gp_optimum_1d`).

Noise and interpolation weights are drawn from torch's default generator, which
:func:`pgm_ppl.training.train` seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.nn import MLP, ConvDecoder, ConvEncoder
from pgm_ppl.training import TwoPlayer

__all__ = ["GAN", "critic_loss", "dcgan", "gan_objective", "generator_loss", "gradient_penalty", "mlp_gan",
           "value_function",
           "wgan_critic_loss", "wgan_generator_loss", "wgan_objective"]

GENERATOR_LOSSES = ("non_saturating", "minimax")


class GAN(nn.Module):
    """A generator ``G: z -> x`` and a critic ``d: x -> R`` (discriminator logit, or WGAN critic value).

    ``sample(num_samples)`` draws :math:`G(z)`, :math:`z \\sim \\mathcal N(0, I)`; a GAN has no ``log_prob``
    (an implicit model). Build one with :func:`mlp_gan` or :func:`dcgan`.
    """

    def __init__(self, generator: nn.Module, critic: nn.Module, *, latent_features: int,
                 output: str | None = None, features: int | None = None) -> None:
        super().__init__()
        self.generator, self.critic = generator, critic
        self.features = features  # D, the row size the critic reads (None: not checked)
        self.latent_features = latent_features
        self.output = output  # None (identity) or "sigmoid" (pixels in (0, 1))
        self.register_buffer("_zero", torch.zeros(()))

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`G(z)`, shape ``(n, D)``."""
        x = self.generator(z).flatten(start_dim=1)
        return torch.sigmoid(x) if self.output == "sigmoid" else x

    def sample(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` draws :math:`G(z)`, :math:`z \\sim \\mathcal N(0, I)`."""
        z = torch.randn(check_int(num_samples, "num_samples", minimum=0), self.latent_features, dtype=self._zero.dtype, device=self._zero.device)
        return self.generate(z)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The critic's output per row, shape (n,): the logit :math:`d(x)` of :math:`D(x)`, or :math:`f(x)`."""
        if self.features is not None and (x.ndim != 2 or x.shape[-1] != self.features):
            raise ValueError(f"x: expected rows of shape (n, {self.features}) for this GAN of {self.features} "
                             f"features, got shape {tuple(x.shape)}.")
        return self.critic(x).reshape(x.shape[0], -1)[:, 0]

    def discriminator(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`D(x) = \\mathrm{sigmoid}(d(x))`, the probability that ``x`` is real."""
        return torch.sigmoid(self.score(x))


class _Unflatten(nn.Module):
    """Rows of D pixels to ``(n, *image_shape)`` images, so a convolutional critic reads the engine's rows."""

    def __init__(self, image_shape: tuple[int, ...], critic: nn.Module) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.net = critic

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.reshape(-1, *self.image_shape))


def mlp_gan(features: int, *, latent_features: int = 2, hidden_features: Sequence[int] | int = (128, 128),
            activation: str = "relu", critic_activation: str = "leaky_relu", output: str | None = None,
            seed: int = 0) -> GAN:
    """A GAN of two MLPs (:class:`pgm_ppl.nn.MLP`): generator ``latent -> features``, critic ``features -> 1``.

    Parameters
    ----------
    features
        D, the size of a data row.
    latent_features
        Size of the noise :math:`z`.
    hidden_features
        Hidden widths of both networks.
    activation, critic_activation
        Hidden activations of the generator and of the critic (leaky ReLU, as in DCGAN's discriminator).
    output
        None (real-valued data) or ``"sigmoid"`` (pixels in (0, 1)).
    seed
        Seeds the initial weights.
    """
    D = check_int(features, "features")
    L = check_int(latent_features, "latent_features")
    if output is not None:
        check_choice(output, "output", ("sigmoid",))
    with torch_seeded(seed):
        generator = MLP(L, D, hidden_features, activation=activation)
        critic = MLP(D, 1, hidden_features, activation=critic_activation)
    return GAN(generator, critic, latent_features=L, output=output, features=D)


def dcgan(image_shape: Sequence[int] = (1, 8, 8), *, latent_features: int = 16, channels: Sequence[int] = (32, 64),
          seed: int = 0) -> GAN:
    """A small DCGAN-style GAN on images (Radford et al. 2016): transposed-convolution generator
    (:class:`pgm_ppl.nn.ConvDecoder`, sigmoid pixels in (0, 1)) and strided-convolution critic
    (:class:`pgm_ppl.nn.ConvEncoder`, leaky ReLU). Rows are flattened images (``(n, 64)`` for digits)."""
    shape = tuple(image_shape)
    L = check_int(latent_features, "latent_features")
    with torch_seeded(seed):
        generator = ConvDecoder(L, shape, channels=channels, activation="relu")
        critic = _Unflatten(shape, ConvEncoder(shape, 1, channels=channels, activation="leaky_relu"))
    return GAN(generator, critic, latent_features=L, output="sigmoid", features=int(np.prod(shape)))


def _real(batch: Any) -> torch.Tensor:
    return batch[0] if isinstance(batch, (tuple, list)) else batch


def value_function(module: GAN, batch: Any) -> torch.Tensor:
    r"""Monte Carlo :math:`V(G, D)` (6.5) on a batch of real rows and as many generated ones (nats)."""
    x = _real(batch)
    fake = module.sample(x.shape[0])
    # log D(x) = -softplus(-d), log(1 - D(x)) = -softplus(d): stable forms of the two logarithms
    return -F.softplus(-module.score(x)).mean() - F.softplus(module.score(fake)).mean()


def critic_loss(module: GAN, batch: Any) -> torch.Tensor:
    """The discriminator's loss :math:`-V(G, D)` (binary cross-entropy; the generator's samples detached)."""
    x = _real(batch)
    with torch.no_grad():
        fake = module.sample(x.shape[0])
    return F.softplus(-module.score(x)).mean() + F.softplus(module.score(fake)).mean()


def generator_loss(module: GAN, batch: Any, kind: str = "non_saturating") -> torch.Tensor:
    r"""The generator's loss: non-saturating :math:`-\mathbb E[\log D(G(z))]`, or minimax
    :math:`\mathbb E[\log(1 - D(G(z)))]` (the part of (6.5) that depends on :math:`G`)."""
    score = module.score(module.sample(_real(batch).shape[0]))
    return F.softplus(-score).mean() if kind == "non_saturating" else -F.softplus(score).mean()


def gan_objective(*, critic_steps: int = 1, generator: str = "non_saturating", learning_rate: float | None = None,
                  betas: tuple[float, float] = (0.5, 0.999)) -> TwoPlayer:
    """The GAN game for :func:`pgm_ppl.training.train`: ``critic_steps`` discriminator steps per generator step.

    Defaults are DCGAN's (Adam, β = (0.5, 0.999); the learning rate is ``train``'s unless given).
    """
    kind = check_choice(generator, "generator", GENERATOR_LOSSES)
    check_int(critic_steps, "critic_steps")

    def generator_step(module: GAN, batch: Any) -> torch.Tensor:
        return generator_loss(module, batch, kind)

    return TwoPlayer(generator_step, critic_loss, critic_steps=critic_steps, generator_learning_rate=learning_rate,
                     critic_learning_rate=learning_rate, betas=betas)


def gradient_penalty(module: GAN, x: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbb E_{\hat x}[(\|\nabla_{\hat x} f(\hat x)\|_2 - 1)^2]` on :math:`\hat x = t x + (1-t)\tilde x`."""
    t = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), dtype=x.dtype, device=x.device)
    x_hat = (t * x + (1 - t) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(module.score(x_hat).sum(), x_hat, create_graph=True)
    return ((grad.flatten(start_dim=1).norm(dim=1) - 1) ** 2).mean()


def _clip(module: GAN, clip_value: float | None) -> None:
    if clip_value is not None:
        with torch.no_grad():
            for p in module.critic.parameters():
                p.clamp_(-clip_value, clip_value)


def wgan_critic_loss(module: GAN, batch: Any, *, gradient_penalty_weight: float = 10.0,
                     clip_value: float | None = None) -> torch.Tensor:
    r"""The WGAN critic's loss :math:`\mathbb E[f(G(z))] - \mathbb E[f(x)] + \lambda\,\mathrm{GP}`.

    ``gradient_penalty_weight`` is :math:`\lambda` (0: none). With ``clip_value`` :math:`c`, the critic's weights
    are clamped to :math:`[-c, c]` first: clamping before every critic and generator evaluation is the WGAN
    clipping after each critic update (the last update's weights are clamped before they are next used).
    """
    _clip(module, clip_value)
    x = _real(batch)
    with torch.no_grad():
        fake = module.sample(x.shape[0])
    loss = module.score(fake).mean() - module.score(x).mean()
    if gradient_penalty_weight:
        loss = loss + gradient_penalty_weight * gradient_penalty(module, x, fake)
    return loss


def wgan_generator_loss(module: GAN, batch: Any, *, clip_value: float | None = None) -> torch.Tensor:
    r"""The WGAN generator's loss :math:`-\mathbb E[f(G(z))]`."""
    _clip(module, clip_value)
    return -module.score(module.sample(_real(batch).shape[0])).mean()


def wgan_objective(*, gradient_penalty_weight: float | None = 10.0, clip_value: float | None = None,
                   critic_steps: int = 5, learning_rate: float = 1e-4,
                   betas: tuple[float, float] = (0.0, 0.9)) -> TwoPlayer:
    r"""The WGAN game: WGAN-GP by default (Gulrajani et al. 2017, Algorithm 1: :math:`\lambda = 10`, 5 critic
    steps per generator step, Adam with learning rate :math:`10^{-4}` and :math:`\beta = (0, 0.9)`), or the
    clipped WGAN (``gradient_penalty_weight=None, clip_value=0.01``; Arjovsky et al. 2017).

    Where reference code differs: the WGAN-GP authors' released toy and MNIST scripts use Adam with
    :math:`\beta_1 = 0.5` (not the paper's 0); the clipped WGAN paper uses RMSProp (learning rate
    :math:`5\cdot10^{-5}`), which the engine does not offer: pass ``betas=(0.0, 0.9)`` and a small learning
    rate for the closest Adam.
    """
    if gradient_penalty_weight is None and clip_value is None:
        raise ValueError("gradient_penalty_weight: expected a penalty weight or a clip_value, got neither "
                         "(an unconstrained critic makes the WGAN objective unbounded).")
    weight = 0.0 if gradient_penalty_weight is None else check_positive(gradient_penalty_weight,
                                                                        "gradient_penalty_weight")
    clip = None if clip_value is None else check_positive(clip_value, "clip_value")
    check_int(critic_steps, "critic_steps")

    def critic(module: GAN, batch: Any) -> torch.Tensor:
        return wgan_critic_loss(module, batch, gradient_penalty_weight=weight, clip_value=clip)

    def generator(module: GAN, batch: Any) -> torch.Tensor:
        return wgan_generator_loss(module, batch, clip_value=clip)

    return TwoPlayer(generator, critic, critic_steps=critic_steps, generator_learning_rate=learning_rate,
                     critic_learning_rate=learning_rate, betas=betas)
