"""Property: the CAVI Bayesian Gaussian mixture on degenerate data (issue 18)."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pgm_ppl.cavi import fit_bayesian_gmm, fit_lda
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


@SETTINGS
@given(data=data_matrices(max_rows=6, max_cols=5, integer_values=True), num_topics=st.integers(1, 3),
       absolute_values=st.booleans(), tol_rule=st.sampled_from(["absolute", "relative"]))
def test_fit_lda_topics_are_distributions_or_names_the_argument(data, num_topics, absolute_values, tol_rule):
    """LDA on degenerate count matrices (issue 18): empty documents, unused words, duplicated documents, one document,
    counts scaled by 1e+-8, float32, NaN/inf, negative counts. Every fit gives topics and document proportions that
    are distributions and a finite bound that never falls, or a ValueError naming ``counts``."""
    kind, counts = data
    counts = np.abs(counts) if absolute_values else counts
    result = call_or_named_error(fit_lda, ("counts", "num_topics"), counts, num_topics, max_iter=15, tol_rule=tol_rule,
                                 local_max_iter=30)
    if result is None:
        assert has_nonfinite(counts) or (np.asarray(counts) < 0).any()
        return
    assert not has_nonfinite(counts) and (np.asarray(counts) >= 0).all()
    assert_probability_vector("topics", result.topics)
    theta = result.gamma / result.gamma.sum(1, keepdims=True)
    assert_probability_vector("document proportions", theta)
    assert (result.lam > 0).all() and (result.gamma > 0).all()
    assert_finite("elbo", result.elbo)
    assert (np.diff(result.elbo) >= -1e-6 * np.abs(result.elbo[:-1]).clip(1.0)).all(), result.elbo
    assert_converged_flag(result)
