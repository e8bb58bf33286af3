"""Sample metrics, minibatch couplings and batched torch Sinkhorn against scipy, scikit-learn and POT."""

import re
import warnings

import numpy as np
import ot
import pytest
import torch
from scipy import stats
from sklearn.metrics.pairwise import rbf_kernel

from pgm_ppl.core import ConvergenceWarning
from pgm_ppl.ot import (
    batched_cost_matrix,
    energy_distance,
    minibatch_ot_coupling,
    mmd_sq,
    sinkhorn_batched,
    sinkhorn_log,
    w2_samples,
)


def test_energy_distance_matches_scipy_in_1d():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(0.5, 1.5, size=200)
    assert abs(np.sqrt(float(energy_distance(x, y))) - stats.energy_distance(x, y)) < 1e-12


def test_mmd_matches_naive_unbiased_estimator():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(40, 3)) + 0.3
    h = 0.8
    g = 1 / (2 * h**2)
    kxx, kyy, kxy = rbf_kernel(x, x, gamma=g), rbf_kernel(y, y, gamma=g), rbf_kernel(x, y, gamma=g)
    ref = ((kxx.sum() - np.trace(kxx)) / (50 * 49) + (kyy.sum() - np.trace(kyy)) / (40 * 39) - 2 * kxy.mean())
    assert abs(float(mmd_sq(x, y, bandwidth=h)) - ref) < 1e-12


def test_w2_samples_equals_pot():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(60, 2)), rng.normal(size=(45, 2))
    assert abs(float(w2_samples(x, y)) - np.sqrt(ot.emd2(ot.unif(60), ot.unif(45), ot.dist(x, y)))) < 1e-10


@pytest.mark.parametrize("n", [64, 256])
def test_minibatch_coupling_is_exact_ot(n):
    rng = np.random.default_rng(n)
    x0, x1 = rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + 1
    c = minibatch_ot_coupling(x0, x1)
    assert sorted(c.target_index.tolist()) == list(range(n))  # a permutation
    np.testing.assert_array_equal(c.source_index, np.arange(n))
    assert abs(c.cost - ot.emd2(ot.unif(n), ot.unif(n), ot.dist(x0, x1))) < 1e-10
    ct = minibatch_ot_coupling(torch.tensor(x0), torch.tensor(x1))
    assert isinstance(ct.target_index, torch.Tensor) and abs(ct.cost - c.cost) < 1e-12


def test_batched_sinkhorn_equals_single_problems_and_is_differentiable():
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 20, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(3, 25, 2, generator=gen, dtype=torch.float64) + 1
    C = batched_cost_matrix(x, y)
    res = sinkhorn_batched(None, None, C, 0.5)
    for k in range(3):
        single = sinkhorn_log(ot.unif(20), ot.unif(25), C[k].detach().numpy(), 0.5)
        assert abs(res.cost[k].item() - float(single.cost)) < 1e-8
    assert float(res.marginal_error.max()) < 1e-7
    res.cost.sum().backward()
    # autograd through the iterations against a central finite difference in one coordinate
    h = 1e-6
    E = torch.zeros_like(x)
    E[1, 4, 0] = h
    with torch.no_grad():
        up = sinkhorn_batched(None, None, batched_cost_matrix(x + E, y), 0.5).cost.sum()
        down = sinkhorn_batched(None, None, batched_cost_matrix(x - E, y), 0.5).cost.sum()
    assert abs(x.grad[1, 4, 0].item() - (up - down).item() / (2 * h)) < 1e-6


def test_metric_validation():
    with pytest.raises(ValueError, match=re.escape("minibatches must have equal sizes; got 4 and 5")):
        minibatch_ot_coupling(np.zeros((4, 2)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match=re.escape("'x' and 'y' must have the same dimension; got 2 and 3")):
        energy_distance(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=re.escape("'bandwidth' must be finite and > 0; got 0.0")):
        mmd_sq(np.zeros((4, 2)), np.ones((4, 2)), bandwidth=0.0)


def test_minibatch_coupling_warns_when_the_simplex_stops_early(monkeypatch):
    # the plan of a network simplex stopped at its pivot limit is a coupling but not an optimal assignment: warn
    x0, x1 = np.random.default_rng(0).normal(size=(2, 64, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        exact = minibatch_ot_coupling(x0, x1)  # the default pivot limit reaches the optimum: no warning
    real_emd = ot.emd
    monkeypatch.setattr(ot, "emd", lambda a, b, C, numItermax, log: real_emd(a, b, C, numItermax=3, log=log))
    with pytest.warns(ConvergenceWarning, match="minibatch_ot_coupling"):
        stopped = minibatch_ot_coupling(x0, x1)
    assert stopped.cost > exact.cost
