"""Issue 18, kind 2 on the CAVI side: a constant column and a single sample (Bayesian and DP mixtures)."""

import numpy as np
import pytest
from sklearn.mixture import BayesianGaussianMixture

from pgm_ppl.cavi import fit_bayesian_gmm
from pgm_ppl.dp import cavi as dp_cavi


@pytest.fixture(scope="module")
def with_constant_column():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(100, 3)) - 3, rng.normal(size=(100, 3)) + 3])
    return np.column_stack([X, np.full(200, 7.0)])


def test_bayesian_gmm_with_a_constant_column_converges_like_scikit_learn(with_constant_column):
    X = with_constant_column
    ours = fit_bayesian_gmm(X, 2, seed=0)
    reference = BayesianGaussianMixture(n_components=2, weight_concentration_prior_type="dirichlet_distribution",
                                        random_state=0).fit(X)
    assert np.all(np.isfinite(ours.elbo))
    assert ours.converged and len(ours.elbo) <= reference.n_iter_
    order, ref_order = np.argsort(ours.state.m[:, 0]), np.argsort(reference.means_[:, 0])
    np.testing.assert_allclose(ours.weights[order], reference.weights_[ref_order], atol=1e-6)
    np.testing.assert_allclose(ours.state.m[order], reference.means_[ref_order], atol=1e-6)


def test_dp_cavi_with_a_constant_column_has_a_finite_bound(with_constant_column):
    result = dp_cavi.run(with_constant_column, 2, seed=0)
    assert result.converged and np.all(np.isfinite(result.lower_bounds))
    np.testing.assert_allclose(np.sort(result.weights), [0.5, 0.5], atol=0.01)


def test_one_sample_is_an_error_as_in_scikit_learn(with_constant_column):
    with pytest.raises(ValueError, match=r"X: expected at least 2 row\(s\)"):
        fit_bayesian_gmm(with_constant_column[:1], 1)
    with pytest.raises(ValueError, match=r"X: expected at least 2 row\(s\)"):
        dp_cavi.run(with_constant_column[:1], 1)
