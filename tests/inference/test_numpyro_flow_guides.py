"""NumPyro flow guides (``flows.flow_guide(..., backend="numpyro")``: AutoIAFNormal, AutoBNAFNormal) through
``fit(method="svi", backend="numpyro")``: their nested (stax) parameters convert leaf by leaf, and the fitted flow
recovers a closed-form posterior.

Bayesian linear regression with a unit-variance prior and known unit noise, :math:`w\\sim N(0, I_2)`,
:math:`y\\mid w\\sim N(Xw, I)`, has the posterior :math:`N(m, \\Sigma)`, :math:`\\Sigma = (I + X^\\top X)^{-1}`,
:math:`m = \\Sigma X^\\top y` (course ch. 1, conjugate Gaussian). The design's two columns are correlated, so the
posterior correlation is about -0.7: mean-field could not match it, a flow can (it holds the Gaussian exactly).
"""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from pgm_ppl import dist, fit, pyro
from pgm_ppl.diagnostics import to_inference_data
from pgm_ppl.flows import flow_guide

NUM_DRAWS = 4000


def regression(X, y):
    w1 = pyro.sample("w1", dist.Normal(0.0, 1.0))
    w2 = pyro.sample("w2", dist.Normal(0.0, 1.0))
    with pyro.plate("data", X.shape[0]):
        pyro.sample("y", dist.Normal(X[:, 0] * w1 + X[:, 1] * w2, 1.0), obs=y)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(4, 2))
    X = np.column_stack([z[:, 0], 0.7 * z[:, 0] + 0.7 * z[:, 1]])
    y = X @ np.array([1.0, -0.5]) + rng.normal(size=4)
    cov = np.linalg.inv(np.eye(2) + X.T @ X)
    return X, y, cov @ X.T @ y, cov


def test_numpyro_flow_guides_fit_through_fit_and_recover_the_conjugate_posterior(problem):
    X, y, mean, cov = problem
    sd = np.sqrt(np.diag(cov))
    # log evidence, closed form: y ~ N(0, I + X X^T); -ELBO - (-log p(y)) = KL(q || posterior) >= 0
    log_evidence = multivariate_normal(np.zeros(len(y)), np.eye(len(y)) + X @ X.T).logpdf(y)
    for flow, options in (("iaf", {"hidden_dims": [8]}), ("bnaf", {"num_flows": 1, "hidden_factors": [4]})):
        guide = flow_guide(regression, flow, backend="numpyro", **options)
        result = fit(regression, {"X": X, "y": y}, method="svi", backend="numpyro", guide=guide, num_steps=1500,
                     learning_rate=1e-2, num_samples=NUM_DRAWS, seed=0, num_prior_samples=0, predictive=False,
                     log_likelihood=False, progress_bar=False)
        # the parameters came back as numpy, nested as the flow's layers are
        leaves = [leaf for value in result.params.values() for leaf in _leaves(value)]
        assert leaves and all(isinstance(leaf, np.ndarray) for leaf in leaves)
        # the KL to the exact posterior from the last 300 single-draw losses: its MC error is their sd / sqrt(300)
        last = result.losses[-300:]
        kl, kl_error = last.mean() + log_evidence, last.std() / np.sqrt(len(last))
        assert -4 * kl_error < kl < 0.05 + 4 * kl_error, (flow, kl, kl_error)
        draws = np.column_stack([result.posterior["w1"].ravel(), result.posterior["w2"].ravel()])
        # a KL of 0.05 nats allows a mean offset of about sqrt(2 * 0.05) = 0.3 sd; MC error sd / sqrt(4000)
        np.testing.assert_array_less(np.abs(draws.mean(0) - mean), (0.3 + 4 / np.sqrt(NUM_DRAWS)) * sd)
        exact_corr = cov[0, 1] / (sd[0] * sd[1])
        # at rho = -0.7 a correlation error of 0.15 alone costs 0.049-0.098 nats of KL (unit-variance Gaussians), so
        # the 0.05-nat KL bound above implies about this; mean-field's error would be 0.7
        assert abs(np.corrcoef(draws.T)[0, 1] - exact_corr) < 0.15, (flow, np.corrcoef(draws.T)[0, 1], exact_corr)
        assert set(to_inference_data(result).posterior.data_vars) >= {"w1", "w2"}


def _leaves(value):
    if isinstance(value, (list, tuple)):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]
