"""Closed-form flows and the change of variables (course eqs. (8.1)-(8.4), Exercises 8.1, 8.2, 8.4): references
are the Gaussian densities they must produce (scipy), the Cholesky map, and Kolmogorov-Smirnov on samples."""

import re

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Exponential, Laplace, MultivariateNormal, Normal, Uniform

from pgm_ppl.flows import (KnotheRosenblatt, MatrixAffineTransform, MonotoneRearrangement, compose,
                           gaussian_conditionals, log_density_forward, log_density_inverse, pushforward)

torch.set_num_threads(1)
DT = torch.float64
A = torch.tensor([[1.5, 0.3, 0.0], [-0.4, 0.8, 0.2], [0.1, -0.5, 1.1]], dtype=DT)
b = torch.tensor([0.5, -1.0, 2.0], dtype=DT)


def _std_normal(d):
    return MultivariateNormal(torch.zeros(d, dtype=DT), torch.eye(d, dtype=DT))


def _points(n=50, d=3, seed=0):
    return torch.as_tensor(np.random.default_rng(seed).normal(size=(n, d)) * 2, dtype=DT)


def test_affine_flow_is_the_gaussian_n_b_aat_in_both_directions():
    x = _points()
    reference = stats.multivariate_normal(b.numpy(), (A @ A.T).numpy()).logpdf(x.numpy())
    T = MatrixAffineTransform(A, b)
    np.testing.assert_allclose(log_density_inverse(_std_normal(3), T, x).numpy(), reference, rtol=0, atol=1e-10)
    x_forward, log_p = log_density_forward(_std_normal(3), T, T.inv(x))
    np.testing.assert_allclose(x_forward.numpy(), x.numpy(), atol=1e-12)
    np.testing.assert_allclose(log_p.numpy(), reference, rtol=0, atol=1e-10)


def test_a_composition_sums_the_log_determinants():
    # T2 o T1 with affine layers: N(A2 b1 + b2, A2 A1 A1^T A2^T) (Exercise 8.4).
    A2, b2 = torch.tensor([[0.7, 0.0, 0.2], [0.0, 1.3, 0.0], [0.4, 0.1, 0.9]], dtype=DT), -b
    layers = [MatrixAffineTransform(A, b), MatrixAffineTransform(A2, b2)]
    x = _points(seed=1)
    M = A2 @ A
    reference = stats.multivariate_normal((A2 @ b + b2).numpy(), (M @ M.T).numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(log_density_inverse(_std_normal(3), layers, x).numpy(), reference, atol=1e-10)
    np.testing.assert_allclose(log_density_inverse(_std_normal(3), compose(*layers), x).numpy(), reference,
                               atol=1e-10)
    _, forward = log_density_forward(_std_normal(3), layers, compose(*layers).inv(x))
    np.testing.assert_allclose(forward.numpy(), reference, atol=1e-10)


def test_pushforward_samples_have_the_affine_moments_and_are_seeded():
    draws = pushforward(_std_normal(3), MatrixAffineTransform(A, b), 20000, seed=3)
    assert torch.equal(draws, pushforward(_std_normal(3), MatrixAffineTransform(A, b), 20000, seed=3))
    cov = (A @ A.T).numpy()
    se = np.sqrt(np.diag(cov) / 20000)  # standard error of each sample mean
    assert np.all(np.abs(draws.mean(0).numpy() - b.numpy()) < 5 * se)
    # sample covariance: sd of an entry is sqrt((S_ij^2 + S_ii S_jj) / n)
    se_cov = np.sqrt((cov ** 2 + np.outer(np.diag(cov), np.diag(cov))) / 20000)
    assert np.all(np.abs(np.cov(draws.numpy().T) - cov) < 5 * se_cov)


def test_singular_or_misshaped_affine_maps_are_refused():
    with pytest.raises(ValueError, match=re.escape("A: expected an invertible matrix, got a singular one.")):
        MatrixAffineTransform(torch.ones(2, 2, dtype=DT), torch.zeros(2, dtype=DT))
    with pytest.raises(ValueError, match=re.escape("b: expected shape (2,) to match A, got (3,).")):
        MatrixAffineTransform(torch.eye(2, dtype=DT), torch.zeros(3, dtype=DT))


@pytest.mark.parametrize("target, reference", [(Exponential(torch.tensor(2.0, dtype=DT)), stats.expon(scale=0.5)),
                                               (Laplace(torch.tensor(1.0, dtype=DT), torch.tensor(0.5, dtype=DT)),
                                                stats.laplace(1.0, 0.5))])
def test_monotone_rearrangement_pushes_the_base_to_the_target(target, reference):
    base = Normal(torch.tensor(0.0, dtype=DT), torch.tensor(1.0, dtype=DT))
    T = MonotoneRearrangement(base, target)
    u = torch.linspace(-3, 3, 61, dtype=DT)
    x = T(u)
    # T = F_x^{-1} o F_u (8.4) against scipy's ppf, increasing, and inverted exactly
    np.testing.assert_allclose(x.numpy(), reference.ppf(stats.norm.cdf(u.numpy())), rtol=1e-9, atol=1e-12)
    assert torch.all(torch.diff(x) > 0)
    np.testing.assert_allclose(T.inv(x).numpy(), u.numpy(), atol=1e-9)
    # log T'(u) against the autograd derivative
    u_grad = u.clone().requires_grad_(True)
    derivative = torch.autograd.grad(T(u_grad).sum(), u_grad)[0]
    np.testing.assert_allclose(T.log_abs_det_jacobian(u, x).numpy(), np.log(derivative.numpy()), atol=1e-8)


def test_inverse_cdf_sampling_passes_kolmogorov_smirnov():
    # Exercise 8.2: with a uniform base the rearrangement is F_x^{-1}; KS at level 1e-3 (fixed seed).
    uniform = Uniform(torch.tensor(0.0, dtype=DT), torch.tensor(1.0, dtype=DT))
    draws = pushforward(uniform, MonotoneRearrangement(uniform, Exponential(torch.tensor(2.0, dtype=DT))), 4000,
                        seed=0)
    assert stats.kstest(draws.numpy(), stats.expon(scale=0.5).cdf).pvalue > 1e-3


def test_knothe_rosenblatt_of_a_gaussian_is_the_cholesky_map():
    m = torch.tensor([1.0, -2.0], dtype=DT)
    S = torch.tensor([[2.0, 1.2], [1.2, 1.5]], dtype=DT)
    T = KnotheRosenblatt(gaussian_conditionals(m, S), features=2)
    u = _points(n=40, d=2, seed=2) / 2  # |u| < ~5, where Phi^{-1}(Phi(u)) is accurate
    L = torch.linalg.cholesky(S)
    np.testing.assert_allclose(T(u).numpy(), (u @ L.T + m).numpy(), atol=1e-8)
    np.testing.assert_allclose(T.inv(T(u)).numpy(), u.numpy(), atol=1e-8)
    # log det = log det L = sum log L_kk, and the pushforward density is N(m, S)
    np.testing.assert_allclose(T.log_abs_det_jacobian(u, T(u)).numpy(), torch.log(torch.diag(L)).sum().item(),
                               atol=1e-10)
    x = _points(n=40, d=2, seed=3) + m
    reference = stats.multivariate_normal(m.numpy(), S.numpy()).logpdf(x.numpy())
    np.testing.assert_allclose(log_density_inverse(_std_normal(2), T, x).numpy(), reference, atol=1e-8)
    # samples: N(0, I) pushed to N(m, S), means within 5 standard errors
    draws = pushforward(_std_normal(2), T, 20000, seed=1)
    assert np.all(np.abs(draws.mean(0).numpy() - m.numpy()) < 5 * np.sqrt(np.diag(S.numpy()) / 20000))


def test_knothe_rosenblatt_between_non_gaussian_laws_has_the_autograd_log_determinant():
    # x1 ~ Exp(1), x2 | x1 ~ N(x1, 1 + x1^2); base N(0, I). log det against the autograd Jacobian (triangular).
    def target(k, prefix):
        if k == 0:
            return Exponential(torch.ones(prefix.shape[:-1], dtype=DT))
        return Normal(prefix[..., 0], torch.sqrt(1 + prefix[..., 0] ** 2))

    T = KnotheRosenblatt(target, features=2)
    u = _points(n=5, d=2, seed=4) / 2
    x = T(u)
    for row in range(5):
        J = torch.autograd.functional.jacobian(lambda v: T(v[None])[0], u[row])
        assert abs(J[0, 1].item()) < 1e-12  # triangular
        np.testing.assert_allclose(T.log_abs_det_jacobian(u[row:row + 1], x[row:row + 1]).item(),
                                   torch.linalg.slogdet(J)[1].item(), atol=1e-8)
    np.testing.assert_allclose(T.inv(x).numpy(), u.numpy(), atol=1e-8)
