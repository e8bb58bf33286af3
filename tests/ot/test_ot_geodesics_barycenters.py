"""Geodesics and barycenters against the notes' exercises (5.6, 5.8, 5.9), closed forms and POT."""

import re

import numpy as np
import ot
import pytest

from pgm_ppl.ot import (
    barycenter_1d,
    convolutional_barycenter,
    cost_matrix,
    displacement_interpolation_1d,
    entropic_barycenter,
    exact_ot,
    free_support_barycenter,
    gaussian_barycenter,
    gaussian_geodesic,
    gaussian_w2_sq,
    mccann_interpolation,
    mixture_interpolation,
    wasserstein_distance_empirical,
)

GRID = np.linspace(0.0, 1.0, 401)
H = GRID[1] - GRID[0]


def _gauss(mean, sd):
    w = np.exp(-((GRID - mean) ** 2) / (2 * sd**2))
    return w / w.sum()


def _moments(h):
    m = h @ GRID
    return m, np.sqrt(h @ (GRID - m) ** 2)


@pytest.mark.parametrize("t", [0.2, 0.5, 0.8])
def test_displacement_interpolation_of_gaussians(t):
    """Exercise 5.6: mu_t = N((1-t) m0 + t m1, ((1-t) s0 + t s1)^2); mixtures keep two modes instead."""
    a, b = _gauss(0.25, 0.03), _gauss(0.7, 0.06)
    mean, sd = _moments(displacement_interpolation_1d(GRID, a, b, t))
    m0, s0 = _moments(a)
    m1, s1 = _moments(b)
    # writing atoms back on the grid moves the mean by 0 and inflates the variance by at most h^2 / 4
    assert abs(mean - ((1 - t) * m0 + t * m1)) < 1e-9
    assert abs(sd - ((1 - t) * s0 + t * s1)) < H**2 / (4 * sd)
    mix = mixture_interpolation(a, b, t)
    np.testing.assert_allclose(mix, (1 - t) * a + t * b)
    assert _moments(mix)[1] > 0.15  # the vertical interpolation spreads mass over both modes


def test_gaussian_geodesic_has_constant_speed():
    S0 = np.array([[1.0, 0.6], [0.6, 2.0]])
    S1 = np.array([[0.5, -0.3], [-0.3, 1.0]])
    m0, m1 = np.zeros(2), np.array([2.0, 1.0])
    full = float(gaussian_w2_sq(m0, S0, m1, S1))
    for t in (0.25, 0.5, 0.9):
        mt, St = gaussian_geodesic(m0, S0, m1, S1, t)
        assert abs(float(gaussian_w2_sq(m0, S0, mt, St)) - t**2 * full) < 1e-9
        assert abs(float(gaussian_w2_sq(mt, St, m1, S1)) - (1 - t) ** 2 * full) < 1e-9
    s_half = gaussian_geodesic([0.0], [[1.0]], [1.0], [[9.0]], 0.5)[1]
    np.testing.assert_allclose(s_half, [[4.0]], atol=1e-10)  # sigma_t = (1 - t) 1 + t 3


def test_mccann_interpolation_is_a_geodesic():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(25, 2)), rng.normal(size=(25, 2)) + 3
    plan = exact_ot(ot.unif(25), ot.unif(25), cost_matrix(x, y)).plan
    w_full = float(wasserstein_distance_empirical(x, y))
    mid = mccann_interpolation(x, y, plan, 0.3)
    assert abs(mid.weights.sum() - 1) < 1e-12
    w_part = float(wasserstein_distance_empirical(x, mid.points, b=mid.weights))
    assert abs(w_part - 0.3 * w_full) < 1e-9


def test_barycenter_1d_exercises():
    """Exercise 5.8: bar(U[0,1], U[2,3]) = U[2 - 2 lam, 3 - 2 lam]; Exercise 5.9: bar(delta_0, delta_1) = delta_1/2."""
    grid = np.linspace(0.0, 3.0, 3001)
    u1 = ((grid >= 0) & (grid <= 1)).astype(float)
    u2 = ((grid >= 2) & (grid <= 3)).astype(float)
    lam = 0.3
    bary = barycenter_1d(grid, np.stack([u1 / u1.sum(), u2 / u2.sum()]), [lam, 1 - lam])
    support = grid[bary > 1e-12]
    h = grid[1] - grid[0]
    assert abs(support.min() - (2 - 2 * lam)) <= h and abs(support.max() - (3 - 2 * lam)) <= h
    assert abs(bary @ grid - (2.5 - 2 * lam)) < 1e-9
    grid2 = np.linspace(0.0, 1.0, 11)
    d0, d1 = np.eye(11)[0], np.eye(11)[-1]
    np.testing.assert_allclose(barycenter_1d(grid2, np.stack([d0, d1])), np.eye(11)[5], atol=1e-12)
    np.testing.assert_allclose(mixture_interpolation(d0, d1, 0.5), 0.5 * (d0 + d1))


def test_entropic_barycenter_equals_pot_and_locates_the_mean():
    g = np.linspace(0, 1, 80)
    A = np.stack([np.exp(-((g - c) ** 2) / (2 * 0.05**2)) for c in (0.25, 0.75)])
    A /= A.sum(1, keepdims=True)
    C = ot.dist(g[:, None], g[:, None])
    ours = entropic_barycenter(A, C, 2e-3)
    ref = ot.bregman.barycenter(A.T, C, 2e-3, weights=np.array([0.5, 0.5]), method="sinkhorn_log",
                               numItermax=10000, stopThr=1e-9)
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    assert abs(ours @ g - 0.5) < 1e-3  # symmetric problem: mean at the midpoint, not two bumps
    assert ours[np.argmin(np.abs(g - 0.5))] > 10 * ours[np.argmin(np.abs(g - 0.25))]


def test_free_support_barycenter_of_translates():
    """The W2 barycenter of translates of one cloud is that cloud translated by the mean shift."""
    rng = np.random.default_rng(1)
    base = rng.normal(size=(12, 2))
    shifts = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    lam = np.array([0.5, 0.25, 0.25])
    bary = free_support_barycenter([base + s for s in shifts], num_atoms=12, lambdas=lam, seed=0)
    target = base + lam @ shifts
    objective = lambda X: sum(l * float(wasserstein_distance_empirical(X, base + s)) ** 2  # noqa: E731
                              for l, s in zip(lam, shifts))
    np.testing.assert_allclose(bary.points.mean(0), target.mean(0), atol=1e-9)
    assert objective(bary.points) <= objective(target) + 1e-6


def test_gaussian_barycenter_commuting_closed_form():
    means = np.array([[0.0, 0.0], [2.0, 4.0]])
    covs = np.stack([np.diag([1.0, 4.0]), np.diag([9.0, 1.0])])
    m, S = gaussian_barycenter(means, covs, [0.25, 0.75])
    np.testing.assert_allclose(m, [1.5, 3.0], atol=1e-12)
    # commuting covariances: the barycenter's standard deviations average: 0.25 * 1 + 0.75 * 3, 0.25 * 2 + 0.75 * 1
    np.testing.assert_allclose(S, np.diag([2.5**2, 1.25**2]), atol=1e-5)


def test_convolutional_barycenter_moves_mass():
    im = np.zeros((2, 32, 32))
    im[0, 4:10, 4:10] = 1.0
    im[1, 20:26, 20:26] = 1.0
    bary = convolutional_barycenter(im, 2e-3)
    rows = np.arange(32)
    centre = bary.sum(1) @ rows
    assert abs(bary.sum() - 1) < 1e-6
    assert abs(centre - 14.5) < 0.5  # the square sits halfway (Euclidean averaging would keep two squares)
    assert bary[14, 14] > 20 * bary[6, 6]


def test_barycenter_validation():
    with pytest.raises(ValueError, match=re.escape("'lambdas' must be 2 non-negative weights summing to 1")):
        barycenter_1d(GRID, np.stack([_gauss(0.2, 0.1), _gauss(0.5, 0.1)]), [0.5, 0.6])
    with pytest.raises(ValueError, match="histograms must have 401 bins"):
        displacement_interpolation_1d(GRID, np.ones(10) / 10, np.ones(10) / 10, 0.5)
    with pytest.raises(ValueError, match=re.escape("'t' must be a number in [0, 1]; got 1.5")):
        mixture_interpolation(np.ones(2), np.ones(2), 1.5)
