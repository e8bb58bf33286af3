r"""Variational autoencoders as Pyro model-guide pairs (course chapter 6, §6.4; Kingma & Welling 2014).

The generative story (the ``model``) and the amortised variational family (the ``guide``):

.. math::

    z_n \sim \mathcal N(0, I_L) \quad (6.13), \qquad
    x_n \mid z_n \sim p_\theta(x \mid z_n) = \begin{cases}
        \prod_j \mathrm{Bernoulli}(x_j;\ \mathrm{sigmoid}(g_\theta(z_n))_j) & \text{binary images} \\
        \mathcal N(x;\ g_\theta(z_n), \operatorname{diag}\sigma^2) & \text{real-valued data}
    \end{cases}

.. math::

    q_\phi(z_n \mid x_n) = \mathcal N(z_n;\ \mu_\phi(x_n), \operatorname{diag}\sigma_\phi^2(x_n)) \quad (6.14),

trained by maximising the per-datapoint ELBO (6.6)

.. math::

    \mathcal L(x_n) = \mathbb E_{q_\phi(z \mid x_n)}[\log p_\theta(x_n \mid z)]
                      - \mathrm{KL}(q_\phi(z \mid x_n) \,\|\, p(z)),

with the reparameterisation :math:`z = \mu_\phi + \sigma_\phi \odot \varepsilon` (6.9)-(6.12). Pyro's
``TraceMeanField_ELBO`` uses the analytic Gaussian KL
:math:`\tfrac12\sum_l(\mu_l^2 + \sigma_l^2 - \log\sigma_l^2 - 1)` (6.15); ``Trace_ELBO`` estimates it by Monte
Carlo. Train with :func:`pgm_ppl.training.train`; no other loop exists.

Variants, all from the same class: the β-VAE (Higgins et al. 2017; the latent site is scaled by β in both model
and guide with ``poutine.scale``, so the ELBO's KL term, analytic or Monte Carlo, is multiplied by β), the
conditional VAE (Sohn et al. 2015; one-hot labels are context for encoder and decoder), and the importance-
weighted bound (Burda et al. 2016) for evaluation (:meth:`VAE.iwae`) and training (:func:`iwae_loss`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyro
import pyro.distributions as dist
import pyro.poutine as poutine
import torch
from torch import nn
from torch.nn import functional as F

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive
from pgm_ppl.nn import MLP, ConvDecoder, ConvEncoder

__all__ = ["VAE", "iwae_loss", "vae", "with_importance_samples"]

LIKELIHOODS = ("bernoulli", "gaussian")
ARCHITECTURES = ("mlp", "conv")
_MIN_SCALE = 1e-4  # the encoder's and decoder's smallest standard deviation (keeps IWAE weights finite)


class VAE(nn.Module):
    r"""A VAE: Gaussian prior, amortised Gaussian encoder, Bernoulli or Gaussian decoder (module docstring).

    Build it with :func:`vae`. The Trainable protocol: ``model(batch)``, ``guide(batch)``, ``log_prob(x)``,
    ``sample(num_samples)``; ``batch`` is an ``(n, D)`` tensor, or for a conditional VAE ``(x, y)`` with
    integer labels ``y`` of shape ``(n,)`` (or ``x`` with the ``num_classes`` one-hot columns appended).

    ``log_prob(x)`` is the per-row ELBO with the analytic KL (``log_prob_kind = "lower_bound"``, β = 1
    whatever the training β) when ``num_importance_samples`` is None, else the IWAE-K estimate
    :math:`\log \frac1K \sum_k p_\theta(x, z_k) / q_\phi(z_k \mid x)` (``"estimate"``; :meth:`iwae`).
    """

    def __init__(self, encoder: nn.Module, decoder: nn.Module, *, features: int, latent_features: int,
                 likelihood: str, noise_variance: float | str, beta: float, num_classes: int,
                 image_shape: tuple[int, ...] | None, num_importance_samples: int | None,
                 threshold: float | None = None, register_with_pyro: bool = False) -> None:
        super().__init__()
        self.encoder, self.decoder = encoder, decoder
        self.features, self.latent_features = features, latent_features
        self.likelihood, self.beta, self.num_classes = likelihood, beta, num_classes
        self.image_shape = image_shape
        self.num_importance_samples = num_importance_samples
        self.threshold = threshold
        self.register_with_pyro = bool(register_with_pyro)
        self.learn_noise = isinstance(noise_variance, str)
        if likelihood == "gaussian":
            if noise_variance == "learned":  # one variance per pixel
                self.log_noise_scale = nn.Parameter(torch.full((features,), -1.0))
            elif noise_variance == "shared":  # one variance for all pixels (isotropic, as PPCA)
                self.log_noise_scale = nn.Parameter(torch.tensor(-1.0))
            else:
                self.register_buffer("log_noise_scale", torch.tensor(0.5 * math.log(noise_variance)))
        self.register_buffer("_zero", torch.zeros(()))

    @property
    def log_prob_kind(self) -> str:
        """``"lower_bound"`` (the ELBO) or ``"estimate"`` (IWAE with ``num_importance_samples`` draws)."""
        return "lower_bound" if self.num_importance_samples is None else "estimate"

    # ----------------------------------------------------------------------------------------------------- parts
    def split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, context)``: the data rows (binarised at ``threshold`` if set) and, for a conditional VAE, the one-hot
        labels (else None)."""
        x, context = self._split(batch)
        if x.ndim != 2 or x.shape[-1] != self.features:
            raise ValueError(f"x: expected rows of shape (n, {self.features}) for this VAE of {self.features} "
                             f"features, got shape {tuple(x.shape)}.")
        if self.threshold is not None:
            x = (x > self.threshold).to(x.dtype)
        elif self.likelihood == "bernoulli" and not torch.jit.is_tracing() and torch.any((x != 0) & (x != 1)):
            raise ValueError("x: expected pixels equal to 0 or 1 for the Bernoulli decoder, got other values; "
                             "binarise the data (pgm_ppl.data.images.load_binarized_digits) or build the VAE "
                             "with threshold=8.0 for raw digits (0-16).")
        return x, context

    def _tensor(self, value: Any) -> torch.Tensor:
        """``value`` (a tensor, array or nested list) as a tensor of the module's dtype and device."""
        if not isinstance(value, torch.Tensor):
            value = torch.as_tensor(np.asarray(value))
        if not (value.dtype.is_floating_point or value.dtype in (torch.bool, torch.uint8, torch.int8, torch.int16,
                                                                 torch.int32, torch.int64)):
            raise TypeError(f"x: expected real numbers, got a tensor of dtype {value.dtype}.")
        return value.to(dtype=self._zero.dtype, device=self._zero.device)

    def _split(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        pair = isinstance(batch, (tuple, list)) and len(batch) == 2 and all(
            isinstance(part, (torch.Tensor, np.ndarray)) for part in batch)
        if pair:
            if not self.num_classes:
                raise ValueError("batch: expected an (n, D) array for this unconditional VAE, got a tuple "
                                 "(x, y); build the model with num_classes to condition on labels.")
            x, y = self._tensor(batch[0]), torch.as_tensor(batch[1], device=self._zero.device)
            if y.dim() == 1 or y.shape[-1] == 1:
                y = y.reshape(-1)
                if not torch.jit.is_tracing() and y.numel() and (
                        (y.dtype.is_floating_point and not torch.equal(y, y.round()))
                        or int(y.min()) < 0 or int(y.max()) >= self.num_classes):
                    raise ValueError(f"y: expected integer labels in [0, {self.num_classes - 1}], got values in "
                                     f"[{y.min().item()}, {y.max().item()}].")
                y = F.one_hot(y.long(), self.num_classes)
            return x, y.to(x.dtype)
        batch = self._tensor(batch)
        if self.num_classes:
            if batch.shape[-1] != self.features + self.num_classes:
                raise ValueError(f"batch: expected (x, y) or rows of {self.features} pixels followed by "
                                 f"{self.num_classes} one-hot label columns, got rows of {batch.shape[-1]}.")
            return batch[..., :self.features], batch[..., self.features:]
        return batch, None

    def encode(self, x: torch.Tensor, context: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The encoder's :math:`(\mu_\phi(x), \sigma_\phi(x))` of (6.14), each of shape ``(n, L)``."""
        if self.image_shape is not None:
            h = self.encoder(x.reshape(-1, *self.image_shape))
        else:
            h = self.encoder(x if context is None else torch.cat([x, context], -1))
        return self.gaussian_head(h)

    @staticmethod
    def gaussian_head(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Split the encoder's output into :math:`\\mu` and :math:`\\sigma = \\mathrm{softplus}(\\cdot) + 10^{-4}`."""
        loc, raw = h.chunk(2, -1)
        return loc, F.softplus(raw) + _MIN_SCALE

    def decode(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`g_\theta(z)`: Bernoulli logits or Gaussian means, shape ``z.shape[:-1] + (D,)``."""
        if context is not None:
            context = context.expand(*z.shape[:-1], context.shape[-1])
            z = torch.cat([z, context], -1)
        if self.image_shape is not None:
            lead = z.shape[:-1]
            return self.decoder(z.reshape(-1, z.shape[-1])).reshape(*lead, self.features)
        return self.decoder(z)

    def noise_scale(self) -> torch.Tensor:
        """The Gaussian decoder's standard deviation :math:`\\sigma` (per pixel, or one shared value)."""
        return torch.exp(self.log_noise_scale) + _MIN_SCALE

    def prior(self, shape: Sequence[int] = ()) -> dist.Distribution:
        """:math:`p(z) = \\mathcal N(0, I_L)` (6.13), batch shape ``shape``, event shape ``(L,)``."""
        zero = self._zero.expand(*shape, self.latent_features)
        return dist.Normal(zero, torch.ones_like(zero)).to_event(1)

    def posterior(self, x: torch.Tensor, context: torch.Tensor | None = None) -> dist.Distribution:
        """:math:`q_\\phi(z \\mid x)` (6.14), batch shape ``(n,)``, event shape ``(L,)``."""
        loc, scale = self.encode(x, context)
        return dist.Normal(loc, scale).to_event(1)

    def decoder_distribution(self, z: torch.Tensor, context: torch.Tensor | None = None) -> dist.Distribution:
        """:math:`p_\\theta(x \\mid z)`, event shape ``(D,)``."""
        out = self.decode(z, context)
        if self.likelihood == "bernoulli":
            return dist.Bernoulli(logits=out, validate_args=False).to_event(1)
        return dist.Normal(out, self.noise_scale().expand_as(out)).to_event(1)

    def mean(self, z: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`\\mathbb E[x \\mid z]`: pixel probabilities (Bernoulli) or means (Gaussian)."""
        out = self.decode(z, context)
        return torch.sigmoid(out) if self.likelihood == "bernoulli" else out

    # ------------------------------------------------------------------------------------------- model, guide
    def model(self, batch: Any) -> None:
        """Pyro model: :math:`z_n \\sim \\mathcal N(0, I)` (6.13), :math:`x_n \\sim p_\\theta(x \\mid z_n)`."""
        if self.register_with_pyro:
            pyro.module("vae", self)
        x, context = self.split(batch)
        with pyro.plate("data", x.shape[0]):
            with poutine.scale(scale=self.beta):  # beta-VAE: beta * KL (both sites scaled: see the guide)
                z = pyro.sample("z", self.prior((x.shape[0],)))
            pyro.sample("x", self.decoder_distribution(z, context), obs=x)

    def guide(self, batch: Any) -> None:
        """Pyro guide: :math:`z_n \\sim q_\\phi(z \\mid x_n)` (6.14), reparameterised."""
        if self.register_with_pyro:
            pyro.module("vae", self)
        x, context = self.split(batch)
        with pyro.plate("data", x.shape[0]):
            with poutine.scale(scale=self.beta):
                pyro.sample("z", self.posterior(x, context))

    # ------------------------------------------------------------------------------------------------ density
    def elbo(self, x: torch.Tensor, num_particles: int = 1, context: torch.Tensor | None = None) -> torch.Tensor:
        """Per-row ELBO (6.6) with the analytic KL (6.15) and ``num_particles`` reconstruction draws, shape (n,)."""
        q = self.posterior(x, context)
        z = q.rsample((num_particles,))
        reconstruction = self.decoder_distribution(z, context).log_prob(x).mean(0)
        return reconstruction - torch.distributions.kl_divergence(q, self.prior((x.shape[0],)))

    def log_weights(self, x: torch.Tensor, num_samples: int, context: torch.Tensor | None = None) -> torch.Tensor:
        r"""Importance log-weights :math:`\log p_\theta(x, z_k) - \log q_\phi(z_k \mid x)`, shape ``(K, n)``."""
        q = self.posterior(x, context)
        z = q.rsample((num_samples,))
        return self.decoder_distribution(z, context).log_prob(x) + self.prior().log_prob(z) - q.log_prob(z)

    @torch.no_grad()
    def iwae(self, x: torch.Tensor, num_samples: int = 5000, *, chunk_size: int = 100,
             context: torch.Tensor | None = None) -> torch.Tensor:
        r"""The importance-weighted estimate of :math:`\log p_\theta(x)` per row (Burda et al. 2016), shape (n,).

        .. math::
            \mathcal L_K(x) = \log \frac1K \sum_{k=1}^K \frac{p_\theta(x, z_k)}{q_\phi(z_k \mid x)},
            \qquad z_k \sim q_\phi(\cdot \mid x),

        a lower bound in expectation, non-decreasing in :math:`K`, consistent as :math:`K \to \infty`. The
        particles are drawn ``chunk_size`` at a time and merged by a running ``logaddexp`` in float64, so memory
        is that of one chunk whatever K, and no weight under- or overflows. An evaluation: no gradients flow
        (train on the bound with :func:`iwae_loss`).
        """
        K = check_int(num_samples, "num_samples")
        chunk_size = check_int(chunk_size, "chunk_size")
        total = torch.full(x.shape[:1], -math.inf, dtype=torch.float64, device=x.device)
        for start in range(0, K, chunk_size):
            log_w = self.log_weights(x, min(chunk_size, K - start), context).to(torch.float64)
            total = torch.logaddexp(total, torch.logsumexp(log_w, 0))
        return (total - math.log(K)).to(x.dtype)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ELBO (``num_importance_samples`` None) or IWAE-K per row of ``x`` (labels appended if conditional)."""
        x, context = self.split(x)
        if self.num_importance_samples is None:
            return self.elbo(x, num_particles=1, context=context)
        return self.iwae(x, self.num_importance_samples, context=context)

    def sample(self, num_samples: int) -> torch.Tensor:
        """Data drawn from the model: :math:`z \\sim p(z)`, :math:`x \\sim p_\\theta(x \\mid z)`, shape (n, D).

        A conditional VAE draws labels uniformly and returns the one-hot columns appended (its row shape)."""
        z = self.prior((check_int(num_samples, "num_samples", minimum=0),)).sample()
        context = None
        if self.num_classes:
            labels = torch.randint(self.num_classes, (num_samples,), device=z.device)
            context = F.one_hot(labels, self.num_classes).to(z.dtype)
        x = self.decoder_distribution(z, context).sample()
        return x if context is None else torch.cat([x, context], -1)

    # ----------------------------------------------------------------------------------------------- pictures
    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """:math:`\\mathbb E[x \\mid z = \\mu_\\phi(x)]`: the decoder's mean at the encoder's mean, shape (n, D)."""
        loc, _ = self.encode(x, context)
        return self.mean(loc, context)

    @torch.no_grad()
    def interpolate(self, x0: torch.Tensor, x1: torch.Tensor, num_points: int = 8) -> torch.Tensor:
        """Decoder means on the segment between the encoder means of ``x0`` and ``x1``, shape (num_points, D)."""
        (z0, _), (z1, _) = self.encode(x0.reshape(1, -1)), self.encode(x1.reshape(1, -1))
        t = torch.linspace(0, 1, check_int(num_points, "num_points", minimum=2), dtype=z0.dtype)[:, None]
        return self.mean((1 - t) * z0 + t * z1)

    def extra_repr(self) -> str:
        return (f"features={self.features}, latent_features={self.latent_features}, "
                f"likelihood={self.likelihood!r}, beta={self.beta}, num_classes={self.num_classes}")


def vae(features: int, *, latent_features: int = 8, hidden_features: Sequence[int] | int = (256,),
        architecture: str = "mlp", likelihood: str = "bernoulli", noise_variance: float | str = "learned",
        beta: float = 1.0, num_classes: int = 0, activation: str = "relu",
        image_shape: Sequence[int] | None = None, channels: Sequence[int] = (16, 32),
        num_importance_samples: int | None = None, threshold: float | None = None, register_with_pyro: bool = False,
        seed: int = 0) -> VAE:
    r"""Build a :class:`VAE` (course §6.4) with weights drawn under ``torch_seeded(seed)``.

    Parameters
    ----------
    features
        D, the size of a data row (64 for 8x8 digits).
    latent_features
        L, the size of :math:`z` (20 in the course's MNIST demo; 8 is plenty for digits).
    hidden_features
        Hidden widths of the MLP encoder (the decoder uses them reversed); ``()`` gives affine maps (the
        linear VAE whose optimum is probabilistic PCA, Lucas et al. 2019).
    architecture
        ``"mlp"`` (:class:`pgm_ppl.nn.MLP`) or ``"conv"`` (:class:`pgm_ppl.nn.ConvEncoder` /
        :class:`~pgm_ppl.nn.ConvDecoder` on ``image_shape``; unconditional only).
    likelihood
        ``"bernoulli"`` (binary pixels; decoder outputs logits) or ``"gaussian"``.
    noise_variance
        Gaussian decoder only: ``"learned"`` (one variance per pixel), ``"shared"`` (one learned variance, as
        PPCA) or a fixed positive number :math:`\sigma^2`.
    beta
        Weight of the KL term (β-VAE; 1 is the ELBO). Scales the latent site in model and guide.
    num_classes
        0 for a VAE; C > 0 for a conditional VAE whose encoder and decoder also see one-hot labels.
    activation
        Hidden activation by name (:data:`pgm_ppl.nn.ACTIVATIONS`).
    image_shape, channels
        For ``architecture="conv"``: ``(1, 8, 8)`` by default when D = 64, and the stages' channels.
    num_importance_samples
        None: ``log_prob`` is the ELBO; K: the IWAE-K estimate (see :func:`with_importance_samples`).
    threshold
        None (the data are given as the model sees them), or a level: the model is then one of the binarised
        rows :math:`\mathbb 1[x > \text{threshold}]` (8.0 for raw digits, as ``pgm-ppl train vae --data digits``);
        its ``log_prob`` is that of the binarised row.
    register_with_pyro
        Call ``pyro.module`` in model and guide so the weights are Pyro ``param`` sites. Needed by
        ``JitTrace_ELBO`` (which otherwise fails: "Cannot insert a Tensor that requires grad as a constant"), and
        with it the fastest way to train (about the plain PyTorch step's time, ``benchmarks/bench_deep_latent.py``);
        it slows the non-JIT ELBOs (extra param sites per step). Pyro 1.9.2's ``JitTraceMeanField_ELBO`` never
        keeps its compiled function (it tests ``_loss_and_surrogate_loss`` but stores ``_differentiable_loss``),
        so on its own it traces the model again at every step, about 8x slower; ``pgm_ppl.training.train`` keeps
        the compiled function (``training/objectives.py``).
    seed
        Seeds the initial weights.

    Returns
    -------
    VAE

    Raises
    ------
    ValueError, TypeError
        A bad size, name, β, variance, or a conditional convolutional VAE.

    Examples
    --------
    >>> import pyro
    >>> from pgm_ppl.data.images import load_binarized_digits
    >>> from pgm_ppl.training import train
    >>> X_train, X_test, _, _ = load_binarized_digits()
    >>> fit = train(vae(64, latent_features=4, hidden_features=(64,)), X_train, num_steps=20,
    ...             loss=pyro.infer.TraceMeanField_ELBO(), num_generated=0)
    >>> fit.density.kind, fit.density.log_prob(X_test[:3]).shape
    ('lower_bound', (3,))
    """
    D = check_int(features, "features")
    L = check_int(latent_features, "latent_features")
    check_choice(architecture, "architecture", ARCHITECTURES)
    check_choice(likelihood, "likelihood", LIKELIHOODS)
    beta = check_positive(beta, "beta", allow_zero=True)
    C = check_int(num_classes, "num_classes", minimum=0)
    if isinstance(noise_variance, str):
        check_choice(noise_variance, "noise_variance", ("learned", "shared"))
    else:
        noise_variance = check_positive(noise_variance, "noise_variance")
    if num_importance_samples is not None:
        check_int(num_importance_samples, "num_importance_samples")
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise TypeError(f"threshold: expected None or a finite number (8.0 for raw digits), got {threshold!r}.")
        if not math.isfinite(threshold):
            raise ValueError(f"threshold: expected None or a finite number (8.0 for raw digits), got {threshold!r}.")
    shape = None
    with torch_seeded(seed):
        if architecture == "conv":
            if C:
                raise ValueError("architecture: expected 'mlp' for a conditional VAE (num_classes > 0), got 'conv'.")
            shape = tuple(image_shape) if image_shape is not None else ((1, 8, 8) if D == 64 else None)
            if shape is None or int(np.prod(shape)) != D:
                raise ValueError(f"image_shape: expected (channels, height, width) with {D} pixels in all, "
                                 f"got {image_shape!r}.")
            encoder = ConvEncoder(shape, 2 * L, channels=channels, activation=activation)
            decoder = ConvDecoder(L, shape, channels=channels, activation=activation)
        else:
            widths = (hidden_features,) if isinstance(hidden_features, int) else tuple(hidden_features)
            encoder = MLP(D + C, 2 * L, widths, activation=activation)
            decoder = MLP(L + C, D, widths[::-1], activation=activation)
        return VAE(encoder, decoder, features=D, latent_features=L, likelihood=likelihood,
                   noise_variance=noise_variance, beta=beta, num_classes=C, image_shape=shape,
                   num_importance_samples=num_importance_samples,
                   threshold=None if threshold is None else float(threshold),
                   register_with_pyro=register_with_pyro)


def with_importance_samples(module: VAE, num_importance_samples: int | None) -> VAE:
    """A view of ``module`` (shared weights) whose ``log_prob`` is IWAE-K (``"estimate"``), or the ELBO for None.

    Use it to evaluate a trained VAE by IWAE, e.g. ``ModuleDensity(with_importance_samples(fit.model, 5000), ...)``
    or ``with_importance_samples(fit.model, 5000).log_prob(x)``.
    """
    if not isinstance(module, VAE):
        raise TypeError(f"module: expected a pgm_ppl.deep_latent.VAE, got {type(module).__name__}.")
    if num_importance_samples is not None:
        check_int(num_importance_samples, "num_importance_samples")
    view = copy.copy(module)  # shallow: the same submodules and parameters
    view.num_importance_samples = num_importance_samples
    return view


def iwae_loss(num_samples: int = 5) -> Callable[[VAE, Any], torch.Tensor]:
    r"""The IWAE training objective (Burda et al. 2016): ``loss(module, batch) = -mean_n L_K(x_n)``.

    A custom loss for :func:`pgm_ppl.training.train` (a batch mean, the engine's convention for callables),
    with :math:`K` = ``num_samples`` reparameterised particles per row; K = 1 is the single-sample ELBO.
    """
    K = check_int(num_samples, "num_samples")

    def iwae(module: VAE, batch: Any) -> torch.Tensor:
        x, context = module.split(batch)
        log_w = module.log_weights(x, K, context)
        return -(torch.logsumexp(log_w, 0) - math.log(K)).mean()

    iwae.__name__ = f"iwae_{K}"
    return iwae
