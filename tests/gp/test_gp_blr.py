"""Bayesian linear regression in feature space equals the GP with kernel phi(x)^T Sigma_w phi(x')
(eqs. (4.17)-(4.21) vs (4.22), (4.29)-(4.30)) to 1e-8, and the polynomial features of eq. (4.24)
reproduce the polynomial kernel (4.23)."""

import numpy as np
import pytest

from pgm_ppl.gp import kernels as K
from pgm_ppl.gp.blr import FeatureKernel, blr_posterior, gaussian_bump_features, polynomial_features
from pgm_ppl.gp.exact import log_marginal_likelihood, posterior

RNG = np.random.default_rng(0)
CENTRES = np.linspace(-5, 5, 25)
SIGMA_W = np.diag(RNG.uniform(0.5, 2.0, 25))


def features(z):
    return gaussian_bump_features(z[:, 0], CENTRES, 0.5)


def test_weight_space_equals_function_space():
    x = RNG.uniform(-5, 5, 40)
    y = features(x[:, None]) @ RNG.normal(size=25) + 0.1 * RNG.normal(size=40)
    xs = np.linspace(-8, 8, 50)
    weight = blr_posterior(features(x[:, None]), y, SIGMA_W, 0.01)
    weight_pred = weight.predict(features(xs[:, None]), full_cov=True)
    mean, cov = weight_pred.mean, weight_pred.covariance
    kernel = FeatureKernel(features, SIGMA_W)
    gp = posterior(kernel, x, y, 0.01).predict(xs, full_cov=True)
    np.testing.assert_allclose(gp.mean, mean, rtol=1e-8, atol=1e-8 * np.abs(mean).max())
    np.testing.assert_allclose(gp.covariance, cov, rtol=1e-8, atol=1e-8 * np.abs(cov).max())
    np.testing.assert_allclose(weight.log_evidence, log_marginal_likelihood(kernel, x, y, 0.01), rtol=1e-8)
    noisy = weight.predict(features(xs[:, None]), include_noise=True, full_cov=True)
    np.testing.assert_allclose(np.diag(noisy.covariance - cov), 0.01)
    np.testing.assert_allclose(weight.predict(features(xs[:, None])).variance, np.diag(cov), rtol=1e-10,
                               atol=1e-12 * np.abs(cov).max())


def test_polynomial_features_reproduce_the_kernel():
    x = RNG.normal(size=(10, 2))
    Phi = polynomial_features(x, offset=1.5)
    np.testing.assert_allclose(Phi @ Phi.T, K.gram(K.polynomial(2, 1.5), x), rtol=1e-10)


def test_shape_errors():
    with pytest.raises(ValueError, match="prior_cov"):
        blr_posterior(np.ones((5, 3)), np.ones(5), np.eye(2), 0.1)
    with pytest.raises(ValueError, match=r"x: expected shape \(N, 2\)"):
        polynomial_features(np.ones((3, 3)))
