"""Laplace GP classification against scikit-learn's GaussianProcessClassifier (same Algs. 3.1-3.2 of
Rasmussen and Williams) at fixed hyper-parameters: evidence and latent mode to 1e-6."""

import numpy as np
import pytest
from sklearn.gaussian_process import GaussianProcessClassifier
from sklearn.gaussian_process import kernels as sk

from pgm_ppl.gp import kernels as K
from pgm_ppl.gp.classification import laplace_classification

RNG = np.random.default_rng(0)
X = RNG.uniform(-3, 3, size=(60, 1))
Y = (np.sin(2 * X[:, 0]) + 0.3 * RNG.normal(size=60) > 0).astype(int)


def test_matches_scikit_learn():
    reference = GaussianProcessClassifier(2.0 * sk.RBF(0.8), optimizer=None).fit(X, Y)
    ours = laplace_classification(K.squared_exponential(0.8, 2.0), X, Y)
    np.testing.assert_allclose(ours.log_marginal_likelihood, reference.log_marginal_likelihood_value_, rtol=1e-6)
    np.testing.assert_allclose(ours.mode, reference.base_estimator_.f_cached, rtol=1e-5, atol=1e-6)
    grid = np.linspace(-3, 3, 20)[:, None]
    # probit approximation vs scikit-learn's erf expansion of the same integral: a few 1e-3 apart
    np.testing.assert_allclose(ours.predict_proba(grid), reference.predict_proba(grid)[:, 1], atol=2e-2)


def test_bad_labels():
    with pytest.raises(ValueError, match="labels"):
        laplace_classification(K.squared_exponential(), X, Y + 1)


def test_variational_and_laplace_agree():
    from pgm_ppl.gp.classification import variational_classification

    kernel = K.squared_exponential(0.8, 2.0)
    laplace = laplace_classification(kernel, X, Y)
    variational = variational_classification(kernel, X, Y, num_steps=300)
    grid = np.linspace(-2.5, 2.5, 20)[:, None]
    # different links (logistic vs probit) and approximations: the class probabilities differ by < 0.15
    np.testing.assert_allclose(variational.predict_proba(grid), laplace.predict_proba(grid), atol=0.15)
    assert np.mean((variational.predict_proba(grid) > 0.5) == (laplace.predict_proba(grid) > 0.5)) > 0.9
    assert variational.losses[-1] < variational.losses[0]
