"""The notes' nonlinear state-space model: simulator and bootstrap particle filter.

Course Example 3.3 (Figs 3.5-3.6):

.. math::

    z_1\\sim\\mathcal N(m_1, s_1^2),\\qquad z_t = f(z_{t-1}) + \\epsilon_t,\\ \\epsilon_t\\sim\\mathcal N(0,q^2),\\qquad
    x_t = h(z_t) + \\eta_t,\\ \\eta_t\\sim\\mathcal N(0,r^2),

with the demo's :math:`f(z)=0.7z+0.5\\sin z` and :math:`h(z)=z^2/5`. (The course demo squares the
observation noise, :math:`x_t=h(z_t)+\\eta_t^2`; we keep the Gaussian noise the equations state.)

The bootstrap particle filter propagates :math:`S` particles through the transition, weights them by the
likelihood, :math:`w_t^{(s)}\\propto w_{t-1}^{(s)}\\,\\mathcal N(x_t; h(z_t^{(s)}), r^2)`, and resamples
(systematic) when the effective sample size :math:`1/\\sum_s (w_t^{(s)})^2` falls below a threshold. The
running product of mean incremental weights is an unbiased estimate of :math:`p(x_{1:T})`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .factors import logsumexp

__all__ = ["NonlinearSSM", "ParticleFilterResult", "bootstrap_particle_filter", "course_ssm"]


@dataclass(frozen=True, eq=False)
class NonlinearSSM:
    """A scalar-state, scalar-observation state-space model with Gaussian noises.

    Parameters
    ----------
    transition
        :math:`f`, vectorised over an array of states. For
        :func:`~pgm_ppl.graphical.variational_smoother` it must also map torch tensors to torch tensors.
    observation
        :math:`h`, vectorised, likewise.
    process_scale, observation_scale
        :math:`q` and :math:`r`.
    initial_mean, initial_scale
        :math:`m_1` and :math:`s_1`.
    """

    transition: Callable[[np.ndarray], np.ndarray]
    observation: Callable[[np.ndarray], np.ndarray]
    process_scale: float
    observation_scale: float
    initial_mean: float = 0.0
    initial_scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("process_scale", "observation_scale", "initial_scale"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")

    def simulate(self, length: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Ancestral sampling of ``(z, x)``, each of shape ``(length,)``."""
        if int(length) < 1:
            raise ValueError(f"length must be positive, got {length}.")
        rng = np.random.default_rng(seed)
        z = np.empty(int(length))
        z[0] = self.initial_mean + self.initial_scale * rng.standard_normal()
        eps = self.process_scale * rng.standard_normal(int(length))
        for t in range(1, int(length)):
            z[t] = self.transition(z[t - 1]) + eps[t]
        x = self.observation(z) + self.observation_scale * rng.standard_normal(int(length))
        return z, x

    def observation_log_density(self, x: float, z: np.ndarray) -> np.ndarray:
        """:math:`\\log\\mathcal N(x; h(z), r^2)` for an array of states."""
        r = self.observation_scale
        return -0.5 * ((x - self.observation(z)) / r) ** 2 - np.log(r) - 0.5 * np.log(2 * np.pi)


def _course_transition(z):
    """:math:`f(z)=0.7z+0.5\\sin z` for numpy arrays and torch tensors alike (a tensor has a ``sin`` method)."""
    return 0.7 * z + 0.5 * (z.sin() if hasattr(z, "sin") else np.sin(z))


def _course_observation(z):
    """:math:`h(z)=z^2/5`."""
    return z ** 2 / 5.0


def course_ssm() -> NonlinearSSM:
    """The notes' example: :math:`f(z)=0.7z+0.5\\sin z`, :math:`h(z)=z^2/5`, :math:`q=0.25`, :math:`r=0.45`.

    :math:`f` and :math:`h` accept numpy arrays and torch tensors, so the same model runs in the particle
    filter and, as a Pyro model, in :func:`~pgm_ppl.graphical.variational_smoother`.
    """
    return NonlinearSSM(_course_transition, _course_observation, 0.25, 0.45)


class ParticleFilterResult(NamedTuple):
    """Result of :func:`bootstrap_particle_filter`.

    Attributes
    ----------
    means, variances
        Filtering moments :math:`\\mathbb E[z_t\\mid x_{1:t}]` and :math:`\\mathrm{Var}[z_t\\mid x_{1:t}]`, ``(T,)``.
    log_evidence
        :math:`\\log\\hat p(x_{1:T})`.
    ess
        Effective sample size before resampling at each step, shape ``(T,)``.
    particles, log_weights
        The final weighted particle set, shape ``(num_particles,)``.
    """

    means: np.ndarray
    variances: np.ndarray
    log_evidence: float
    ess: np.ndarray
    particles: np.ndarray
    log_weights: np.ndarray


def _systematic_resample(weights: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(weights)
    positions = (rng.random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(np.cumsum(weights), positions), n - 1)


def bootstrap_particle_filter(model: NonlinearSSM, x: np.ndarray, num_particles: int = 1000, *,
                              resample_threshold: float = 0.5, seed: int = 0) -> ParticleFilterResult:
    """Bootstrap particle filter (transition as proposal, systematic resampling).

    Parameters
    ----------
    model
        The state-space model.
    x
        Observations, shape ``(T,)``.
    num_particles
        :math:`S`.
    resample_threshold
        Resample when ESS :math:`< S\\times` this fraction (1 resamples every step).
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 1 or len(x) < 1:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}.")
    if int(num_particles) < 2:
        raise ValueError(f"num_particles must be at least 2, got {num_particles}.")
    if not 0.0 <= resample_threshold <= 1.0:
        raise ValueError(f"resample_threshold must lie in [0, 1], got {resample_threshold}.")
    rng = np.random.default_rng(seed)
    s = int(num_particles)
    z = model.initial_mean + model.initial_scale * rng.standard_normal(s)
    log_w = np.full(s, -np.log(s))
    means, variances, ess = np.empty(len(x)), np.empty(len(x)), np.empty(len(x))
    log_evidence = 0.0
    for t in range(len(x)):
        if t:
            z = model.transition(z) + model.process_scale * rng.standard_normal(s)
        incremental = log_w + model.observation_log_density(x[t], z)
        step = float(logsumexp(incremental))
        log_evidence += step
        log_w = incremental - step
        w = np.exp(log_w)
        means[t] = w @ z
        variances[t] = w @ (z - means[t]) ** 2
        ess[t] = 1.0 / np.sum(w ** 2)
        if ess[t] < resample_threshold * s:
            z = z[_systematic_resample(w, rng)]
            log_w = np.full(s, -np.log(s))
    return ParticleFilterResult(means, variances, float(log_evidence), ess, z, log_w)
