"""Discrete OT solvers against POT (1e-10), hand-solved problems of the notes, and the reg -> 0 limit."""

import re

import numpy as np
import ot
import pytest
import torch

from pgm_ppl.ot import (
    OTConvergenceWarning,
    cost_matrix,
    exact_ot,
    sinkhorn,
    sinkhorn_log,
    unbalanced_sinkhorn,
)


def _problem(seed, n=40, m=30, d=2):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 0.5
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    return a, b, cost_matrix(x, y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_equals_pot_and_dual_certificate(seed):
    a, b, C = _problem(seed)
    res = exact_ot(a, b, C)
    assert abs(float(res.cost) - ot.emd2(a, b, C)) < 1e-10
    np.testing.assert_allclose(res.plan, ot.emd(a, b, C), atol=1e-12)
    # LP duality (5.6): feasible duals f_i + g_j <= C_ij with <a,f> + <b,g> = cost
    assert np.max(res.f[:, None] + res.g[None, :] - C) < 1e-10
    assert abs(a @ res.f + b @ res.g - float(res.cost)) < 1e-10
    # a vertex of the polytope has at most N + M - 1 non-zeros (course row 5.24)
    assert np.count_nonzero(res.plan > 1e-15) <= len(a) + len(b) - 1
    assert res.converged


@pytest.mark.parametrize("solver, method", [(sinkhorn, "sinkhorn"), (sinkhorn_log, "sinkhorn_log")])
@pytest.mark.parametrize("seed", [0, 1])
def test_sinkhorn_equals_pot(solver, method, seed):
    a, b, C = _problem(seed)
    reg = 0.1
    res = solver(a, b, C, reg)
    assert abs(float(res.cost) - ot.sinkhorn2(a, b, C, reg, method=method, stopThr=1e-9)) < 1e-10
    np.testing.assert_allclose(res.plan, ot.sinkhorn(a, b, C, reg, method=method, stopThr=1e-9), atol=1e-12)
    # potentials reproduce the plan: P_ij = exp((f_i + g_j - C_ij) / reg)
    np.testing.assert_allclose(np.exp((res.f[:, None] + res.g[None, :] - C) / reg), res.plan, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(res.plan.sum(1), a, atol=1e-8)
    np.testing.assert_allclose(res.plan.sum(0), b, atol=1e-8)
    assert res.converged and res.trace[-1] < 1e-9 and res.trace.size >= 1


def test_unbalanced_equals_pot():
    a, b, C = _problem(3)
    b = 2.0 * b  # unequal masses
    res = unbalanced_sinkhorn(a, b, C, 0.1, 1.0)
    ref = ot.unbalanced.sinkhorn_unbalanced(a, b, C, 0.1, 1.0, stopThr=1e-9)
    np.testing.assert_allclose(res.plan, ref, atol=1e-12)
    assert abs(float(res.cost) - float(np.sum(ref * C))) < 1e-10
    # as the marginal penalty grows the plan tends to the balanced entropic plan, at rate O(1 / reg_m)
    a2, b2, C2 = _problem(4)
    balanced = sinkhorn(a2, b2, C2, 0.1).plan
    errs = [np.abs(unbalanced_sinkhorn(a2, b2, C2, 0.1, rho, max_iter=20000, tol=1e-7).plan - balanced).max()
            for rho in (1e1, 1e2)]
    assert errs[1] < errs[0] / 5


def test_two_by_two_by_hand():
    """Exercise 5.4: P(p) = [[p, mu1 - p], [nu1 - p, mu2 - nu1 + p]], optimum at an end of p's range."""
    mu, nu = np.array([0.7, 0.3]), np.array([0.4, 0.6])
    C = np.array([[1.0, 3.0], [2.0, 0.5]])
    delta = C[0, 0] - C[0, 1] - C[1, 0] + C[1, 1]  # -3.5 < 0: p* = min(mu1, nu1)
    p = min(mu[0], nu[0]) if delta < 0 else max(0.0, nu[0] - mu[1])
    P = np.array([[p, mu[0] - p], [nu[0] - p, mu[1] - nu[0] + p]])
    res = exact_ot(mu, nu, C)
    np.testing.assert_allclose(res.plan, P, atol=1e-14)
    assert abs(float(res.cost) - np.sum(C * P)) < 1e-14


def test_independent_coupling_is_feasible_and_costlier():
    """Remark 5.3 / Exercise 5.3: mu nu^T is in Pi(mu, nu), so the LP optimum is no larger."""
    a, b, C = _problem(5)
    assert float(exact_ot(a, b, C).cost) <= np.sum(np.outer(a, b) * C) + 1e-12


def test_sinkhorn_tends_to_exact_as_reg_goes_to_zero():
    a, b, C = _problem(6, n=25, m=25)
    exact = float(exact_ot(a, b, C).cost)
    scale = C.max()
    epss = (1e-1, 1e-2, 1e-3)
    gaps = [float(sinkhorn_log(a, b, C, e * scale, max_iter=20000, tol=1e-8).cost) - exact for e in epss]
    # the entropic plan is feasible, so its cost exceeds the LP's; the gap is at most eps * log(n m)
    # (entropy of a coupling) and shrinks monotonically to 0
    assert all(g > -1e-7 for g in gaps)
    assert all(g2 < g1 for g1, g2 in zip(gaps, gaps[1:]))
    assert all(g <= e * scale * np.log(25 * 25) for g, e in zip(gaps, epss))
    assert gaps[-1] < 1e-2 * gaps[0]


def test_log_domain_converges_where_plain_sinkhorn_underflows():
    a, b, C = _problem(7)
    reg = 1e-3 * C.max()
    res = sinkhorn_log(a, b, C, reg, max_iter=20000)
    assert res.converged and np.all(np.isfinite(res.plan))
    with pytest.warns(OTConvergenceWarning):
        plain = sinkhorn(a, b, C, reg, max_iter=50)
    assert not plain.converged


def test_torch_gradients():
    a, b, C = _problem(8)
    Ct = torch.tensor(C, requires_grad=True)
    at = torch.tensor(a, requires_grad=True)
    res = exact_ot(at, torch.tensor(b), Ct)
    res.cost.backward()
    # envelope theorem: d cost / d C = optimal plan
    np.testing.assert_allclose(Ct.grad.numpy(), res.plan.numpy(), atol=1e-14)
    assert at.grad.shape == at.shape
    # entropic cost: autograd through the iterations against a central finite difference on one entry
    Ct = torch.tensor(C, requires_grad=True)
    cost = sinkhorn_log(torch.tensor(a), torch.tensor(b), Ct, 0.5).cost
    cost.backward()
    h = 1e-6
    E = np.zeros_like(C)
    E[3, 4] = h
    fd = (float(sinkhorn_log(a, b, C + E, 0.5).cost) - float(sinkhorn_log(a, b, C - E, 0.5).cost)) / (2 * h)
    assert abs(Ct.grad[3, 4].item() - fd) < 1e-6


def test_cost_matrix_powers():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    D = np.linalg.norm(x[:, None] - y[None], axis=-1)
    np.testing.assert_allclose(cost_matrix(x, y), D**2, atol=1e-12)
    np.testing.assert_allclose(cost_matrix(x, y, p=1.0), D, atol=1e-7)


def test_validation_messages():
    a, b, C = _problem(10)
    with pytest.raises(ValueError, match=re.escape("cost 'C' must have shape (len(a), len(b)) = (40, 30); got (30, 40)")):
        exact_ot(a, b, C.T)
    with pytest.raises(ValueError, match="balanced OT needs equal total masses"):
        sinkhorn(a, 2 * b, C, 0.1)
    with pytest.raises(ValueError, match=re.escape("'reg' must be finite and > 0; got -1.0")):
        sinkhorn(a, b, C, -1.0)
    with pytest.raises(ValueError, match="weights 'a' must be finite and non-negative"):
        exact_ot(-a, b, C)
    with pytest.raises(TypeError, match="same kind"):
        exact_ot(torch.tensor(a), b, C)


@pytest.mark.parametrize("solver", [sinkhorn, sinkhorn_log])
def test_marginal_error_checked_every_10_iterations(solver):
    # as POT: the error is checked (and traced) after iterations 1, 11, 21, ...; the cost is <C, P>
    a, b, C = _problem(9)
    res = solver(a, b, C, 0.1)
    assert res.converged and res.num_iterations % 10 == 1 and res.trace.size == (res.num_iterations - 1) // 10 + 1
    assert np.all(res.trace[:-1] >= 1e-9) and res.trace[-1] < 1e-9
    assert abs(float(res.cost) - float(np.sum(res.plan * C))) < 1e-14
    with pytest.warns(OTConvergenceWarning):
        capped = solver(a, b, C, 0.1, max_iter=25)
    assert not capped.converged and capped.num_iterations == 25 and capped.trace.size == 3


def test_sinkhorn_offers_both_tolerance_rules():
    """Issue 17: ``tol_rule="relative"`` compares the marginal violation with ``tol * ||b||_2``, and says so."""
    rng = np.random.default_rng(0)
    a, b = rng.dirichlet(np.ones(20)), rng.dirichlet(np.ones(15))
    C = rng.random((20, 15))
    absolute = sinkhorn(a, b, C, 0.1, tol=1e-9)
    relative = sinkhorn(a, b, C, 0.1, tol=1e-9, tol_rule="relative")
    assert (absolute.rule, relative.rule) == ("absolute", "relative") and relative.stop_reason == "tol"
    assert relative.trace[-1] < 1e-9 * np.linalg.norm(b) and relative.num_iterations >= absolute.num_iterations
