r"""DDPM as a Pyro model–guide pair: the reverse process is the model, the fixed noising process the guide.

Course chapter 9, rows 9.12-9.17. The model (9.13)-(9.14) is

.. math::
    p_\theta(x_{0:T}) = p(x_T)\prod_{t=1}^T p_\theta(x_{t-1} \mid x_t), \quad p(x_T) = \mathcal N(0, I), \quad
    p_\theta(x_{t-1} \mid x_t) = \mathcal N\bigl(\mu_\theta(x_t, t), \sigma_t^2 I\bigr),

with :math:`\mu_\theta(x_t, t) = \alpha_t^{-1/2}\bigl(x_t - \beta_t(1-\bar\alpha_t)^{-1/2}\varepsilon_\theta(x_t, t)\bigr)`
(9.25). The guide is the forward process written backwards, :math:`q(x_T \mid x_0)\prod_{t=2}^T q(x_{t-1} \mid
x_t, x_0)` ((9.12), (9.17)-(9.20)), which is exactly :math:`q(x_{1:T} \mid x_0)`: a guide with no parameters. In
this order, model and guide sample the sites in the same order, so :class:`pyro.infer.TraceMeanField_ELBO`
computes each site's term as the analytic KL given the sampled :math:`x_t`, and its value is the DDPM bound
(9.21)-(9.22)

.. math::
    \mathrm{ELBO}(x_0) = \underbrace{-\mathrm{KL}(q(x_T \mid x_0)\,\|\,p(x_T))}_{L_T}
      \;\underbrace{-\sum_{t=2}^T \mathbb E_q\,\mathrm{KL}\bigl(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1}
      \mid x_t)\bigr)}_{\sum_t L_{t-1}}
      \;+\; \underbrace{\mathbb E_q \log p_\theta(x_0 \mid x_1)}_{L_0}
    \le \log p_\theta(x_0)

(the notes' sign convention: the :math:`L` s are the terms of the ELBO). The fast **random-t** estimator draws
one :math:`t \sim \mathcal U\{1, \dots, T\}` per row and returns :math:`-L_T - T\,L_{t-1}` (with
:math:`L_0` at :math:`t = 1`): an unbiased estimate of the negative bound, whatever :math:`\theta`.
:math:`L_{\text{simple}} = \mathbb E_{t, x_0, \varepsilon}\|\varepsilon - \varepsilon_\theta(x_t, t)\|^2` drops
the weights :math:`\beta_t^2 / (2\sigma_t^2\alpha_t(1-\bar\alpha_t))` of (9.26), :math:`L_T` and the decoder: a
**reweighted objective**, not the bound (its value bounds nothing; Ho et al. found it trains better samplers).

Variances :math:`\sigma_t^2`: ``"beta"`` (:math:`\beta_t`) or ``"beta_tilde"`` (:math:`\tilde\beta_t`, with
:math:`\sigma_1^2 = \tilde\beta_2` since :math:`\tilde\beta_1 = 0`, as in Ho et al.'s code). The decoder
:math:`p_\theta(x_0 \mid x_1)` is :math:`\mathcal N(\mu_\theta(x_1, 1), \sigma_1^2 I)` for continuous data, or the
discretised Gaussian of :mod:`pgm_ppl.diffusion.decoders` for data on a grid (then bits/dim).

Song & Ermon (2019) is the source of NCSN (the notes cite 2021); DDPM is Ho, Jain & Abbeel (2020).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pyro
import pyro.distributions as dist
import torch
from torch import nn

from pgm_ppl.backend.seeding import torch_seeded
from pgm_ppl.core.validation import check_choice, check_int, check_positive, check_probability
from pgm_ppl.diffusion.decoders import DiscretisedGaussian
from pgm_ppl.diffusion.parameterisations import PREDICTIONS, convert_prediction
from pgm_ppl.diffusion.schedules import NoiseSchedule, cosine_schedule, linear_schedule
from pgm_ppl.nn import TimeConditionedMLP

__all__ = ["DDPM", "bits_per_dim", "ddpm"]

OBJECTIVES = ("simple", "bound")
VARIANCES = ("beta", "beta_tilde")
TRACES = ("auto", "exact", "hutchinson")
# Above this dimension the probability-flow likelihood uses Hutchinson's trace estimator (kind "estimate").
EXACT_TRACE_MAX_FEATURES = 8


def _gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor
                 ) -> torch.Tensor:
    """KL(N(mean_q, var_q I) || N(mean_p, var_p I)) per element (summed by the caller)."""
    return 0.5 * (torch.log(var_p / var_q) + (var_q + (mean_q - mean_p) ** 2) / var_p - 1.0)


class DDPM(nn.Module):
    r"""A denoising diffusion probabilistic model (module docstring) as a :class:`~pgm_ppl.training.Trainable`.

    Parameters
    ----------
    network
        The noise network, called ``network(x_t, t)`` (or ``network(x_t, t, y)`` when ``num_classes`` is set)
        with ``t`` a float tensor of steps in :math:`[0, T]`; it predicts ``prediction``.
    schedule
        The :class:`~pgm_ppl.diffusion.NoiseSchedule`.
    prediction
        What the network outputs: ``"epsilon"`` (Ho et al.), ``"x0"``, ``"v"`` or ``"score"``; converted exactly
        to :math:`\varepsilon` (:func:`~pgm_ppl.diffusion.convert_prediction`).
    variance
        ``"beta_tilde"`` or ``"beta"`` (the reverse variances :math:`\sigma_t^2`).
    objective
        What ``loss(batch)`` returns: ``"simple"`` (the mean squared error of the network's own target, a
        reweighted objective) or ``"bound"`` (the random-t estimate of the negative bound, nats per row).
    num_levels
        None for continuous data (Gaussian decoder), else :math:`K`: data are levels on a :math:`K`-point grid
        of :math:`[-1, 1]` (:func:`~pgm_ppl.diffusion.to_grid_scale`) and the decoder is discretised.
    num_classes, label_dropout, guidance_weight
        Classifier-free guidance (:mod:`pgm_ppl.diffusion.guidance`): with ``num_classes`` set, batches are
        ``(x, y)`` tuples, labels are replaced by the null label with probability ``label_dropout`` in ``loss``,
        and ``sample`` guides with weight ``guidance_weight`` (0: the conditional model).
    trace
        The divergence of the probability-flow likelihood: ``"exact"``, ``"hutchinson"`` or ``"auto"``
        (exact up to 8 features). Sets ``log_prob_kind`` ("exact" or "estimate").
    ode_tol
        Absolute and relative tolerance of the adaptive solver of the probability-flow ODE.

    Notes
    -----
    Methods: ``model``/``guide`` (the Pyro pair), ``loss`` (the training objective), ``bound_terms`` and
    ``elbo`` (the bound per row), ``epsilon`` (with guidance), ``log_prob`` (probability-flow ODE),
    ``sample`` (ancestral), and the samplers of :mod:`pgm_ppl.diffusion.samplers` take the module.
    """

    def __init__(self, network: nn.Module, schedule: NoiseSchedule, *, prediction: str = "epsilon",
                 variance: str = "beta_tilde", objective: str = "simple", num_levels: int | None = None,
                 num_classes: int | None = None, label_dropout: float = 0.1, guidance_weight: float = 0.0,
                 trace: str = "auto", ode_tol: float = 1e-5) -> None:
        super().__init__()
        if not isinstance(schedule, NoiseSchedule):
            raise TypeError(f"schedule: expected a NoiseSchedule, got {type(schedule).__name__}.")
        self.network = network
        self.schedule = schedule
        self.prediction = check_choice(prediction, "prediction", PREDICTIONS)
        self.variance = check_choice(variance, "variance", VARIANCES)
        self.objective = check_choice(objective, "objective", OBJECTIVES)
        self.num_levels = None if num_levels is None else check_int(num_levels, "num_levels", minimum=2)
        self.num_classes = None if num_classes is None else check_int(num_classes, "num_classes")
        self.label_dropout = check_probability(label_dropout, "label_dropout")
        self.guidance_weight = float(guidance_weight)
        if self.num_classes is None and self.guidance_weight != 0.0:
            raise ValueError(f"guidance_weight: expected 0 for an unconditional model (num_classes=None), got "
                             f"{guidance_weight!r}; classifier-free guidance needs num_classes and (X, y) data.")
        self.trace = check_choice(trace, "trace", TRACES)
        self.ode_tol = check_positive(ode_tol, "ode_tol")

    # --- the reverse process -----------------------------------------------------------------------------------
    @property
    def num_time_steps(self) -> int:
        """:math:`T`."""
        return self.schedule.num_time_steps

    @property
    def log_prob_kind(self) -> str:  # type: ignore[override]
        """``"exact"`` (probability-flow ODE with the exact divergence) or ``"estimate"`` (Hutchinson)."""
        return "estimate" if self._use_hutchinson() else "exact"

    def _use_hutchinson(self, features: int | None = None) -> bool:
        if self.trace != "auto":
            return self.trace == "hutchinson"
        features = getattr(self.network, "features", None) if features is None else features
        return features is not None and features > EXACT_TRACE_MAX_FEATURES

    def split_batch(self, batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(x, y)``: a tuple batch of a conditional model, or ``(batch, None)``."""
        if isinstance(batch, (tuple, list)):
            if self.num_classes is None:
                if len(batch) == 1:
                    return batch[0], None
                raise ValueError("batch: expected an array of rows (this DDPM has no labels; set num_classes for "
                                 f"(x, y) data), got a tuple of {len(batch)} arrays.")
            x, y = batch
            return x, y.long()
        if self.num_classes is not None:
            raise ValueError(f"batch: expected an (x, y) tuple of rows and labels (num_classes="
                             f"{self.num_classes}), got a single array.")
        return batch, None

    def alpha_bar(self, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        r""":math:`\bar\alpha(t)` at float steps ``t`` (n,) (continuous view), shaped to broadcast with ``like``."""
        a = torch.exp(self.schedule.continuous_log_alpha_bar(t)).to(like.dtype)
        return a.reshape(a.shape + (1,) * (like.ndim - a.ndim))

    def _network(self, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.num_classes is None:
            return self.network(x_t, t)
        if y is None:
            y = torch.full((x_t.shape[0],), self.num_classes, dtype=torch.long, device=x_t.device)
        return self.network(x_t, t, y)

    def epsilon(self, x_t: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None,
                guidance_weight: float | None = None) -> torch.Tensor:
        r""":math:`\varepsilon_\theta(x_t, t)` at float steps ``t`` (scalar or (n,)), whatever the network predicts.

        With labels ``y`` and guidance weight :math:`w` (default ``self.guidance_weight``), the classifier-free
        combination :math:`(1+w)\,\varepsilon_\theta(x_t, t, y) - w\,\varepsilon_\theta(x_t, t, \varnothing)`
        (Ho & Salimans 2022, eq. (6)); :math:`w = 0` is the conditional model. ``y=None`` is the unconditional
        model (the null label).
        """
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device)
        t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        w = self.guidance_weight if guidance_weight is None else float(guidance_weight)
        eps = self._to_epsilon(self._network(x_t, t, y), x_t, t)
        if y is None or w == 0.0:
            return eps
        return (1.0 + w) * eps - w * self._to_epsilon(self._network(x_t, t, None), x_t, t)

    def _to_epsilon(self, raw: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if self.prediction == "epsilon":
            return raw
        return convert_prediction(raw, source=self.prediction, target="epsilon", x_t=x_t,
                                  alpha_bar=self.alpha_bar(t, x_t))

    def score(self, x_t: torch.Tensor, t: torch.Tensor | float, y: torch.Tensor | None = None,
              guidance_weight: float | None = None) -> torch.Tensor:
        r""":math:`s_\theta(x_t, t) = -\varepsilon_\theta(x_t, t)/\sqrt{1-\bar\alpha(t)}` at float steps ``t`` (9.20)."""
        t = torch.as_tensor(t, dtype=x_t.dtype, device=x_t.device)
        t = t.expand(x_t.shape[0]) if t.ndim == 0 else t
        eps = self.epsilon(x_t, t, y, guidance_weight)
        return convert_prediction(eps, source="epsilon", target="score", x_t=x_t, alpha_bar=self.alpha_bar(t, x_t))

    @property
    def sde(self) -> Any:
        """The VP SDE of the schedule in step units (:class:`~pgm_ppl.diffusion.DiscreteVPSDE`), for
        :func:`~pgm_ppl.diffusion.reverse_sde_sample` with :meth:`score`."""
        from pgm_ppl.diffusion.sde import DiscreteVPSDE

        return DiscreteVPSDE(self.schedule)

    def reverse_variance(self, t: torch.Tensor | int) -> torch.Tensor:
        r""":math:`\sigma_t^2` at integer steps ``t >= 1`` (``"beta_tilde"``: :math:`\sigma_1^2 = \tilde\beta_2`)."""
        s = self.schedule
        t = torch.as_tensor(t, dtype=torch.long, device=s.betas.device)
        if self.variance == "beta":
            return s.betas[t]
        if self.num_time_steps == 1:
            return s.betas[t]
        return s.posterior_variance(torch.where(t == 1, torch.full_like(t, 2), t))

    def reverse_mean(self, x_t: torch.Tensor, t: torch.Tensor | int, y: torch.Tensor | None = None,
                     guidance_weight: float | None = None) -> torch.Tensor:
        r""":math:`\mu_\theta(x_t, t) = \alpha_t^{-1/2}(x_t - \beta_t(1-\bar\alpha_t)^{-1/2}\varepsilon_\theta)`
        (9.25), at integer steps ``t`` (n,)."""
        s = self.schedule
        t = torch.as_tensor(t, dtype=torch.long, device=x_t.device).expand(x_t.shape[0])
        eps = self.epsilon(x_t, t.to(x_t.dtype), y, guidance_weight)
        beta, alpha = s.gather(s.betas, t, x_t), s.gather(s.alphas, t, x_t)
        return (x_t - beta / (1 - s.gather(s.alpha_bars, t, x_t)).sqrt() * eps) / alpha.sqrt()

    def _decoder(self, loc: torch.Tensor, variance: torch.Tensor) -> dist.Distribution:
        scale = variance.sqrt().to(loc.dtype).expand_as(loc)
        if self.num_levels is not None:
            return DiscretisedGaussian(loc, scale, self.num_levels, event_dims=loc.ndim - 1)
        return dist.Normal(loc, scale).to_event(loc.ndim - 1)

    # --- the Pyro pair -----------------------------------------------------------------------------------------
    def model(self, batch: Any) -> None:
        r"""Pyro model (9.13)-(9.14): :math:`x_T \sim \mathcal N(0, I)`, :math:`x_{t-1} \sim p_\theta(\cdot \mid
        x_t)` for :math:`t = T, \dots, 2`, and :math:`x_0 \sim p_\theta(x_0 \mid x_1)` observed."""
        x0, y = self.split_batch(batch)
        n, event = x0.shape[0], x0.ndim - 1
        T = self.num_time_steps
        with pyro.plate("data", n):
            x = pyro.sample(f"x_{T}", dist.Normal(torch.zeros_like(x0), torch.ones_like(x0)).to_event(event))
            for t in range(T, 1, -1):
                loc = self.reverse_mean(x, t, y, 0.0)
                scale = self.reverse_variance(t).sqrt().to(x0.dtype).expand_as(loc)
                x = pyro.sample(f"x_{t - 1}", dist.Normal(loc, scale).to_event(event))
            pyro.sample("x_0", self._decoder(self.reverse_mean(x, 1, y, 0.0), self.reverse_variance(1)), obs=x0)

    def guide(self, batch: Any) -> None:
        r"""Pyro guide: the forward process reverse-factorised, :math:`q(x_T \mid x_0)\prod_{t=2}^T
        q(x_{t-1} \mid x_t, x_0)` ((9.12), (9.17)-(9.20)); it has no parameters."""
        x0, _ = self.split_batch(batch)
        n, event, s = x0.shape[0], x0.ndim - 1, self.schedule
        T = self.num_time_steps
        with pyro.plate("data", n):
            mean, std = s.marginal(x0, T)
            x = pyro.sample(f"x_{T}", dist.Normal(mean, std.expand_as(mean)).to_event(event))
            for t in range(T, 1, -1):
                mean, var = s.posterior(x, x0, t)
                x = pyro.sample(f"x_{t - 1}", dist.Normal(mean, var.sqrt().expand_as(mean)).to_event(event))

    # --- the bound -----------------------------------------------------------------------------------------------
    def _kl_term(self, x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None
                 ) -> torch.Tensor:
        """KL(q(x_{t-1}|x_t,x0) || p(x_{t-1}|x_t)) per row for integer t >= 2 (n,)."""
        mean_q, var_q = self.schedule.posterior(x_t, x0, t)
        mean_p = self.reverse_mean(x_t, t, y, 0.0)
        var_p = self.reverse_variance(t).to(x_t.dtype)
        var_p = var_p.reshape(var_p.shape + (1,) * (x_t.ndim - 1))
        kl = _gaussian_kl(mean_q, var_q.expand_as(mean_q), mean_p, var_p.expand_as(mean_p))
        return kl.reshape(kl.shape[0], -1).sum(-1)

    def _reconstruction(self, x0: torch.Tensor, x1: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """log p(x0 | x1) per row (n,)."""
        ones = torch.ones(x0.shape[0], dtype=torch.long, device=x0.device)
        return self._decoder(self.reverse_mean(x1, ones, y, 0.0), self.reverse_variance(1)).log_prob(x0)

    def prior_term(self, x0: torch.Tensor) -> torch.Tensor:
        r""":math:`L_T = -\mathrm{KL}(q(x_T \mid x_0)\,\|\,\mathcal N(0, I))` per row, exactly (nats)."""
        mean, std = self.schedule.marginal(x0, self.num_time_steps)
        kl = _gaussian_kl(mean, (std ** 2).expand_as(mean), torch.zeros_like(mean), torch.ones_like(mean))
        return -kl.reshape(kl.shape[0], -1).sum(-1)

    def bound_terms(self, batch: Any, *, num_particles: int = 1) -> dict[str, torch.Tensor]:
        r"""The terms of the bound per row, each :math:`\mathbb E_q` by ``num_particles`` draws per term.

        Returns ``{"L_T": (n,), "L_t": (n, T-1), "L_0": (n,)}`` in nats, ``L_t[:, t-2]`` being
        :math:`L_{t-1} = -\mathbb E\,\mathrm{KL}(q(x_{t-1} \mid x_t, x_0)\,\|\,p_\theta(x_{t-1} \mid x_t))` with
        :math:`x_t \sim q(x_t \mid x_0)` drawn afresh for every :math:`t` (each term's expectation depends on
        :math:`x_t`'s marginal only). Their sum is the bound; ``L_T`` is exact.
        """
        x0, y = self.split_batch(batch)
        num_particles = check_int(num_particles, "num_particles")
        n, T = x0.shape[0], self.num_time_steps
        steps = torch.arange(2, T + 1, device=x0.device)
        L_t = torch.zeros(n, T - 1, dtype=x0.dtype, device=x0.device)
        L_0 = torch.zeros(n, dtype=x0.dtype, device=x0.device)
        for _ in range(num_particles):
            if T > 1:  # all t at once: rows ordered (t, n)
                tt = steps.repeat_interleave(n)
                xx0 = x0.repeat((T - 1,) + (1,) * (x0.ndim - 1))
                yy = None if y is None else y.repeat(T - 1)
                x_t = self.schedule.q_sample(xx0, tt, torch.randn_like(xx0))
                L_t = L_t - self._kl_term(xx0, x_t, tt, yy).reshape(T - 1, n).T
            x1 = self.schedule.q_sample(x0, 1, torch.randn_like(x0))
            L_0 = L_0 + self._reconstruction(x0, x1, y)
        return {"L_T": self.prior_term(x0), "L_t": L_t / num_particles, "L_0": L_0 / num_particles}

    def elbo(self, batch: Any, *, num_particles: int = 1) -> torch.Tensor:
        """The bound :math:`L_T + \\sum_t L_{t-1} + L_0` per row (n,), nats (:meth:`bound_terms` summed)."""
        terms = self.bound_terms(batch, num_particles=num_particles)
        return terms["L_T"] + terms["L_t"].sum(-1) + terms["L_0"]

    def random_t_loss(self, batch: Any) -> torch.Tensor:
        r"""The random-t estimate of :math:`-\mathrm{ELBO}(x_0)` per row (n,): :math:`-L_T - T\,L_{t-1}`, one
        :math:`t \sim \mathcal U\{1..T\}` per row (:math:`t = 1` gives :math:`-T\,L_0`). Unbiased."""
        x0, y = self.split_batch(batch)
        n, T = x0.shape[0], self.num_time_steps
        t = torch.randint(1, T + 1, (n,), device=x0.device)
        x_t = self.schedule.q_sample(x0, t, torch.randn_like(x0))
        first = t == 1
        safe_t = torch.where(first, torch.full_like(t, 2), t) if T > 1 else t
        kl = self._kl_term(x0, x_t, safe_t, y) if T > 1 else torch.zeros(n, dtype=x0.dtype, device=x0.device)
        term = torch.where(first, -self._reconstruction(x0, x_t, y), kl)
        return -self.prior_term(x0) + T * term

    def _drop_labels(self, y: torch.Tensor | None) -> torch.Tensor | None:
        if y is None or self.label_dropout == 0.0:
            return y
        drop = torch.rand(y.shape[0], device=y.device) < self.label_dropout
        return torch.where(drop, torch.full_like(y, self.num_classes), y)

    def loss(self, batch: Any) -> torch.Tensor:
        """The training objective, a batch mean: ``"simple"`` (MSE of the network's target) or ``"bound"``
        (:meth:`random_t_loss`). Labels are dropped to the null label at rate ``label_dropout``."""
        x0, y = self.split_batch(batch)
        y = self._drop_labels(y)
        if self.objective == "bound":
            return self.random_t_loss(x0 if y is None else (x0, y)).mean()
        n, T = x0.shape[0], self.num_time_steps
        t = torch.randint(1, T + 1, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        a = self.schedule.gather(self.schedule.alpha_bars, t, x0)
        x_t = a.sqrt() * x0 + (1 - a).sqrt() * noise  # (9.12)
        target = noise if self.prediction == "epsilon" else convert_prediction(
            noise, source="epsilon", target=self.prediction, x_t=x_t, alpha_bar=a)
        return ((self._network(x_t, t.to(x0.dtype), y) - target) ** 2).mean()

    # --- density and samples -----------------------------------------------------------------------------------
    def probability_flow(self, y: torch.Tensor | None = None, guidance_weight: float | None = None) -> Any:
        """The probability-flow ODE as a continuous flow (:func:`pgm_ppl.diffusion.probability_flow`)."""
        from pgm_ppl.diffusion.probability_flow import probability_flow

        return probability_flow(self, y=y, guidance_weight=guidance_weight)

    def log_prob(self, batch: Any) -> torch.Tensor:
        r""":math:`\log p_\theta(x)` per row (n,), nats, by the probability-flow ODE (exact divergence, or
        Hutchinson's estimate above 8 features). ``batch`` is ``x`` or, for a conditional model, ``(x, y)``
        (then :math:`\log p_\theta(x \mid y)` with guidance weight ``guidance_weight``); a conditional model given
        ``x`` alone is evaluated unconditionally (null label)."""
        from pgm_ppl.diffusion.probability_flow import probability_flow_log_prob

        if isinstance(batch, (tuple, list)):
            x, y = self.split_batch(batch)
        else:
            x, y = batch, None
        return probability_flow_log_prob(self, x, y=y)

    def sample(self, num_samples: int) -> torch.Tensor:
        """``num_samples`` ancestral draws (:func:`~pgm_ppl.diffusion.ancestral_sample`); a conditional model
        draws labels uniformly and guides with ``guidance_weight``."""
        from pgm_ppl.diffusion.samplers import ancestral_sample

        y = None
        if self.num_classes is not None:
            y = torch.randint(0, self.num_classes, (num_samples,), device=self.schedule.betas.device)
        return ancestral_sample(self, num_samples, y=y)


def bits_per_dim(elbo: torch.Tensor, num_features: int) -> torch.Tensor:
    r"""Negative log-likelihood (or bound) in bits per dimension: :math:`-\mathrm{ELBO} / (D \log 2)`."""
    return -elbo / (check_int(num_features, "num_features") * math.log(2.0))


def ddpm(features: int, *, num_time_steps: int = 1000, schedule: str = "linear",
         hidden_features: Sequence[int] | int = (128, 128, 128), time_features: int = 32,
         prediction: str = "epsilon", variance: str = "beta_tilde", objective: str = "simple",
         num_levels: int | None = None, num_classes: int | None = None, label_dropout: float = 0.1,
         guidance_weight: float = 0.0, trace: str = "auto", seed: int = 0) -> DDPM:
    """A DDPM on ``features``-dimensional vectors with a time-conditioned MLP (label-conditioned with
    ``num_classes``), built under ``torch_seeded(seed)``.

    ``schedule`` is ``"linear"`` or ``"cosine"`` (:func:`~pgm_ppl.diffusion.linear_schedule`,
    :func:`~pgm_ppl.diffusion.cosine_schedule`) over ``num_time_steps`` steps; the other arguments are
    :class:`DDPM`'s and :class:`~pgm_ppl.nn.TimeConditionedMLP`'s.

    Raises
    ------
    ValueError, TypeError
        For a bad size, name or seed.

    Examples
    --------
    >>> model = ddpm(2, num_time_steps=100, hidden_features=32)
    >>> model.sample(5).shape
    torch.Size([5, 2])
    """
    features = check_int(features, "features")
    check_int(seed, "seed", minimum=0)
    schedule = check_choice(schedule, "schedule", ("linear", "cosine"))
    if isinstance(hidden_features, int):
        hidden_features = (check_int(hidden_features, "hidden_features"),) * 3
    noise_schedule = (linear_schedule if schedule == "linear" else cosine_schedule)(num_time_steps)
    with torch_seeded(seed):
        if num_classes is None:
            network: nn.Module = TimeConditionedMLP(features, hidden_features=hidden_features,
                                                    time_features=time_features)
        else:
            from pgm_ppl.diffusion.networks import LabelConditionedMLP

            network = LabelConditionedMLP(features, num_classes, hidden_features, time_features=time_features)
    return DDPM(network, noise_schedule, prediction=prediction, variance=variance, objective=objective,
                num_levels=num_levels, num_classes=num_classes, label_dropout=label_dropout,
                guidance_weight=guidance_weight, trace=trace)
