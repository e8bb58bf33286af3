"""The course's kernels on GPyTorch against scikit-learn's kernels (eqs. (4.23)-(4.28)), kernel algebra
(Remark 4.15: sums and products stay PSD), and prior sampling (Alg. 1) against the kernel's covariance."""

import numpy as np
import pytest
from sklearn.gaussian_process import kernels as sk

from pgm_ppl.gp import kernels as K

X = np.random.default_rng(0).uniform(-3, 3, size=(25, 1))
CASES = [
    (K.squared_exponential(1.3, 1.7), 1.7 * sk.RBF(1.3)),
    (K.matern(0.5, 0.8, 1.2), 1.2 * sk.Matern(0.8, nu=0.5)),
    (K.matern(2.5, 0.8, 1.2), 1.2 * sk.Matern(0.8, nu=2.5)),
    (K.rational_quadratic(1.5, 0.6, 1.0), sk.RationalQuadratic(1.5, 0.6)),
    (K.periodic(1.0, 3.0, 0.7), 0.7 * sk.ExpSineSquared(1.0, 3.0)),
    (K.locally_periodic(4.0, 1.0, 3.0), sk.RBF(4.0) * sk.ExpSineSquared(1.0, 3.0)),
    (K.linear(0.5), 0.5 * sk.DotProduct(0.0)),
    (K.polynomial(2, 1.0), sk.DotProduct(1.0) ** 2),
    (K.squared_exponential(1.0) + K.periodic(1.0, 2.0), sk.RBF(1.0) + sk.ExpSineSquared(1.0, 2.0)),
]


@pytest.mark.parametrize("ours, reference", CASES)
def test_gram_matches_scikit_learn(ours, reference):
    # GPyTorch forms distances by the expansion |a|^2 + |b|^2 - 2ab, which costs ~1e-8 absolute.
    np.testing.assert_allclose(K.gram(ours, X), reference(X), atol=1e-7)


@pytest.mark.parametrize("ours, reference", CASES)
def test_gram_is_positive_semidefinite(ours, reference):
    G = K.gram(ours, X)
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    assert np.linalg.eigvalsh(G).min() > -1e-8 * np.abs(G).max()


def test_prior_samples_have_the_kernel_covariance():
    # 4,000 paths at 3 inputs: each empirical covariance entry has standard error <= sqrt(2/4000) ~ 0.022.
    x = np.array([0.0, 0.7, 2.0])
    kernel = K.squared_exponential(1.0, 1.0)
    draws = K.sample_prior(kernel, x, 4000, seed=1)
    np.testing.assert_allclose(np.cov(draws.paths.T), K.gram(kernel, x), atol=5 * np.sqrt(2 / 4000))
    assert draws.paths.shape == (4000, 3)


def test_prior_jitter_is_relative_to_the_kernels_scale():
    # Issue 18: a fixed absolute jitter of 1e-8 swamped a kernel of variance 1e-10 (paths 10x too large) and
    # vanished for one of 1e10. At well-separated inputs (no jitter needed) the same z now gives paths that
    # scale with the kernel's standard deviation, to 1e-6: GPyTorch stores the variance as softplus^-1(1e-10),
    # which reads back ~1e-8 off; the old jitter gave paths 10x too large.
    x = np.array([0.0, 0.7, 2.0])
    unit = K.sample_prior(K.squared_exponential(1.0, 1.0), x, 3, seed=0).paths
    for variance in (1e-10, 1e10):
        paths = K.sample_prior(K.squared_exponential(1.0, variance), x, 3, seed=0).paths
        np.testing.assert_allclose(paths / np.sqrt(variance), unit, rtol=1e-6)
    # 200 inputs at spacing 0.05: K is singular in float64, so the jitter policy runs. 200 paths: each point's
    # mean square is 1 +- sqrt(2/200) = 0.1 (chi-square), so 0.5 is 5 sd; a jitter of 1e-8 at variance 1e-10
    # would give a mean square of ~100.
    grid = np.linspace(0, 10, 200)
    for variance in (1e-10, 1.0, 1e10):
        paths = K.sample_prior(K.squared_exponential(1.0, variance), grid, 200, seed=0).paths
        assert abs(np.mean(paths**2) / variance - 1) < 0.5
    with pytest.raises(ValueError, match="max_jitter"):
        K.sample_prior(K.squared_exponential(), x, 3, max_jitter=2.0)


def test_bad_arguments_name_the_culprit():
    with pytest.raises(ValueError, match="lengthscale"):
        K.squared_exponential(-1.0)
    with pytest.raises(ValueError, match="nu"):
        K.matern(1.0)
    with pytest.raises(ValueError, match=r"x: expected shape"):
        K.gram(K.linear(), np.zeros((2, 2, 2)))
