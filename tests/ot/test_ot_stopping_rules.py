"""Issue 17 (one stopping vocabulary) and issue 18 item 7 (tolerances relative to dtype and scale) for the OT
solvers whose check POT owns: batched Sinkhorn, the barycentres, and the thresholds of McCann interpolation, the
brute-force Monge problem and the 1-D histogram checks."""

import warnings

import numpy as np
import ot
import pytest
import torch

from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.ot import (OTConvergenceWarning, batched_cost_matrix, convolutional_barycenter,
                        displacement_interpolation_1d, entropic_barycenter, exact_ot, free_support_barycenter,
                        mccann_interpolation, monge_brute_force, sinkhorn_batched)


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 20, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 25, 2, generator=gen, dtype=torch.float64) + 1
    a = torch.rand(3, 20, generator=gen, dtype=torch.float64) + 0.1
    return a / a.sum(1, keepdim=True), batched_cost_matrix(x, y)


def test_sinkhorn_batched_rules(batch):
    a, C = batch
    absolute = sinkhorn_batched(a, None, C, 0.5, tol=1e-6)
    relative = sinkhorn_batched(a, None, C, 0.5, tol=1e-6, tol_rule="relative")
    for result, rule in ((absolute, "absolute"), (relative, "relative")):
        assert result.converged and result.stop_reason == "tol" and result.rule == rule
    # the relative rule bounds each problem's row-marginal violation by tol * ||a_b||_2 (||a_b|| ~ 0.23 here)
    violation = torch.linalg.norm(relative.plan.detach().sum(2) - a, dim=1)
    assert bool((violation < 1e-6 * torch.linalg.norm(a, dim=1)).all())
    assert relative.num_iterations >= absolute.num_iterations
    with pytest.warns(OTConvergenceWarning, match="sinkhorn_batched did not reach its tolerance in 1 iterations"):
        stopped = sinkhorn_batched(a, None, C, 0.05, max_iter=1)
    assert not stopped.converged and stopped.stop_reason == "max_iter"
    with pytest.raises(ValueError, match="tol_rule"):
        sinkhorn_batched(a, None, C, 0.5, tol_rule="relativ")


def _bumps():
    g = np.linspace(0, 1, 60)
    A = np.stack([np.exp(-((g - c) ** 2) / (2 * 0.05**2)) for c in (0.25, 0.75)])
    return A / A.sum(1, keepdims=True), ot.dist(g[:, None], g[:, None])


def test_entropic_barycenter_rules_coincide_and_unconverged_warns():
    A, C = _bumps()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        absolute = entropic_barycenter(A, C, 1e-2, tol=1e-9)
        relative = entropic_barycenter(A, C, 1e-2, tol=1e-9, tol_rule="relative")
    # POT's criterion is on unit-mass marginals, so "relative to their magnitude" is the same threshold
    np.testing.assert_array_equal(absolute, relative)
    with pytest.warns(OTConvergenceWarning, match="entropic_barycenter did not converge in 2 iterations"):
        entropic_barycenter(A, C, 1e-3, max_iter=2)
    with pytest.raises(ValueError, match="tol_rule"):
        entropic_barycenter(A, C, 1e-2, tol_rule="exact")


def test_convolutional_barycenter_warns_when_unconverged():
    im = np.zeros((2, 16, 16))
    im[0, 2:6, 2:6] = 1.0
    im[1, 10:14, 10:14] = 1.0
    with pytest.warns(OTConvergenceWarning, match="convolutional_barycenter did not converge in 10 iterations"):
        bary = convolutional_barycenter(im, 4e-3, max_iter=10)
    assert np.isfinite(bary).all()
    with pytest.raises(ValueError, match="'images' must be .* finite"):
        convolutional_barycenter(np.where(im > 0, np.nan, im), 4e-3)


def test_free_support_barycenter_relative_rule_is_unit_free():
    rng = np.random.default_rng(1)
    clouds = [rng.normal(size=(15, 2)) + shift for shift in ([0.0, 0.0], [3.0, 1.0])]
    unit = free_support_barycenter(clouds, num_atoms=8, tol=1e-10, tol_rule="relative", seed=0)
    big = free_support_barycenter([1e6 * c for c in clouds], num_atoms=8, tol=1e-10, tol_rule="relative", seed=0)
    np.testing.assert_allclose(big.points, 1e6 * unit.points, rtol=1e-9)
    # a fit still moving when max_iter runs out says so (POT's loop is silent)
    with pytest.warns(OTConvergenceWarning, match="free_support_barycenter did not converge in 1 iterations"):
        free_support_barycenter([1e6 * c for c in clouds], num_atoms=8, max_iter=1, seed=0)


def test_mccann_threshold_is_relative_to_the_plan_mass_and_dtype():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(4, 2)), rng.normal(size=(5, 2))
    plan = np.asarray(exact_ot(np.full(4, 0.25), np.full(5, 0.2), ot.dist(x, y)).plan)
    # a plan of tiny mass (measures in units where the total is 1e-20): the old fixed threshold 1e-12 dropped every atom
    tiny = mccann_interpolation(x, y, 1e-20 * plan, 0.5)
    assert len(tiny.weights) == np.count_nonzero(plan) and abs(tiny.weights.sum() / 1e-20 - 1) < 1e-12
    # float32 plans: entries at the float32 rounding level of the mass are noise and dropped, real mass is kept
    noisy = (plan + 1e-9 * (plan == 0)).astype(np.float32)
    kept = mccann_interpolation(x, y, noisy, 0.5)
    assert len(kept.weights) == np.count_nonzero(plan)
    with pytest.raises(ValueError, match="'plan' must be finite and non-negative"):
        mccann_interpolation(x, y, -plan, 0.5)


def test_monge_and_histogram_checks_at_the_inputs_precision():
    # float32 weights: 0.1f + 0.2f misses 0.3f by 7.5e-9 in float64, far above the old fixed 1e-12, far below float32's
    # rounding level; the map exists
    a, b = np.array([0.1, 0.2, 0.7], np.float32), np.array([0.3, 0.7], np.float32)
    C = np.array([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    result = monge_brute_force(a, b, C)
    assert result.assignment.tolist() == [0, 0, 1] and result.num_optimal == 1
    assert monge_brute_force(a.astype(np.float64), b.astype(np.float64) * [1.001, 1.0], C).assignment is None
    # float32 histograms normalised in float32 miss 1 by ~2e-8 (the old check's fixed 1e-8 refused them)
    h = (np.arange(1, 8) / 28).astype(np.float32)
    assert abs(h.astype(np.float64).sum() - 1) > 1e-8
    grid = np.arange(7.0)
    out = displacement_interpolation_1d(grid, h, h[::-1], 0.5)
    assert abs(out.sum() - 1) < 1e-12 and (out >= 0).all()  # the quantile average closes the mass at 1
    with pytest.raises(ValueError, match="each sum to 1"):
        displacement_interpolation_1d(grid, h.astype(np.float64) * 1.001, h, 0.5)
