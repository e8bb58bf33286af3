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
    res = run_em(0, e_step, m_step, tol=1e-3, tol_rule="absolute", num_observations=4, max_iter=100)
    ll = res.log_likelihood_trace
    assert res.stop_reason == "tol" and res.rule == "absolute"
    assert abs(ll[-2] - ll[-3]) / 4 < 1e-3 <= abs(ll[-3] - ll[-4]) / 4


def test_cap_is_reported_and_the_warning_names_the_engine():
    e_step, m_step = _halving()
    with pytest.warns(ConvergenceWarning, match="^kalman_em did not converge in 3 iterations"):
        res = run_em(0, e_step, m_step, tol=1e-12, max_iter=3, name="kalman_em")
    assert not res.converged and res.stop_reason == "max_iter" and res.num_iterations == 3
    np.testing.assert_allclose(res.log_likelihood_trace, -10.0 - 0.5 ** np.arange(4))


def test_every_tolerance_offers_both_rules_and_reports_the_one_checked():
    """fit_factor_analysis takes scikit-learn's absolute rule too (issue 17): a copied ``tol=1e-2`` is an absolute
    threshold on the total log-likelihood there, not a relative one that would stop after two iterations."""
    from pgm_ppl.cavi import fit_mixture_means
    from pgm_ppl.em import fit_factor_analysis
    from pgm_ppl.graphical import ising_grid, mean_field

    X = np.random.default_rng(0).normal(size=(200, 4)) @ np.diag([3.0, 1.0, 1.0, 0.5])
    loose = fit_factor_analysis(X, 1, tol=1e-2, max_iter=500)
    absolute = fit_factor_analysis(X, 1, tol=1e-2, tol_rule="absolute", max_iter=500)
    assert (loose.rule, absolute.rule) == ("relative", "absolute")
    assert absolute.stop_reason == "tol" and absolute.num_iterations > loose.num_iterations
    assert abs(np.diff(absolute.log_likelihood_trace)[-1]) < 1e-2
    assert mean_field(ising_grid(3, 3, coupling=0.2, field=0.1), tol_rule="relative").rule == "relative"
    assert fit_mixture_means(np.array([-2.0, -1.9, 2.0, 2.1]), [-1.0, 1.0], tol_rule="relative").stop_reason == "tol"
    with pytest.raises(ValueError, match="tol_rule"):
        fit_factor_analysis(X, 1, tol_rule="percent")


def test_a_tolerance_below_the_objectives_rounding_still_fires():
    # an absolute 1e-10 on an objective of 1e7 (float64 spacing 1.9e-9): a stationary objective that moves by one
    # ulp must count as converged, or the engine runs to max_iter (mean field, CAVI regression); tol = 0 keeps
    # meaning "run every iteration"
    from pgm_ppl.core import has_converged

    f = 1.0e7
    one_ulp = np.nextafter(f, np.inf)
    assert has_converged(f, one_ulp, 1e-10, "absolute") and has_converged(f, one_ulp, 1e-20, "relative")
    assert not has_converged(f, one_ulp, 0.0, "absolute") and not has_converged(f, one_ulp, 0.0, "relative")
    assert not has_converged(f, f + 1e-3, 1e-10, "absolute")  # a real change is not rounding
    # arrays in float32: the rounding is float32's
    prev = np.array([1.0e3, 2.0], dtype=np.float32)
    assert has_converged(prev, np.nextafter(prev, np.float32(np.inf)), 1e-12, "absolute")
    assert not has_converged(prev.astype(np.float64), prev.astype(np.float64) + 1e-8, 1e-12, "absolute")
    assert not has_converged(-np.inf, -3.0, 1e-10, "absolute")  # the first step from -inf is not rounding
