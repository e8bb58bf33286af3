"""Property: the CAVI Bayesian Gaussian mixture on degenerate data (issue 18)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.cavi import fit_bayesian_gmm
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


@SETTINGS
@given(data=data_matrices(), num_components=st.integers(1, 4), tol_rule=st.sampled_from(["absolute", "relative"]),
       reg_covar=st.sampled_from([0.0, 1e-6]))
def test_fit_bayesian_gmm_is_valid_or_names_the_argument(data, num_components, tol_rule, reg_covar):
    kind, X = data
    result = call_or_named_error(fit_bayesian_gmm, ("X", "num_components"), X, num_components, max_iter=30,
                                 tol_rule=tol_rule, reg_covar=reg_covar)
    if result is None:
        assert has_nonfinite(X) or len(X) < 2 or num_components > len(X)
        return
    assert not has_nonfinite(X)
    assert_probability_vector("weights", result.weights)
    assert_probability_vector("responsibilities", result.resp)
    assert_finite("means", result.state.m)
    assert_positive_definite("covariances", result.covariances)
    assert_finite("elbo", result.elbo)
    # CAVI never decreases the bound (up to rounding relative to its size), with or without reg_covar: the default
    # prior carries the ridge of its nu0 pseudo-observations, so where the data do not vary (all-constant data, a
    # constant column, a column scaled by 1e-8) the ridge shifts every component equally. Before, the bound fell there
    # (X = [[0], [0]], K = 2: -9.43 then -12.08) and the fit stopped on it as converged (issue 18).
    assert (np.diff(result.elbo) >= -1e-6 * np.abs(result.elbo[:-1]).clip(1.0)).all(), result.elbo
    assert_converged_flag(result)
