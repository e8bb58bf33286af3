"""The continuity equation (8.7) and linear-ODE Gaussian paths (Exercise 8.5): references are scipy's expm, the
moment ODEs, the closed-form density paths of a linear and a constant field, and an ODE solve of the particles."""

import re

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp
from scipy.linalg import expm
from torch.distributions import MultivariateNormal

from pgm_ppl.flows import continuity_residual, linear_gaussian_path

torch.set_num_threads(1)
DT = torch.float64
A = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=DT)
b = torch.tensor([0.3, -0.7], dtype=DT)
m0 = torch.tensor([1.0, 0.5], dtype=DT)
S0 = torch.tensor([[1.0, 0.3], [0.3, 0.5]], dtype=DT)
Z = torch.as_tensor(np.random.default_rng(0).normal(size=(30, 2)), dtype=DT)


def test_linear_gaussian_path_matches_expm_and_the_moment_odes():
    times = torch.tensor([0.0, 0.4, 1.3], dtype=DT)
    path = linear_gaussian_path(A, b, m0, S0, times)
    An, bn = A.numpy(), b.numpy()
    for i, t in enumerate(times.numpy()):
        Phi = expm(t * An)
        integral = np.linalg.solve(An, (Phi - np.eye(2)) @ bn)  # int_0^t e^{sA} ds b = A^{-1}(e^{tA} - I) b
        np.testing.assert_allclose(path.mean[i].numpy(), Phi @ m0.numpy() + integral, atol=1e-9)
        np.testing.assert_allclose(path.covariance[i].numpy(), Phi @ S0.numpy() @ Phi.T, atol=1e-12)
    # dm/dt = A m + b and dS/dt = A S + S A^T (forward-mode derivative in t)
    t = torch.tensor(0.7, dtype=DT)
    (mean, cov), (dmean, dcov) = torch.func.jvp(lambda s: tuple(linear_gaussian_path(A, b, m0, S0, s)), (t,),
                                                (torch.ones_like(t),))
    np.testing.assert_allclose(dmean[0].numpy(), (A @ mean[0] + b).numpy(), atol=1e-10)
    np.testing.assert_allclose(dcov[0].numpy(), (A @ cov[0] + cov[0] @ A.T).numpy(), atol=1e-10)


def test_particles_moved_by_the_ode_have_the_path_moments():
    # 4,000 particles from N(m0, S0) integrated to t = 1 by scipy; moments within 5 standard errors.
    rng = np.random.default_rng(1)
    z0 = rng.multivariate_normal(m0.numpy(), S0.numpy(), size=4000)
    An, bn = A.numpy(), b.numpy()
    z1 = solve_ivp(lambda s, y: (y.reshape(-1, 2) @ An.T + bn).ravel(), (0, 1), z0.ravel(), rtol=1e-9,
                   atol=1e-10).y[:, -1].reshape(-1, 2)
    path = linear_gaussian_path(A, b, m0, S0, torch.tensor([1.0], dtype=DT))
    S1 = path.covariance[0].numpy()
    assert np.all(np.abs(z1.mean(0) - path.mean[0].numpy()) < 5 * np.sqrt(np.diag(S1) / 4000))


def _gaussian_path_log_density(t, z):
    path = linear_gaussian_path(A, b, m0, S0, t.reshape(1))
    return MultivariateNormal(path.mean[0], path.covariance[0]).log_prob(z)


def test_a_linear_field_generates_its_gaussian_path():
    result = continuity_residual(lambda t, z: z @ A.T + b, _gaussian_path_log_density, 0.6, Z)
    np.testing.assert_allclose(result.relative.numpy(), 0.0, atol=1e-10)
    np.testing.assert_allclose(result.residual.numpy(), 0.0, atol=1e-10)


def test_a_constant_field_translates_the_density():
    # Course row 8.11: p_t(z) = p_0(z - c t) under g = c.
    c = torch.tensor([1.5, -0.5], dtype=DT)
    base = MultivariateNormal(m0, S0)
    result = continuity_residual(lambda t, z: c.expand_as(z), lambda t, z: base.log_prob(z - c * t), 0.3, Z)
    np.testing.assert_allclose(result.relative.numpy(), 0.0, atol=1e-12)


def test_a_field_that_does_not_generate_the_path_leaves_a_residual():
    # The linear field against the path frozen at t = 0: the residual is g . grad log p + div g, not zero.
    frozen = MultivariateNormal(m0, S0)
    result = continuity_residual(lambda t, z: z @ A.T + b, lambda t, z: frozen.log_prob(z), 0.0, Z)
    expected = ((Z @ A.T + b) * -torch.linalg.solve(S0, (Z - m0).T).T).sum(1) + torch.trace(A)
    np.testing.assert_allclose(result.relative.numpy(), expected.numpy(), atol=1e-12)
    assert result.relative.abs().max() > 0.5


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=re.escape("z: expected points of shape (n, d), got shape (3,).")):
        continuity_residual(lambda t, z: z, lambda t, z: z.sum(-1), 0.0, torch.zeros(3, dtype=DT))
    with pytest.raises(ValueError, match="A, b, mean0, covariance0: expected shapes"):
        linear_gaussian_path(A, b[:1], m0, S0, [0.0])
