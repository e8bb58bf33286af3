"""Kalman filter and RTS smoother against the dense Gaussian conditional; EM monotone; Nile."""

import re

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.stats import multivariate_normal

from pgm_ppl.graphical import LinearGaussianSSM, kalman_em, kalman_filter, rts_smoother


def _model():
    return LinearGaussianSSM(np.array([[0.9, 0.2], [-0.1, 0.8]]), np.array([[1.0, 0.5], [0.3, -1.0]]),
                             np.array([[0.4, 0.1], [0.1, 0.3]]), np.diag([0.5, 0.2]), np.array([1.0, -1.0]),
                             np.eye(2))


def _dense_posterior(model, x):
    """Stack z_{1:T} and x_{1:T} into one Gaussian and condition with dense linear algebra."""
    t_len, m = len(x), model.A.shape[0]
    mean_z = np.zeros((t_len, m))
    marg = [model.P0]
    mean_z[0] = model.mu0
    for t in range(1, t_len):
        mean_z[t] = model.A @ mean_z[t - 1]
        marg.append(model.A @ marg[-1] @ model.A.T + model.Q)
    cov_z = np.zeros((t_len * m, t_len * m))
    for t in range(t_len):
        for s in range(t, t_len):
            block = np.linalg.matrix_power(model.A, s - t) @ marg[t]
            cov_z[s * m:(s + 1) * m, t * m:(t + 1) * m] = block
            cov_z[t * m:(t + 1) * m, s * m:(s + 1) * m] = block.T
    c = np.kron(np.eye(t_len), model.C)
    seen = ~np.isnan(x).ravel()
    cov_x = (c @ cov_z @ c.T + np.kron(np.eye(t_len), model.R))[np.ix_(seen, seen)]
    cov_zx = (cov_z @ c.T)[:, seen]
    mean_x = (c @ mean_z.ravel())[seen]
    xo = x.ravel()[seen]
    post_mean = mean_z.ravel() + cov_zx @ np.linalg.solve(cov_x, xo - mean_x)
    post_cov = cov_z - cov_zx @ np.linalg.solve(cov_x, cov_zx.T)
    return post_mean.reshape(t_len, m), post_cov, multivariate_normal(mean_x, cov_x).logpdf(xo)


def _knock_out(x, missing):
    """No missing entries, two whole rows, or whole rows and single entries (including at t = 1 and T)."""
    x = x.copy()
    if missing in ("rows", "entries"):
        x[[2, 5]] = np.nan
    if missing == "entries":
        x[0, 1] = x[3, 0] = x[6, 1] = np.nan
    return x


@pytest.mark.parametrize("missing", ["none", "rows", "entries"])
def test_smoother_equals_dense_gaussian_conditional(missing):
    model = _model()
    _, x = model.sample(7, seed=1)
    x = _knock_out(x, missing)
    mean, cov, log_lik = _dense_posterior(model, x)
    s = rts_smoother(model, x)
    m = 2
    np.testing.assert_allclose(s.means, mean, atol=1e-8)
    for t in range(7):
        np.testing.assert_allclose(s.covariances[t], cov[t * m:(t + 1) * m, t * m:(t + 1) * m], atol=1e-8)
    for t in range(6):
        np.testing.assert_allclose(s.lag_covariances[t], cov[(t + 1) * m:(t + 2) * m, t * m:(t + 1) * m], atol=1e-8)
    assert abs(s.log_likelihood - log_lik) < 1e-8


def test_filter_last_step_equals_smoother_last_step():
    model = _model()
    _, x = model.sample(10, seed=2)
    f, s = kalman_filter(model, x), rts_smoother(model, x)
    np.testing.assert_allclose(f.means[-1], s.means[-1])
    assert f.log_likelihood == s.log_likelihood


def test_em_log_likelihood_never_decreases_and_approaches_truth():
    truth = _model()
    _, x = truth.sample(300, seed=3)
    start = LinearGaussianSSM(0.5 * np.eye(2), np.array([[1.0, 0.0], [0.0, 1.0]]), np.eye(2), np.eye(2),
                              np.zeros(2), np.eye(2))
    res = kalman_em(start, x, max_iter=60)
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    assert res.log_likelihood[-1] > kalman_filter(truth, x).log_likelihood - 5.0


def test_partly_missing_entries_condition_on_the_observed_marginal():
    # with a correlated R the observed entries' noise is the block R_oo of a joint Gaussian (not the rows of a
    # diagonal R); the dense reference conditions on exactly the observed entries
    model = _model()
    model = LinearGaussianSSM(model.A, model.C, model.Q, np.array([[0.5, 0.25], [0.25, 0.2]]), model.mu0, model.P0)
    _, x = model.sample(7, seed=4)
    x = _knock_out(x, "entries")
    mean, cov, log_lik = _dense_posterior(model, x)
    s = rts_smoother(model, x)
    np.testing.assert_allclose(s.means, mean, atol=1e-8)
    np.testing.assert_allclose(s.covariances[3], cov[6:8, 6:8], atol=1e-8)
    assert abs(s.log_likelihood - log_lik) < 1e-8


def _c_r_log_likelihood(model, x, theta):
    """Log-likelihood as a function of C (2x2) and the Cholesky factor of R (lower triangle)."""
    lower = np.array([[theta[4], 0.0], [theta[5], theta[6]]])
    candidate = LinearGaussianSSM(model.A, theta[:4].reshape(2, 2), model.Q, lower @ lower.T, model.mu0, model.P0)
    return kalman_filter(candidate, x).log_likelihood


def _c_r_mle(model, x):
    """Maximise the log-likelihood over C and the Cholesky factor of R by BFGS, starting from ``model``."""
    chol = np.linalg.cholesky(model.R)
    theta0 = np.concatenate([model.C.ravel(), [chol[0, 0], chol[1, 0], chol[1, 1]]])
    opt = minimize(lambda th: -_c_r_log_likelihood(model, x, th), theta0, method="BFGS", options={"gtol": 1e-9})
    lower = np.array([[opt.x[4], 0.0], [opt.x[5], opt.x[6]]])
    return LinearGaussianSSM(model.A, opt.x[:4].reshape(2, 2), model.Q, lower @ lower.T, model.mu0, model.P0)


def test_em_with_partly_missing_entries_is_monotone_and_fixes_the_maximum_likelihood_estimate():
    truth = _model()
    truth = LinearGaussianSSM(truth.A, truth.C, truth.Q, np.array([[0.5, 0.2], [0.2, 0.3]]), truth.mu0, truth.P0)
    _, x = truth.sample(100, seed=5)
    x[np.random.default_rng(6).random(x.shape) < 0.25] = np.nan  # a quarter of the entries, 3 whole rows
    assert (np.isnan(x).any(1) & ~np.isnan(x).all(1)).sum() == 43
    start = LinearGaussianSSM(truth.A, truth.C + 0.3, truth.Q, np.eye(2), truth.mu0, truth.P0)
    res = kalman_em(start, x, learn=("C", "R"), max_iter=40)
    assert np.all(np.diff(res.log_likelihood) >= -1e-10 * np.abs(res.log_likelihood[1:]))
    # reference: the MLE of (C, R) by BFGS on the Kalman likelihood. An exact EM map has the MLE as a fixed
    # point; an E-step that mishandled the missing entries (e.g. imputing C_u mu without the R_uo R_oo^{-1}
    # correction) moves it by 6e-3. 1e-5 sits between that and the reference's own error (BFGS stops at a gradient
    # of 1e-9, an error of ~1e-9 / curvature in each parameter; one EM step moves less than that).
    mle = _c_r_mle(truth, x)
    step = kalman_em(mle, x, learn=("C", "R"), max_iter=1).model
    np.testing.assert_allclose(step.C, mle.C, atol=1e-5)
    np.testing.assert_allclose(step.R, mle.R, atol=1e-5)


def test_nile_local_level_em_matches_the_published_mle():
    sm = pytest.importorskip("statsmodels.datasets.nile")
    y = sm.load_pandas().data["volume"].to_numpy()
    start = LinearGaussianSSM(1.0, 1.0, 1000.0, 10000.0, y[0], 1e7)
    res = kalman_em(start, y, learn=("Q", "R"), max_iter=2000, tol=1e-12)
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    # Durbin & Koopman (2012), Sect. 2.10: sigma_eta^2 = 1469.1, sigma_eps^2 = 15099 (diffuse initial state),
    # printed to 5 digits (+-3.4e-5, 3.3e-5 relative). Our proper prior P0 = 1e7 moves the exact MLE by 3e-6 and
    # -2.8e-5 (Nelder-Mead on the Kalman likelihood), and EM stops where the likelihood is flat in Q: its fit is
    # 1e-8 nats below the maximum, Q 1.25e-4 and R 8.6e-6 from the published values (was: 2% and 1%).
    assert abs(res.model.Q[0, 0] / 1469.1 - 1) < 5e-4
    assert abs(res.model.R[0, 0] / 15099 - 1) < 1e-4


def test_validation():
    with pytest.raises(ValueError, match="Q: expected a positive-definite matrix"):
        LinearGaussianSSM(1, 1, -1.0, 1.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="shape"):
        kalman_filter(_model(), np.zeros((5, 3)))
    x = np.zeros((5, 2))
    x[3, 1] = np.inf
    with pytest.raises(ValueError, match=re.escape("x has infinite entries at (row, column) [[3, 1]]")):
        kalman_filter(_model(), x)
    with pytest.raises(ValueError, match="learn"):
        kalman_em(_model(), np.zeros((5, 2)), learn=("B",))
