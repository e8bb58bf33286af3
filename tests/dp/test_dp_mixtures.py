"""NUTS on the enumerated stick-breaking DP mixture (course Def. 4.3) on both backends, checked against the
known clustering of well-separated data through label-invariant quantities: adjusted Rand index of one
chain's MAP assignment, the co-clustering matrix pooled over chains, the number of components with weight
above 0.05, and the log-likelihood and predictive groups of the InferenceData. Sizes are tiny because
Pyro's NUTS with enumeration costs ~10 ms per gradient here (with ``jit_compile``)."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from pgm_ppl import fit
from pgm_ppl.dp.mixtures import assignment_probabilities, co_clustering_probabilities, dp_mixture

RNG = np.random.default_rng(1)
TRUTH = np.repeat([0, 1, 2], 20)
X = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])[TRUTH] + 0.5 * RNG.normal(size=(60, 2))
Z = (X - X.mean(0)) / X.std(0)
SAME = TRUTH[:, None] == TRUTH[None, :]
# Thresholds: the nearest centres are 11.3 noise sds apart (a point past the midway line: Phi(-5.7) = 8e-9), so
# the posterior clustering is the truth. ARI > 0.9 passes 2 of the 60 points misplaced or 4 split off alone (two
# clusters merged: 0.56); P[SAME] > 0.9 fails if a cluster is halved (0.83), P[~SAME] < 0.05 if two merge (1/3).
RUNS = {  # NumPyro: 2 vectorised chains; Pyro: one jit-compiled chain (chains run one after another there)
    # target_accept_prob 0.9 (the usual advice for mixtures, whose posteriors have narrow necks between modes of
    # the weights): at NumPyro's default 0.8 a few of the 600 transitions diverge for some seeds.
    "numpyro": dict(model_kwargs={"num_components": 5}, num_samples=300, num_warmup=300, num_chains=2, seed=0,
                    target_accept_prob=0.9),
    "pyro": dict(model_kwargs={"num_components": 4}, num_samples=100, num_warmup=100, num_chains=1, seed=1,
                 max_tree_depth=5, jit_compile=True, ignore_jit_warnings=True),
}


@pytest.mark.parametrize("backend", list(RUNS))
def test_nuts_recovers_the_clustering(backend):
    result = fit(dp_mixture, Z, method="nuts", backend=backend, num_prior_samples=0, progress_bar=False,
                 **RUNS[backend])
    post = result.posterior
    chains, draws, K = post["weights"].shape
    assert not result.sample_stats["diverging"].any()
    np.testing.assert_allclose(post["weights"].sum(-1), 1.0, rtol=1e-10)

    labels = assignment_probabilities(Z, post["weights"][0], post["mu"][0], post["sigma"][0]).argmax(1)
    assert adjusted_rand_score(TRUTH, labels) > 0.9
    P = co_clustering_probabilities(Z, post["weights"], post["mu"], post["sigma"])  # all chains pooled: label-invariant
    np.testing.assert_array_equal(np.diag(P), 1.0)
    assert P[SAME].mean() > 0.9 and P[~SAME].mean() < 0.05
    # three clusters: the posterior mode of #{k : C_k > 0.05} is 3 (label-invariant), out of K sticks
    counts = np.bincount((post["weights"] > 0.05).sum(-1).ravel(), minlength=K + 1)
    assert counts.argmax() == 3

    idata = result.to_inference_data()
    assert idata.log_likelihood["x"].shape == (chains, draws, 60)
    assert np.isfinite(idata.log_likelihood["x"]).all()
    assert idata.posterior_predictive["x"].shape == (chains, draws, 60, 2)


def test_co_clustering_is_label_invariant():
    rng = np.random.default_rng(0)
    weights = rng.dirichlet(np.ones(4), size=(2, 5))
    mu, sigma = rng.normal(size=(2, 5, 4, 2)), rng.uniform(0.5, 1.5, size=(2, 5, 4, 2))
    perm = rng.permutation(4)
    P = co_clustering_probabilities(Z, weights, mu, sigma)
    np.testing.assert_allclose(co_clustering_probabilities(Z, weights[..., perm], mu[..., perm, :],
                                                           sigma[..., perm, :]), P,
                               rtol=1e-12)
    np.testing.assert_allclose(P, P.T, rtol=1e-12)
    r = assignment_probabilities(Z, weights[0, 0], mu[0, 0], sigma[0, 0])  # one draw: P = r r^T off the diagonal
    expected = r @ r.T
    np.fill_diagonal(expected, 1.0)
    np.testing.assert_allclose(co_clustering_probabilities(Z, weights[0, 0], mu[0, 0], sigma[0, 0]), expected,
                               rtol=1e-12)
