"""GP regression with hyperpriors as a backend-neutral model (course §4.4, eq. (4.22))."""

from __future__ import annotations

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array


def gp_regression(x: Array, y: Array | None = None, *, jitter: float = 1e-6) -> None:
    r"""GP regression with an SE kernel and log-normal hyperpriors; the latent function is marginalised.

    .. math::

        \ell \sim \mathrm{LogNormal}(0, 1),\quad \sigma_f^2 \sim \mathrm{LogNormal}(0, 1),\quad
        \sigma_n^2 \sim \mathrm{LogNormal}(-2, 1),\qquad
        y \mid X, \theta \sim \mathcal N\!\big(0,\ K_\theta(X, X) + \sigma_n^2 I\big)\ \text{(eq. (4.22))},

    with :math:`K_\theta(x, x') = \sigma_f^2\exp(-\lVert x-x'\rVert^2/(2\ell^2))` (eq. (4.25)). ``fit`` runs
    NUTS or SVI over the three hyper-parameters on either backend; for the posterior of :math:`f` at given
    hyper-parameters use :func:`pgm_ppl.gp.exact.posterior` and its ``predict``.

    Parameters
    ----------
    x
        Inputs, shape (N, d); standardise them first (the priors assume unit scale).
    y
        Targets, shape (N,), standardised; None to sample from the prior.
    jitter
        Added to the diagonal for numerical stability.
    """
    num_data = x.shape[0]
    lengthscale = pyro.sample("lengthscale", dist.LogNormal(0.0, 1.0))
    variance = pyro.sample("variance", dist.LogNormal(0.0, 1.0))
    noise_variance = pyro.sample("noise_variance", dist.LogNormal(-2.0, 1.0))  # sigma_n^2, a variance
    sq_dist = ops.sum(ops.square(ops.expand_dims(x, 1) - ops.expand_dims(x, 0)), axis=-1)
    K = variance * ops.exp(-0.5 * sq_dist / lengthscale**2) + (noise_variance + jitter) * ops.eye(num_data)
    pyro.sample("y", dist.MultivariateNormal(ops.zeros(num_data), covariance_matrix=K), obs=y)
