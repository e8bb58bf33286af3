"""Sample metrics with floors: W2 against the Bures closed form, unbiased MMD centred under the null."""

import re

import numpy as np
import pytest

from pgm_ppl.diagnostics import Metric, median_bandwidth, sample_metrics
from pgm_ppl.ot import energy_distance, gaussian_w2_sq, mmd_sq, sliced_wasserstein_distance, w2_samples

M1, S1 = np.array([0.0, 0.0]), np.array([[1.0, 0.5], [0.5, 1.0]])
M2, S2 = np.array([1.0, -0.5]), np.array([[2.0, 0.0], [0.0, 0.5]])


def gaussian(mean, cov, n, seed):
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


def test_w2_between_gaussian_samples_matches_the_bures_closed_form():
    """|W2(mu_n, nu_n) - W2(mu, nu)| <= W2(mu_n, mu) + W2(nu_n, nu) (triangle inequality), and by joint convexity
    of W2^2 with mu = E[mu'_n], E W2^2(mu_n, mu) <= E W2^2(mu_n, mu'_n): each term is at most (in mean square)
    the floor of its law, the W2 between two independent samples of it. Tolerance: the sum of the two floors."""
    n = 400
    x, y = gaussian(M1, S1, n, 0), gaussian(M2, S2, n, 1)
    result = sample_metrics(x, y, metrics=("w2",), floor_reference=gaussian(M2, S2, n, 2))
    floor_mu = w2_samples(gaussian(M1, S1, n, 3), x)
    exact = np.sqrt(gaussian_w2_sq(M1, S1, M2, S2))
    assert isinstance(result["w2"], Metric)
    assert result["w2"].value == pytest.approx(w2_samples(x, y), rel=1e-12)  # the package's one W2
    assert abs(result["w2"].value - exact) < result["w2"].floor + floor_mu, (result, exact)
    assert result["w2"].value > result["w2"].floor  # the laws differ by far more than sampling noise


def test_unbiased_mmd_is_centred_under_the_null_and_positive_under_an_alternative():
    """400 replicates of n = m = 25 points in 2-D. Under H0 both value and floor compare samples of one law, so
    their replicate means must be within 3 standard errors of zero; under a mean shift of 1 the value's mean
    must exceed zero by more than 3 standard errors (and the floor stays centred)."""
    replicates, n = 400, 25
    rng = np.random.default_rng(0)
    null, alternative = [], []
    for r in range(replicates):
        x, y, y_prime = rng.normal(size=(3, n, 2))
        null.append(sample_metrics(x, y, metrics=("mmd",), floor_reference=y_prime, seed=r)["mmd"])
        alternative.append(sample_metrics(x + 1.0, y, metrics=("mmd",), floor_reference=y_prime, seed=r)["mmd"])
    null, alternative = np.array(null), np.array(alternative)  # (replicates, 2): value, floor
    se = null.std(axis=0, ddof=1) / np.sqrt(replicates)
    assert np.all(np.abs(null.mean(axis=0)) < 3 * se), (null.mean(axis=0), se)
    se_alt = alternative[:, 0].std(ddof=1) / np.sqrt(replicates)
    assert alternative[:, 0].mean() > 3 * se_alt
    assert alternative[:, 0].mean() > 10 * abs(alternative[:, 1].mean())


def test_every_metric_reuses_pgm_ppl_ot_with_one_kernel_and_one_set_of_projections():
    x, y, y_prime = gaussian(M1, S1, 60, 0), gaussian(M2, S2, 90, 1), gaussian(M2, S2, 60, 2)
    result = sample_metrics(x, y, floor_reference=y_prime, seed=5)
    assert list(result) == ["w2", "sliced_w2", "mmd", "energy"]
    h = median_bandwidth(x, y, y_prime)
    pooled = np.concatenate([x, y, y_prime])
    i, j = np.triu_indices(len(pooled), k=1)
    assert h == pytest.approx(np.median(np.linalg.norm(pooled[i] - pooled[j], axis=1)), rel=1e-12)
    assert result["mmd"] == pytest.approx((mmd_sq(x, y, bandwidth=h), mmd_sq(y_prime, y, bandwidth=h)), rel=1e-12)
    assert result["energy"] == pytest.approx((energy_distance(x, y), energy_distance(y_prime, y)), rel=1e-12)
    assert result["w2"].floor == pytest.approx(w2_samples(y_prime, y), rel=1e-12)
    sliced = result["sliced_w2"]
    assert sliced.value > sliced.floor > 0
    assert sliced == sample_metrics(x, y, floor_reference=y_prime, seed=5)["sliced_w2"]  # seeded projections
    assert sliced.value == pytest.approx(float(sliced_wasserstein_distance(x, y, seed=int(sliced_seed(5)))), rel=1e-12)


def sliced_seed(seed):
    from pgm_ppl.core.seeding import spawn_seeds

    return spawn_seeds(seed, 4)[2]


def test_the_floor_from_a_sampler_or_a_split_pool():
    x = gaussian(M1, S1, 50, 0)
    pool = gaussian(M1, S1, 120, 1)
    split = sample_metrics(x, pool, metrics=("energy",), seed=3)["energy"]
    assert split == sample_metrics(x, pool, metrics=("energy",), seed=3)["energy"]
    sampled = sample_metrics(x, pool, metrics=("energy",),
                             reference_sampler=lambda n, seed: gaussian(M1, S1, n, seed))["energy"]
    assert sampled.value == pytest.approx(energy_distance(x, pool), rel=1e-12)  # the whole pool is the reference
    with pytest.raises(ValueError, match=re.escape("reference: to split the pool into two halves of at least 50 "
                                                   "rows (the samples' size) it needs 100 rows, got 80")):
        sample_metrics(x, pool[:80], metrics=("energy",))


def test_bad_arguments_are_reported():
    x, y = np.zeros((10_001, 2)), np.ones((10, 2))
    with pytest.raises(ValueError, match=re.escape("exact 'w2' takes at most 10,000 points per side (an n x m "
                                                   "transport problem), got 10,001 samples and 10 reference rows; "
                                                   "use 'sliced_w2' or subsample.")):
        sample_metrics(x, y, floor_reference=x)
    with pytest.raises(ValueError, match=re.escape("metrics: expected one of 'w2', 'sliced_w2', 'mmd', 'energy', "
                                                   "got 'fid'.")):
        sample_metrics(y, y, metrics=("fid",), floor_reference=y)
    with pytest.raises(ValueError, match=re.escape("samples and reference must have the same dimension; "
                                                   "got 2 and 3")):
        sample_metrics(y, np.ones((10, 3)), floor_reference=y)
    with pytest.raises(ValueError, match=re.escape("floor_reference: expected an independent reference sample of "
                                                   "the samples' shape (10, 2), got shape (9, 2).")):
        sample_metrics(y, y, floor_reference=y[:9])
