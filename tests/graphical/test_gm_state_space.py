"""Nonlinear state-space simulator and bootstrap particle filter (checked against the Kalman filter)."""

import numpy as np
import pytest

from pgm_ppl.graphical import LinearGaussianSSM, NonlinearSSM, bootstrap_particle_filter, course_ssm, kalman_filter


def test_simulator_is_seeded_and_follows_the_recursion():
    model = course_ssm()
    z, x = model.simulate(400, seed=0)
    z2, x2 = model.simulate(400, seed=0)
    np.testing.assert_array_equal(z, z2)
    np.testing.assert_array_equal(x, x2)
    eps = z[1:] - model.transition(z[:-1])
    eta = x - model.observation(z)
    # the residuals are the Gaussian noises: check their scales to 4 standard errors of a sample s.d.
    assert abs(eps.std() - 0.25) < 4 * 0.25 / np.sqrt(2 * 399)
    assert abs(eta.std() - 0.45) < 4 * 0.45 / np.sqrt(2 * 400)


def test_particle_filter_matches_kalman_on_a_linear_gaussian_model():
    nonlinear = NonlinearSSM(lambda z: 0.8 * z, lambda z: z, process_scale=0.5, observation_scale=0.7)
    linear = LinearGaussianSSM(0.8, 1.0, 0.25, 0.49, 0.0, 1.0)
    _, x = nonlinear.simulate(60, seed=1)
    kf = kalman_filter(linear, x)
    runs = [bootstrap_particle_filter(nonlinear, x, 2000, seed=s) for s in range(8)]
    log_z = np.array([r.log_evidence for r in runs])
    # the log-evidence estimate is consistent; its spread across seeds sets the tolerance
    assert abs(log_z.mean() - kf.log_likelihood) < 4 * log_z.std(ddof=1) / np.sqrt(len(runs)) + 0.05
    means = np.array([r.means for r in runs])
    se = means.std(0, ddof=1) / np.sqrt(len(runs))
    assert np.mean(np.abs(means.mean(0) - kf.means[:, 0]) < 4 * se + 0.01) > 0.95


def _grid_filter(model, x, grid):
    """Point-mass (quadrature) filter on a fine grid: an accurate reference for a scalar state."""
    dz = grid[1] - grid[0]
    normal = lambda u, s: np.exp(-0.5 * (u / s) ** 2) / (s * np.sqrt(2 * np.pi))  # noqa: E731
    kernel = normal(grid[:, None] - model.transition(grid)[None, :], model.process_scale) * dz
    density = normal(grid - model.initial_mean, model.initial_scale)
    means, log_z = [], 0.0
    for t, xt in enumerate(x):
        if t:
            density = kernel @ density
        density = density * normal(xt - model.observation(grid), model.observation_scale)
        mass = density.sum() * dz
        log_z += np.log(mass)
        density /= mass
        means.append((grid * density).sum() * dz)
    return np.array(means), log_z


def test_particle_filter_matches_a_grid_filter_on_the_course_model():
    model = course_ssm()
    _, x = model.simulate(100, seed=3)
    ref_means, ref_log_z = _grid_filter(model, x, np.linspace(-8, 8, 1601))
    runs = [bootstrap_particle_filter(model, x, 2000, seed=s) for s in range(6)]
    log_z = np.array([r.log_evidence for r in runs])
    assert abs(log_z.mean() - ref_log_z) < 4 * log_z.std(ddof=1) / np.sqrt(len(runs)) + 0.05
    means = np.array([r.means for r in runs])
    se = means.std(0, ddof=1) / np.sqrt(len(runs))
    assert np.mean(np.abs(means.mean(0) - ref_means) < 4 * se + 0.02) > 0.95


def test_validation():
    with pytest.raises(ValueError, match="observation_scale"):
        NonlinearSSM(np.sin, np.cos, 1.0, 0.0)
    with pytest.raises(ValueError, match="num_particles"):
        bootstrap_particle_filter(course_ssm(), np.zeros(3), 1)
