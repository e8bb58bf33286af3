"""run_em's one stopping rule (:func:`pgm_ppl.core.has_converged`): the result says which rule was checked
and what stopped the loop; the warning carries the engine's name (the graphical EMs run on this loop)."""

import numpy as np
import pytest

from pgm_ppl.core import ConvergenceWarning
from pgm_ppl.em import EStep, run_em


def _halving(target=-10.0):
    """A fake EM whose log-likelihood approaches ``target`` by halving the gap each step: l_t = target - 2^-t."""
    return (lambda t: EStep(None, target - 0.5 ** t)), (lambda q, t: t + 1)


def test_relative_rule_stops_at_the_first_small_change_and_says_so():
    e_step, m_step = _halving()
    res = run_em(0, e_step, m_step, tol=1e-3, max_iter=100)
    # |l_t - l_{t-1}| = 2^-t < 1e-3 |l_{t-1}| ~ 1e-2 first at t = 7, checked after the 8th M-step; then the
    # final E-step adds l_8
    ll = res.log_likelihood_trace
    assert res.converged and res.stop_reason == "tol" and res.rule == "relative"
    assert abs(ll[-2] - ll[-3]) < 1e-3 * abs(ll[-3]) and abs(ll[-3] - ll[-4]) >= 1e-3 * abs(ll[-4])
    assert res.num_iterations == 8 and ll.shape == (9,)


def test_absolute_rule_is_per_observation_and_reported():
    e_step, m_step = _halving()
    res = run_em(0, e_step, m_step, tol=1e-3, relative=False, num_observations=4, max_iter=100)
    ll = res.log_likelihood_trace
    assert res.stop_reason == "tol" and res.rule == "absolute"
    assert abs(ll[-2] - ll[-3]) / 4 < 1e-3 <= abs(ll[-3] - ll[-4]) / 4


def test_cap_is_reported_and_the_warning_names_the_engine():
    e_step, m_step = _halving()
    with pytest.warns(ConvergenceWarning, match="^kalman_em did not converge in 3 iterations"):
        res = run_em(0, e_step, m_step, tol=1e-12, max_iter=3, name="kalman_em")
    assert not res.converged and res.stop_reason == "max_iter" and res.num_iterations == 3
    np.testing.assert_allclose(res.log_likelihood_trace, -10.0 - 0.5 ** np.arange(4))
