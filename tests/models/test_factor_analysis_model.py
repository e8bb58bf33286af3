"""The Bayesian factor-analysis model against the EM maximum-likelihood fit (pgm_ppl.em, itself checked
against scikit-learn): with many points the posterior concentrates at the MLE of W W^T + Psi."""

import numpy as np
import pytest

from pgm_ppl import fit
from pgm_ppl.em import fit_factor_analysis
from pgm_ppl.models.factor_analysis import factor_analysis

RNG = np.random.default_rng(3)
TRUE_W = np.array([[1.0, 0.0], [0.8, 0.6], [-0.5, 0.9], [0.3, -0.7], [0.9, 0.4]])
DATA = RNG.normal(size=(600, 2)) @ TRUE_W.T + RNG.normal(size=(600, 5)) * np.array([0.5, 0.4, 0.6, 0.3, 0.5])


@pytest.fixture(scope="module")
def nuts():
    return fit(factor_analysis, DATA, model_kwargs={"num_factors": 2}, num_chains=2, num_samples=200,
               num_warmup=200, progress_bar=False, num_prior_samples=20, seed=0)


def test_loadings_are_lower_triangular_with_positive_diagonal(nuts):
    W = nuts.posterior["W"]
    assert W.shape[2:] == (5, 2)
    assert np.all(W[..., 0, 1] == 0.0) and np.all(W[..., 0, 0] > 0) and np.all(W[..., 1, 1] > 0)


def test_covariance_matches_the_em_maximum_likelihood(nuts):
    W, psi = nuts.posterior["W"], nuts.posterior["psi"]
    cov = np.einsum("cdik,cdjk->cdij", W, W) + np.einsum("cdi,ij->cdij", psi**2, np.eye(5))
    em = fit_factor_analysis(DATA - DATA.mean(0), 2, tol=1e-12, max_iter=5000)
    em_cov = em.params.loadings @ em.params.loadings.T + np.diag(em.params.noise_variance)
    posterior_mean, posterior_sd = cov.mean(axis=(0, 1)), cov.std(axis=(0, 1))
    # posterior mean vs MLE: they differ by O(1/N) (prior, posterior skew) -- allow 2 posterior sds.
    # NOTE (issue 17, reported to the lead): this pooled-sd tolerance hides a stuck chain. With seed 0, chain 1 sits
    # at W[1, 1] = 0.003, 190 nats below the MLE (the positive-diagonal constraint traps a sign-flipped second
    # column at the boundary); R-hat 1.83 and ESS 3 on cov[0, 2], whose chains' means are -0.51 and -0.06 (MLE
    # -0.50). A derived bound (a few MCSE plus an O(1/N) bias) fails until the model or its initialisation is fixed.
    np.testing.assert_array_less(np.abs(posterior_mean - em_cov), 2 * posterior_sd + 1e-3)
    assert float(np.max(nuts.to_inference_data().posterior["psi"].std())) > 0
