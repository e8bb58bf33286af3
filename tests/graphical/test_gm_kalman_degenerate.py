"""Issue 18, item 3 for the Kalman EM: no observed value means no count for C and R (they keep their values,
never NaN), an all-missing series is refused, NaN parameters are refused by name."""

import re

import numpy as np
import pytest

from pgm_ppl.graphical import LinearGaussianSSM, kalman_em, rts_smoother
from pgm_ppl.graphical.kalman import _m_step


def _model() -> LinearGaussianSSM:
    return LinearGaussianSSM(0.9, 1.0, 0.5, 2.0, 0.0, 1.0)


def test_all_missing_series_is_refused_with_a_message():
    x = np.full(20, np.nan)
    with pytest.raises(ValueError, match=re.escape("x: expected at least one observed value, got all 20 entries "
                                                   "missing (NaN)")):
        kalman_em(_model(), x)


def test_m_step_with_nothing_observed_keeps_c_and_r():
    model = _model()
    x = np.full((20, 1), np.nan)
    new = _m_step(model, x, rts_smoother(model, x), {"A", "C", "Q", "R", "mu0", "P0"})
    assert new.R[0, 0] == 2.0 and new.C[0, 0] == 1.0  # were R = NaN (0/0) and a singular solve for C
    assert all(np.isfinite(getattr(new, name)).all() for name in ("A", "C", "Q", "R", "mu0", "P0"))


def test_em_with_a_few_observed_values_stays_finite():
    x = np.full(30, np.nan)
    x[[3, 17]] = [1.0, -0.5]
    res = kalman_em(_model(), x, learn=("Q", "R"), max_iter=50, tol=1e-10)
    assert np.isfinite(res.model.R).all() and res.model.R[0, 0] > 0
    assert np.all(np.diff(res.log_likelihood) >= -1e-9 * np.abs(res.log_likelihood[1:]))
    assert res.stop_reason in ("tol", "max_iter") and res.log_likelihood.shape == (res.num_iterations + 1,)


@pytest.mark.parametrize("name", ["A", "C", "Q", "R", "mu0", "P0"])
def test_nan_parameters_are_refused_by_name(name):
    args = dict(A=0.9, C=1.0, Q=0.5, R=2.0, mu0=0.0, P0=1.0)
    args[name] = np.nan
    with pytest.raises(ValueError, match=f"^{name}: expected finite values, got nan"):
        LinearGaussianSSM(**args)
