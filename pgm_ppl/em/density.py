r"""The held-out density of a Gaussian mixture fitted by EM, in the :class:`pgm_ppl.core.result.Density` protocol.

A fitted mixture has a tractable density (course eq. (2.5)),

.. math::
    \log p(x \mid \theta) = \log \sum_{k=1}^K \pi_k \, \mathcal N(x \mid \mu_k, \Sigma_k),

so its kind is ``"exact"``: :func:`pgm_ppl.diagnostics.compare_heldout` can rank it beside a flow or a
Bayesian model's posterior predictive on the same test rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from pgm_ppl.core.validation import check_int
from pgm_ppl.em.gmm import GMMParams, gmm_log_prob, sample_gmm

__all__ = ["GaussianMixtureDensity"]


@dataclass(frozen=True)
class GaussianMixtureDensity:
    """Exact log-density and ancestral sampler of a fitted Gaussian mixture.

    Parameters
    ----------
    params
        The fitted :class:`~pgm_ppl.em.gmm.GMMParams` (``fit_gmm(...).params``).

    Attributes
    ----------
    kind : str
        ``"exact"``: :meth:`log_prob` is :math:`\\log p(x_n \\mid \\theta)` itself.
    event_shape : tuple of int
        ``(d,)``, the shape of one data row.

    See Also
    --------
    pgm_ppl.em.gmm.gmm_log_prob, pgm_ppl.em.gmm.sample_gmm

    Examples
    --------
    >>> import numpy as np
    >>> from pgm_ppl.em import GMMParams
    >>> density = GaussianMixtureDensity(GMMParams(np.ones(1), np.zeros((1, 2)), np.eye(2)[None]))
    >>> round(float(density.log_prob(np.zeros((1, 2)))[0]), 4)  # -log(2 pi)
    -1.8379
    >>> density.sample(3, seed=0).shape
    (3, 2)
    """

    params: GMMParams
    kind: str = "exact"

    def __post_init__(self) -> None:
        if not isinstance(self.params, GMMParams):
            raise TypeError(f"params: expected a GMMParams (fit_gmm(...).params), got {type(self.params).__name__}.")
        if self.kind != "exact":
            raise ValueError(f"kind: a Gaussian mixture's density is exact; expected 'exact', got {self.kind!r}.")

    @property
    def event_shape(self) -> tuple[int, ...]:
        """``(d,)``: the shape of one data row."""
        return (int(self.params.means.shape[1]),)

    def log_prob(self, x: ArrayLike) -> np.ndarray:
        """Per-row :math:`\\log p(x_n \\mid \\theta)` (course eq. (2.5)) of (N, d) data, shape (N,), in nats."""
        return gmm_log_prob(x, self.params)

    def sample(self, num_samples: int, seed: int = 0) -> np.ndarray:
        """``num_samples`` ancestral draws (course Remark 2.2), shape (num_samples, d); labels are dropped."""
        num_samples = check_int(num_samples, "num_samples")
        return sample_gmm(self.params, num_samples, seed=seed)[0]
