"""Issue 18, kind 6: every GP factorisation goes through the guarded Cholesky with one message style."""

import numpy as np
import pytest

from pgm_ppl.gp import log_marginal_likelihood, posterior, squared_exponential

X = np.array([0.0, 0.0, 0.5, 1.0, 1.0, 2.0])
Y = np.sin(X)


def test_posterior_raises_the_same_helpful_error_as_the_evidence():
    kernel = squared_exponential()
    message = r"K \+ noise \* I: expected a positive-definite matrix.*increase the noise variance"
    with pytest.raises(ValueError, match=message):
        log_marginal_likelihood(kernel, X, Y, 1e-16)
    with pytest.raises(ValueError, match=message):
        posterior(kernel, X, Y, 1e-16)


def test_posterior_with_a_usable_noise_is_finite():
    pred = posterior(squared_exponential(), X, Y, 1e-6).predict(np.array([0.25, 1.5]))
    assert np.all(np.isfinite(pred.mean)) and np.all(pred.std >= 0)
