"""The hierarchical Bayesian Gaussian mixture of the course (Example 3.1)."""

from __future__ import annotations

from pgm_ppl.backend import dist, ops, pyro
from pgm_ppl.backend.arrays import Array
from pgm_ppl.backend.annotations import exchangeable_components


@exchangeable_components(by="mu", sites={"pi": 0, "mu": 0, "sigma": 0})
def gaussian_mixture(x: Array, num_components: int = 3, *, concentration: float = 1.0,
                     prior_scale: float = 3.0) -> None:
    r"""Bayesian Gaussian mixture with Dirichlet weights and enumerated assignments (course Ex. 3.1).

    .. math::

        \pi \sim \mathrm{Dir}(\alpha 1_K), \quad
        \mu_k \sim \mathcal N(0, s_0^2 I_d), \quad \sigma_{kj} \sim \mathrm{HalfNormal}(1), \quad
        z_n \sim \mathrm{Cat}(\pi), \quad
        x_n \mid z_n \sim \mathcal N(\mu_{z_n}, \mathrm{diag}(\sigma_{z_n}^2)).

    The course keeps the component covariance known; here each component has its own diagonal scales.
    The assignments :math:`z_n` are enumerated (summed out exactly) by NUTS and ``TraceEnum_ELBO``, so
    only :math:`\pi, \mu, \sigma` are sampled. The components are exchangeable: ``fit`` aligns their
    labels across draws and chains (see :func:`pgm_ppl.inference.align_components`), which is what
    makes R-hat across chains meaningful.

    Parameters
    ----------
    x
        Data, shape (N, d); standardise the columns first (the priors assume unit scale).
    num_components
        Number of components :math:`K`.
    concentration
        Dirichlet concentration :math:`\alpha`.
    prior_scale
        Prior standard deviation :math:`s_0` of the component means.
    """
    K, (num_data, num_features) = num_components, x.shape
    pi = pyro.sample("pi", dist.Dirichlet(concentration * ops.ones(K)))
    with pyro.plate("components", K):
        mu = pyro.sample("mu", dist.Normal(0.0, prior_scale).expand([num_features]).to_event(1))
        sigma = pyro.sample("sigma", dist.HalfNormal(1.0).expand([num_features]).to_event(1))
    with pyro.plate("data", num_data):
        z = pyro.sample("z", dist.Categorical(pi), infer={"enumerate": "parallel"})
        pyro.sample("x", dist.Normal(mu[z], sigma[z]).to_event(1), obs=x)
