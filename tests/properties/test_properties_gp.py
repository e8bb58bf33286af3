"""Property: the exact GP's log marginal likelihood and posterior on degenerate inputs (issue 18)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.gp import log_marginal_likelihood, posterior, squared_exponential
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
    pred = call_or_named_error(posterior, names, kernel, x, y, noise_variance, x)
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
