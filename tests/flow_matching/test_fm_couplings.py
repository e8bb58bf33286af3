"""Couplings of flow matching: independent, exact minibatch OT (a permutation), entropic (Sinkhorn)."""

import numpy as np
import ot
import pytest
import torch

from pgm_ppl.flow_matching import ExactOTCoupling, IndependentCoupling, SinkhornCoupling, make_coupling
from pgm_ppl.ot import cost_matrix, exact_ot


def _batches(n=64, seed=0):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(n, 2, generator=g)
    angles = torch.randint(0, 8, (n,), generator=g) * torch.pi / 4
    x1 = 5 * torch.stack([angles.cos(), angles.sin()], 1) + torch.randn(n, 2, generator=g)
    return x0, x1


def test_exact_ot_coupling_is_a_permutation_with_the_exact_cost():
    x0, x1 = _batches()
    i, j = ExactOTCoupling().pair(x0, x1)
    n = x0.shape[0]
    assert sorted(i.tolist()) == list(range(n)) and sorted(j.tolist()) == list(range(n))  # every row once
    cost = float((x0[i] - x1[j]).double().pow(2).sum(-1).mean())
    a = np.full(n, 1.0 / n)
    reference = exact_ot(a, a, cost_matrix(x0.double().numpy(), x1.double().numpy())).cost
    assert cost == pytest.approx(float(reference), rel=1e-5)
    assert cost == pytest.approx(ot.emd2(a, a, ot.dist(x0.double().numpy(), x1.double().numpy())), rel=1e-5)
    paired0, paired1 = ExactOTCoupling()(x0, x1)
    torch.testing.assert_close(paired0, x0[i])
    torch.testing.assert_close(paired1, x1[j])
    # the exact coupling never costs more than the independent (identity) pairing
    assert cost <= float((x0 - x1).pow(2).sum(-1).mean())


def test_independent_coupling_passes_the_batches_through():
    x0, x1 = _batches(10)
    paired0, paired1 = IndependentCoupling()(x0, x1)
    assert paired0 is not None and torch.equal(paired0, x0) and torch.equal(paired1, x1)
    with pytest.raises(ValueError, match="x1: expected a batch"):
        IndependentCoupling()(x0, x1[:5])


def test_sinkhorn_coupling_interpolates_between_exact_and_independent():
    x0, x1 = _batches(48, seed=1)
    n = x0.shape[0]
    plan = SinkhornCoupling(reg=1.0).plan(x0, x1)
    np.testing.assert_allclose(plan.sum(1), np.full(n, 1 / n), atol=1e-6)
    np.testing.assert_allclose(plan.sum(0), np.full(n, 1 / n), atol=1e-6)
    C = cost_matrix(x0.double().numpy(), x1.double().numpy())
    exact = float(exact_ot(np.full(n, 1 / n), np.full(n, 1 / n), C).cost)
    small = SinkhornCoupling(reg=0.3)  # small reg against costs ~30: the plan's cost tends to the exact cost
    assert 0.999 * exact <= float((small.plan(x0, x1) * C).sum()) < 1.02 * exact  # marginals to 1e-6
    torch.manual_seed(0)
    i, j = small.pair(x0, x1)
    assert torch.equal(i, torch.arange(n))  # each source row kept once; partners drawn from its plan row
    paired_cost = float((x0 - x1[j]).double().pow(2).sum(-1).mean())
    assert 0.99 * exact <= paired_cost < 1.1 * exact < 0.7 * float(C.mean())  # independent: C.mean()
    huge = SinkhornCoupling(reg=1e4).plan(x0, x1)  # large reg: the independent plan a b^T
    np.testing.assert_allclose(huge, np.full((n, n), 1 / n ** 2), rtol=0.05)


def test_make_coupling_by_name():
    assert isinstance(make_coupling("exact_ot"), ExactOTCoupling)
    assert make_coupling("sinkhorn", reg=0.5).reg == 0.5
    with pytest.raises(ValueError, match="coupling: expected one of"):
        make_coupling("optimal")
