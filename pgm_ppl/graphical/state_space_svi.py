"""The notes' nonlinear state-space model as a Pyro model, smoothed and fitted by SVI.

Course Example 3.3, written as its generative story (see :mod:`pgm_ppl.graphical.state_space`):

.. math::

    z_1\\sim\\mathcal N(m_1, s_1^2),\\qquad z_t\\mid z_{t-1}\\sim\\mathcal N(f(z_{t-1}), q^2),\\qquad
    x_t\\mid z_t\\sim\\mathcal N(h(z_t), r^2).

The states are one latent vector :math:`z_{1:T}`; its prior density factorises over :math:`t`, so the
:math:`T-1` transition terms are one vectorised Normal (:class:`NonlinearGaussianChain`). The noise scales
:math:`q, r` are ``pyro.param`` s fitted by type-II maximum likelihood: SVI maximises the ELBO (course
eqs (3.7)-(3.9))

.. math::

    \\mathcal L(\\phi, q, r) = \\mathbb E_{q_\\phi(z)}[\\log p(x, z\\mid q, r) - \\log q_\\phi(z)]
    = \\log p(x\\mid q, r) - \\mathrm{KL}(q_\\phi\\,\\|\\,p(z\\mid x, q, r)) \\le \\log p(x\\mid q, r)

jointly over the guide :math:`q_\\phi` and :math:`(q, r)`: variational EM, which is EM (eqs (2.31)-(2.34),
Remark 3.10) when the guide family holds the exact posterior. The guide is a Gauss-Markov chain
(:class:`GaussMarkovChain`), a Gaussian with tridiagonal precision: the family that holds the exact
smoothing posterior of a linear-Gaussian model, so there SVI reproduces the RTS smoother and EM.

With :math:`h(z)=z^2/5` and an odd :math:`f` the posterior is symmetric under :math:`z\\mapsto -z`, so it has
(at least) two mirror-image modes. A Gaussian guide fits one, chosen by ``init_loc``; its ELBO then lies
about :math:`\\log 2` below :math:`\\log p(x)` even when it fits its mode perfectly, and only :math:`|z_t|`
is identified by the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace

import numpy as np
import pyro
import pyro.distributions as dist
import torch
from pyro.distributions import constraints
from pyro.distributions.torch_distribution import TorchDistribution
from pyro.infer import SVI, Trace_ELBO

from pgm_ppl.backend.seeding import seeded

from .state_space import NonlinearSSM

__all__ = ["NonlinearGaussianChain", "GaussMarkovChain", "ssm_model", "gauss_markov_guide",
           "VariationalSmootherResult", "variational_smoother"]

_DTYPE = torch.float64
_SCALES = {"q": "process_scale", "r": "observation_scale"}


class NonlinearGaussianChain(TorchDistribution):
    """The Markov prior of the states, as one distribution over the vector :math:`z_{1:T}`.

    .. math::

        \\log p(z_{1:T}) = \\log\\mathcal N(z_1; m_1, s_1^2) + \\sum_{t=2}^T\\log\\mathcal N(z_t; f(z_{t-1}), q_t^2),

    evaluated as one Normal over the :math:`T-1` transitions.

    Parameters
    ----------
    transition
        :math:`f`, applied to a tensor of previous states (``(..., T-1)`` in ``log_prob``, ``(...,)`` in
        ``sample``, which steps through time: there it must act elementwise, the same at every t).
    initial_loc, initial_scale
        :math:`m_1, s_1`, scalars.
    scale
        :math:`q`, a scalar or one scale per transition (shape ``(T-1,)``).
    length
        :math:`T`.
    """

    arg_constraints = {}
    support = constraints.real_vector

    def __init__(self, transition: Callable[[torch.Tensor], torch.Tensor], initial_loc: torch.Tensor,
                 initial_scale: torch.Tensor, scale: torch.Tensor, length: int, validate_args: bool | None = None):
        self.transition = transition
        self.initial_loc, self.initial_scale, self.scale = initial_loc, initial_scale, scale
        super().__init__(torch.Size(), torch.Size([length]), validate_args=validate_args)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        head = dist.Normal(self.initial_loc, self.initial_scale).log_prob(z[..., 0])
        return head + dist.Normal(self.transition(z[..., :-1]), self.scale).log_prob(z[..., 1:]).sum(-1)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        """Ancestral sampling, one step at a time (prior draws only; SVI never calls it)."""
        shape = self._extended_shape(sample_shape)[:-1]
        with torch.no_grad():
            noise = self.scale * torch.randn(shape + self.event_shape[-1:], dtype=_DTYPE)[..., 1:]
            z = [self.initial_loc + self.initial_scale * torch.randn(shape, dtype=_DTYPE)]
            for t in range(self.event_shape[0] - 1):
                z.append(self.transition(z[-1]) + noise[..., t])
        return torch.stack(z, -1)


def _linear_recurrence(coupling: torch.Tensor, innovations: torch.Tensor) -> torch.Tensor:
    """:math:`y_1=e_1`, :math:`y_t=a_ty_{t-1}+e_t`, by a Hillis-Steele scan in :math:`\\lceil\\log_2T\\rceil`
    vectorised steps (after the step with offset k, :math:`y_t` sums the last 2k innovations)."""
    y, a = innovations, torch.nn.functional.pad(coupling, (1, 0))
    k = 1
    while k < y.shape[-1]:
        y = torch.cat([y[..., :k], y[..., k:] + a[k:] * y[..., :-k]], -1)
        a = torch.cat([a[:k], a[k:] * a[:-k]])
        k *= 2
    return y


class GaussMarkovChain(NonlinearGaussianChain):
    """The guide family, Gaussian Markov chains :math:`z_1=\\mu_1+\\sigma_1\\varepsilon_1`,

    .. math::

        z_t-\\mu_t = a_t(z_{t-1}-\\mu_{t-1}) + \\sigma_t\\varepsilon_t,\\qquad \\varepsilon_t\\sim\\mathcal N(0,1).

    A Gaussian whose precision is tridiagonal (every Gaussian Markov chain has this form). Its density is the
    chain's (:class:`NonlinearGaussianChain` with the affine transition), a draw is a reparameterised linear
    recurrence, and the marginals follow :math:`\\mathrm{Var}\\,z_t=a_t^2\\mathrm{Var}\\,z_{t-1}+\\sigma_t^2`,
    :math:`\\mathrm{Cov}(z_t, z_{t-1})=a_t\\mathrm{Var}\\,z_{t-1}`.

    Parameters
    ----------
    loc
        :math:`\\mu_{1:T}`.
    coupling
        :math:`a_{2:T}`, shape ``(T-1,)``.
    scale
        :math:`\\sigma_{1:T}`, positive.
    stick_the_landing
        Make ``log_prob`` treat the parameters as constants. In an ELBO this is the "sticking the landing"
        estimator (Roeder, Wu and Duvenaud, NeurIPS 2017): the value is unchanged and the reparameterised
        gradient stays unbiased (the dropped score term has mean zero), and its variance vanishes where the
        guide equals the posterior, so SVI settles exactly instead of jittering around the optimum.
    """

    arg_constraints = {"loc": constraints.real_vector, "coupling": constraints.real_vector,
                       "scale": constraints.independent(constraints.positive, 1)}
    has_rsample = True

    def __init__(self, loc: torch.Tensor, coupling: torch.Tensor, scale: torch.Tensor, *,
                 stick_the_landing: bool = False, validate_args: bool | None = None):
        self.loc, self.coupling, self.full_scale = loc, coupling, scale
        if stick_the_landing:
            loc, coupling, scale = loc.detach(), coupling.detach(), scale.detach()
        super().__init__(lambda previous: loc[1:] + coupling * (previous - loc[:-1]), loc[0], scale[0], scale[1:],
                         len(loc), validate_args=validate_args)

    def rsample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        eps = torch.randn(self._extended_shape(sample_shape), dtype=self.loc.dtype)
        return self.loc + _linear_recurrence(self.coupling, self.full_scale * eps)

    def sample(self, sample_shape: torch.Size = torch.Size()) -> torch.Tensor:
        with torch.no_grad():
            return self.rsample(sample_shape)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def variance(self) -> torch.Tensor:
        return _linear_recurrence(self.coupling ** 2, self.full_scale ** 2)


def _noise_scale(name: str, ssm: NonlinearSSM, learn: Collection[str]) -> torch.Tensor:
    value = torch.tensor(float(getattr(ssm, _SCALES[name])), dtype=_DTYPE)
    return pyro.param(name, value, constraint=constraints.positive) if name in learn else value


def ssm_model(x: torch.Tensor, ssm: NonlinearSSM, learn: Collection[str] = ("q", "r")) -> None:
    """Course Example 3.3 as a Pyro model; the scales named in ``learn`` are ``pyro.param`` s.

    Parameters
    ----------
    x
        Observations :math:`x_{1:T}`, a float64 tensor of shape ``(T,)``.
    ssm
        :math:`f, h, m_1, s_1`, and the values of :math:`q, r` (the starting values of the learned ones).
    learn
        A subset of ``("q", "r")``.
    """
    q, r = _noise_scale("q", ssm, learn), _noise_scale("r", ssm, learn)
    init = torch.tensor([ssm.initial_mean, ssm.initial_scale], dtype=_DTYPE)
    # z_1 ~ N(m_1, s_1^2), z_t | z_{t-1} ~ N(f(z_{t-1}), q^2)  (Example 3.3, transition)
    z = pyro.sample("z", NonlinearGaussianChain(ssm.transition, init[0], init[1], q, len(x)))
    # x_t | z_t ~ N(h(z_t), r^2), independent over t given z  (Example 3.3, emission). Time is an event
    # dimension, not a plate, as in pyro.contrib.forecast: the latent vector z already spans it.
    pyro.sample("x", dist.Normal(ssm.observation(z), r).to_event(1), obs=x)


def gauss_markov_guide(init_loc: torch.Tensor, init_scale: float = 0.1) -> Callable[..., torch.Tensor]:
    """A guide for :func:`ssm_model`: :math:`q_\\phi(z)` a :class:`GaussMarkovChain` with parameters
    ``z_loc`` (started at a copy of ``init_loc``), ``z_coupling`` (started at 0) and ``z_scale`` (at
    ``init_scale``), whose density enters the ELBO with the sticking-the-landing gradient."""
    start = torch.as_tensor(init_loc, dtype=_DTYPE).detach().clone()

    def guide(x: torch.Tensor, ssm: NonlinearSSM, learn: Collection[str] = ("q", "r")) -> torch.Tensor:
        loc = pyro.param("z_loc", lambda: start.clone())  # Adam updates parameters in place
        coupling = pyro.param("z_coupling", torch.zeros(len(x) - 1, dtype=_DTYPE))
        scale = pyro.param("z_scale", torch.full((len(x),), float(init_scale), dtype=_DTYPE),
                           constraint=constraints.positive)
        return pyro.sample("z", GaussMarkovChain(loc, coupling, scale, stick_the_landing=True))

    return guide


@dataclass(frozen=True, slots=True)
class VariationalSmootherResult:
    """Result of :func:`variational_smoother`.

    Attributes
    ----------
    model
        The state-space model with the fitted :math:`q, r` (pass it to
        :func:`~pgm_ppl.graphical.bootstrap_particle_filter` to estimate :math:`\\log p(x\\mid q, r)`).
    means, sds
        Marginal moments of the fitted guide, :math:`\\approx\\mathbb E[z_t\\mid x_{1:T}]` within the mode
        the guide fits, and its standard deviations, shape ``(T,)``.
    lag_covariances
        :math:`\\mathrm{Cov}_q(z_{t+1}, z_t)`, shape ``(T-1,)``.
    elbo, elbo_se
        The final ELBO, estimated with ``num_elbo_particles`` draws, and its Monte Carlo standard error.
    losses
        The loss (negative ELBO estimate) at every SVI step.
    params
        The fitted parameters: ``z_loc``, ``z_coupling``, ``z_scale`` (:math:`\\mu, a, \\sigma` of the guide,
        ``GaussMarkovChain(*map(torch.tensor, ...))`` rebuilds it) and the learned ``q``, ``r``.
    """

    model: NonlinearSSM
    means: np.ndarray
    sds: np.ndarray
    lag_covariances: np.ndarray
    elbo: float
    elbo_se: float
    losses: np.ndarray
    params: dict[str, np.ndarray]


def _check_inputs(ssm: NonlinearSSM, x: np.ndarray, init_loc: np.ndarray, learn: Collection[str]) -> None:
    if x.ndim != 1 or len(x) < 2 or not np.isfinite(x).all():
        raise ValueError(f"x must be a 1-D array of at least 2 finite observations, got shape {x.shape}"
                         + ("" if np.isfinite(x).all() else " with non-finite entries") + ".")
    if init_loc.shape != x.shape:
        raise ValueError(f"init_loc must have the shape of x, {x.shape}, got {init_loc.shape}.")
    unknown = set(learn) - set(_SCALES)
    if unknown:
        raise ValueError(f"learn names unknown parameters {sorted(unknown)}; valid: {list(_SCALES)}.")
    probe = torch.zeros(2, dtype=_DTYPE, requires_grad=True)
    for name in ("transition", "observation"):
        try:
            value = getattr(ssm, name)(probe)
        except Exception as e:  # any failure means the function is numpy-only
            raise TypeError(f"NonlinearSSM.{name} must accept torch tensors for SVI; on a float64 tensor it "
                            f"raised {type(e).__name__}: {e}. Write it with operations that tensors have too "
                            "(see course_ssm).") from e
        if not isinstance(value, torch.Tensor) or value.shape != probe.shape:
            raise TypeError(f"NonlinearSSM.{name} must map a tensor of shape (2,) to a tensor of the same shape, "
                            f"got {type(value).__name__} {getattr(value, 'shape', '')}.")


def variational_smoother(ssm: NonlinearSSM, x: np.ndarray, *, init_loc: np.ndarray,
                         learn: Collection[str] = ("q", "r"), num_steps: int = 1000, learning_rate: float = 0.05,
                         num_particles: int = 4, num_elbo_particles: int = 2000, seed: int = 0
                         ) -> VariationalSmootherResult:
    """Smooth the states and fit :math:`q, r` by SVI on :func:`ssm_model` with :func:`gauss_markov_guide`.

    Maximises :math:`\\mathcal L(\\phi, q, r)\\le\\log p(x\\mid q, r)` (module notes) with Pyro's ``Trace_ELBO``
    (``num_particles`` vectorised draws per step) and ``ClippedAdam``, whose learning rate decays tenfold over
    the run so that the last iterates settle.

    Parameters
    ----------
    ssm
        :math:`f, h, m_1, s_1` and the starting (or, when not learned, fixed) :math:`q, r`; ``transition``
        and ``observation`` must accept torch tensors (``course_ssm()``'s do).
    x
        Observations, shape ``(T,)``, ``T >= 2``.
    init_loc
        Starting guide mean, shape ``(T,)``. The posterior is multimodal (for the course model, the sign of
        :math:`z`); the guide fits the mode this points to, e.g. ``np.sqrt(5 * np.clip(x, 0, None))``, the
        non-negative inverse of :math:`h(z)=z^2/5`.
    learn
        Which of ``"q"``, ``"r"`` to fit; the others stay at the values in ``ssm``.
    num_steps, learning_rate, num_particles
        SVI steps, initial Adam step size, ELBO draws per step.
    num_elbo_particles
        Draws for the final ELBO estimate (in 10 batches, whose spread gives ``elbo_se``).
    seed
        Seeds the run (PyTorch's generator is forked, Pyro's parameter store scoped: no global state changes).

    Raises
    ------
    ValueError
        For malformed ``x`` or ``init_loc`` or an unknown name in ``learn``.
    TypeError
        If ``ssm.transition`` or ``ssm.observation`` does not work on torch tensors.

    See Also
    --------
    bootstrap_particle_filter : a consistent estimate of :math:`\\log p(x\\mid q, r)`, which bounds the ELBO.
    rts_smoother : the exact answer this reproduces for a linear-Gaussian model.
    """
    x, init_loc = np.asarray(x, dtype=np.float64), np.asarray(init_loc, dtype=np.float64)
    _check_inputs(ssm, x, init_loc, learn)
    for name, value, least in (("num_steps", num_steps, 1), ("num_particles", num_particles, 1),
                               ("num_elbo_particles", num_elbo_particles, 20)):
        if int(value) < least:
            raise ValueError(f"{name} must be at least {least}, got {value}.")
    xt, learn = torch.tensor(x), tuple(learn)
    with seeded(seed):
        guide = gauss_markov_guide(torch.as_tensor(init_loc))
        optim = pyro.optim.ClippedAdam({"lr": learning_rate, "lrd": 0.1 ** (1 / max(int(num_steps), 1))})
        svi = SVI(ssm_model, guide, optim, Trace_ELBO(num_particles=int(num_particles), vectorize_particles=True,
                                                      max_plate_nesting=0))
        losses = np.array([svi.step(xt, ssm, learn) for _ in range(int(num_steps))])
        batch = Trace_ELBO(num_particles=max(int(num_elbo_particles) // 10, 1), vectorize_particles=True,
                           max_plate_nesting=0)
        elbos = -np.array([batch.loss(ssm_model, guide, xt, ssm, learn) for _ in range(10)])
        params = {name: value.detach().numpy().copy() for name, value in pyro.get_param_store().items()}
    with torch.no_grad():
        chain = GaussMarkovChain(*(torch.as_tensor(params[name]) for name in ("z_loc", "z_coupling", "z_scale")))
        variance = chain.variance.numpy()
    fitted = {_SCALES[name]: float(params[name]) for name in learn}
    return VariationalSmootherResult(replace(ssm, **fitted), params["z_loc"], np.sqrt(variance),
                                     params["z_coupling"] * variance[:-1], float(elbos.mean()),
                                     float(elbos.std(ddof=1) / math.sqrt(len(elbos))), losses, params)
