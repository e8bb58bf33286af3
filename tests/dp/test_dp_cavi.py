"""Blei-Jordan CAVI for the truncated DP Gaussian mixture against scikit-learn's
BayesianGaussianMixture(weight_concentration_prior_type="dirichlet_process") started from the same
responsibilities with the same priors: same lower bound and weights (1e-4), and a monotone bound."""

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from pgm_ppl.dp import cavi

RNG = np.random.default_rng(0)
X = np.concatenate([RNG.normal(m, 0.5, (60, 2)) for m in ([0, 0], [4, 4], [-4, 4])])
K = 6
R0 = RNG.dirichlet(np.ones(K), size=X.shape[0])


class _FromResponsibilities(BayesianGaussianMixture):
    """scikit-learn's estimator with its initial responsibilities replaced by R0 (test-only hook)."""

    def _initialize_parameters(self, X, random_state, xp=None):
        self._initialize(X, R0)


@pytest.mark.parametrize("alpha, iterations", [(0.5, 5), (2.0, 40)])
def test_matches_scikit_learn(alpha, iterations):
    reference = _FromResponsibilities(n_components=K, weight_concentration_prior_type="dirichlet_process",
                                      weight_concentration_prior=alpha, max_iter=iterations, tol=0.0,
                                      random_state=0)
    with pytest.warns(Warning):  # scikit-learn: "did not converge" at tol=0
        reference.fit(X)
    ours = cavi.run(X, K, prior=cavi.default_prior(X, K, alpha=alpha), responsibilities=R0,
                    max_iter=iterations, tol=0.0)
    assert ours.num_iterations == iterations
    np.testing.assert_allclose(ours.lower_bounds[-1], reference.lower_bound_, rtol=1e-4)
    np.testing.assert_allclose(ours.lower_bounds, reference.lower_bounds_, rtol=1e-4)
    np.testing.assert_allclose(ours.weights, reference.weights_, atol=1e-4)
    np.testing.assert_allclose(ours.state.means, reference.means_, atol=1e-4)
    np.testing.assert_array_equal(ours.labels, reference.predict(X))


def test_lower_bound_increases_and_finds_three_clusters():
    result = cavi.run(X, 8, prior=cavi.default_prior(X, 8, alpha=1.0), seed=0)
    assert result.converged
    assert np.all(np.diff(result.lower_bounds) > -1e-8)
    assert result.num_clusters == 3
    # an empty stick k takes E[V_k] = 1 / (2 + N_{>k}) (alpha = 1) of the mass left: 1/122 of 0.665 between used
    # sticks here, and the tail past the last used stick holds 1/62 of its 0.33 (0.011 in all, top three 0.989);
    # 0.97 fails once a fourth cluster holds 4 of the 180 points (0.022)
    assert np.sort(result.weights)[-3:].sum() > 0.97


def test_bad_responsibilities():
    with pytest.raises(ValueError, match="responsibilities"):
        cavi.run(X, K, responsibilities=R0[:10])
