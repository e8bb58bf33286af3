"""Property: the exact GP's log marginal likelihood and posterior, GP training (``gp.train``) and SVGP
(``train_svgp``) on degenerate inputs (issue 18)."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.gp import log_marginal_likelihood, posterior, squared_exponential, train, train_svgp
from property_strategies import SETTINGS, assert_finite, call_or_named_error, data_matrices, has_nonfinite


@SETTINGS
@given(data=data_matrices(max_rows=6, max_cols=2), noise_variance=st.sampled_from([1e-16, 1e-6, 1.0]),
       lengthscale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_exact_gp_is_valid_or_names_the_argument(data, noise_variance, lengthscale):
    kind, X = data
    x, y = X[:, :-1] if X.shape[1] > 1 else np.arange(len(X), dtype=X.dtype), X[:, -1]
    kernel = squared_exponential(lengthscale=lengthscale)
    names = ("x", "y", "noise")
    lml = call_or_named_error(log_marginal_likelihood, names, kernel, x, y, noise_variance)
    gp = call_or_named_error(posterior, names, kernel, x, y, noise_variance)
    pred = None if gp is None else gp.predict(x, full_cov=True)
    if lml is None or pred is None:
        assert has_nonfinite(X) or noise_variance < 1e-10, "a finite problem with noise 1e-6 was refused"
        return
    assert np.isfinite(lml)
    assert_finite("posterior mean", pred.mean)
    assert (pred.std >= 0).all() and np.isfinite(pred.std).all()
    cov = pred.covariance
    assert_finite("posterior covariance", cov)
    # a posterior covariance is PSD up to rounding at the prior's scale (variance 1)
    assert np.linalg.eigvalsh(0.5 * (cov + cov.T)).min() >= -1e-6


def _inputs_and_targets(X):
    """The last column is y; the others are x (a single column gives x = 0, 1, ..., the row index)."""
    return (X[:, :-1] if X.shape[1] > 1 else np.arange(len(X), dtype=X.dtype)), X[:, -1]


def _assert_valid_predictive(pred, n):
    assert pred.mean.shape == pred.std.shape == (n,)
    assert_finite("predictive mean", pred.mean)
    assert_finite("predictive std", pred.std)
    assert (pred.std >= 0).all() and (pred.lower <= pred.upper).all()


@SETTINGS
@given(data=data_matrices(max_rows=6, max_cols=2), optimizer=st.sampled_from(["lbfgs", "adam"]))
def test_gp_training_is_valid_or_names_the_argument(data, optimizer):
    """Type-II maximum likelihood on degenerate data (constant y, duplicated x, n in {1, 2}, float32, columns
    scaled by 1e+-8): hyper-parameters and a log marginal likelihood that are finite, a positive noise
    variance, and a finite predictive at the training inputs, or a ValueError naming the argument."""
    kind, X = data
    x, y = _inputs_and_targets(X)
    result = call_or_named_error(train, ("x", "y", "noise"), squared_exponential(), x, y, optimizer=optimizer,
                                 max_iter=15, num_restarts=1, seed=0)
    if result is None:
        assert has_nonfinite(X), f"{kind}: a finite problem was refused"
        return
    assert np.isfinite(result.log_marginal_likelihood) and result.noise_variance > 0
    assert_finite("losses", result.losses)
    _assert_valid_predictive(result.predict(x, include_noise=True), len(y))


@SETTINGS
@given(data=data_matrices(max_rows=6, max_cols=2), dtype=st.sampled_from([torch.float32, torch.float64]))
def test_svgp_training_is_valid_or_names_the_argument(data, dtype):
    """SVGP on the same degenerate data (inducing points at duplicated inputs included): a finite ELBO trace
    and predictive, or a ValueError naming the argument."""
    kind, X = data
    x, y = _inputs_and_targets(X)
    result = call_or_named_error(train_svgp, ("x", "y", "num_inducing"), squared_exponential(), x, y,
                                 num_inducing=min(3, len(y)), batch_size=4, num_epochs=3.0, learning_rate=0.05,
                                 seed=0, dtype=dtype)
    if result is None:
        assert has_nonfinite(X), f"{kind}: a finite problem was refused"
        return
    assert_finite("losses", result.losses)
    _assert_valid_predictive(result.predict(x, include_noise=True), len(y))


def test_lbfgs_on_constant_targets_returns_the_best_point_with_a_warning():
    """Constant y: the evidence (4.22) grows without bound as the noise variance goes to 0 (a long-lengthscale
    SE kernel interpolates y exactly), so L-BFGS walks to where K + noise * I stops being positive definite.
    Found by the property above: every restart then failed with an error naming no argument. Now the best
    point reached comes back, with a ConvergenceWarning saying why."""
    x, y = np.arange(5.0), np.full(5, 7.0)
    with pytest.warns(ConvergenceWarning, match="stopped being positive definite"):
        result = train(squared_exponential(), x, y, max_iter=30)
    start = log_marginal_likelihood(squared_exponential(), x, y, 0.1)
    assert np.isfinite(result.log_marginal_likelihood) and result.log_marginal_likelihood > start
    assert result.log_marginal_likelihood == pytest.approx(-result.losses.min(), rel=1e-12)  # the best point
    np.testing.assert_allclose(result.predict(x).mean, y, rtol=1e-6)  # interpolates the constant


def test_noise_variances_far_from_one_are_accepted_or_named():
    """Found by this suite's extreme scales: gp.train's softplus inverse log(expm1(v)) overflowed for v > 709
    (a raw OverflowError), and train_svgp's GPyTorch noise floor of 1e-4 raised a raw RuntimeError for targets on
    a 1e-8 scale; a negative SVGP noise variance was not checked at all."""
    x = np.linspace(0.0, 10.0, 30)
    result = train(squared_exponential(1.0, 1e16), x, 1e8 * np.sin(x), noise_variance=1e15, max_iter=5)
    assert np.isfinite(result.log_marginal_likelihood) and result.noise_variance > 0
    with pytest.raises(ValueError, match="noise_variance"):
        train_svgp(squared_exponential(), x, np.sin(x), noise_variance=-1.0, num_inducing=5)
    tiny = train_svgp(squared_exponential(), x, 1e-8 * np.sin(x), noise_variance=1e-18, num_inducing=5,
                      batch_size=30, num_epochs=2.0, dtype=torch.float64)
    assert 0 < float(tiny.likelihood.noise) < 1e-4  # below GPyTorch's old absolute floor
