"""Issue 18, items 3 and 4 for the classical HMM: unreachable states keep their parameters (no 0/0), NaN
parameters are refused by name, an observation of probability zero is an error naming its time step."""

import re
import warnings

import numpy as np
import pytest

from pgm_ppl.backend import hidden_markov
from pgm_ppl.graphical import CategoricalHMM, GaussianHMM, baum_welch, forward_backward


def _left_to_right() -> GaussianHMM:
    return GaussianHMM(np.array([1.0, 0.0, 0.0]), np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]),
                       np.array([[0.0], [5.0], [10.0]]), np.array([[1.0], [1.0], [2.0]]))


def test_unreachable_state_keeps_its_mean_and_variance():
    # five sequences of length 2 that start in state 0: state 2 is two moves away, so it is never visited and
    # its expected count is exactly zero; its mean and variance must stay (10, 2), not become 0/0 = NaN
    model = _left_to_right()
    x = np.array([[0.1, 4.9], [-0.3, 5.2], [0.2, 0.1], [0.0, 5.1], [-0.1, 4.8]])[..., None]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "invalid value encountered in divide" either
        res = baum_welch(model, x, max_iter=20, tol=1e-10)
    fitted = res.model
    assert np.isfinite(fitted.means).all() and np.isfinite(fitted.variances).all()
    assert fitted.means[2, 0] == 10.0 and fitted.variances[2, 0] == 2.0
    np.testing.assert_array_equal(fitted.transition[2], [0.0, 0.0, 1.0])  # its row had no count either
    assert np.isfinite(res.log_likelihood).all() and res.log_likelihood[-1] >= res.log_likelihood[0]
    np.testing.assert_allclose(fitted.initial, [1.0, 0.0, 0.0])


def test_m_step_of_a_state_with_zero_posterior_weight_is_the_identity_on_it():
    model = _left_to_right()
    x = np.zeros((3, 2, 1))
    new = model.m_step(x, model.forward_backward(x))
    assert new.means[2, 0] == 10.0 and new.variances[2, 0] == 2.0


@pytest.mark.parametrize(("field", "value"), [("means", np.array([[0.0], [np.nan], [1.0]])),
                                               ("variances", np.array([[1.0], [1.0], [np.nan]])),
                                               ("initial", np.array([np.nan, 0.5, 0.5])),
                                               ("transition", np.full((3, 3), np.nan))])
def test_gaussian_hmm_refuses_nan_parameters_by_name(field, value):
    m = _left_to_right()
    args = {"initial": m.initial, "transition": m.transition, "means": m.means, "variances": m.variances}
    args[field] = value
    with pytest.raises(ValueError, match=f"^{field}: expected finite values, got nan"):
        GaussianHMM(**args)


def test_categorical_hmm_refuses_nan_emission():
    with pytest.raises(ValueError, match=re.escape("emission: expected finite values, got nan at index (1, 0)")):
        CategoricalHMM(np.ones(2) / 2, np.eye(2), np.array([[0.5, 0.5], [np.nan, 0.5]]))


def _impossible_symbol_hmm() -> CategoricalHMM:
    return CategoricalHMM(np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]]),
                          np.array([[0.7, 0.3, 0.0], [0.4, 0.6, 0.0]]))


def test_observation_of_probability_zero_is_an_error_naming_the_time_step():
    hmm = _impossible_symbol_hmm()
    x = np.array([[0, 1, 2, 0, 1]])
    assert hmm.log_likelihood(x)[0] == -np.inf  # the value itself: log p = -inf
    with pytest.raises(ValueError, match="sequence 0, time step 2: the observation is impossible"):
        hmm.forward_backward(x)
    # Baum-Welch names the same step instead of failing later about `initial`
    with pytest.raises(ValueError, match="time step 2"):
        baum_welch(hmm, x, max_iter=5)


def test_the_first_impossible_sequence_and_step_are_named():
    hmm = _impossible_symbol_hmm()
    x = np.array([[0, 1, 0, 0, 1], [0, 0, 0, 1, 2], [0, 2, 0, 0, 0]])
    np.testing.assert_array_equal(np.isinf(hmm.log_likelihood(x)), [False, True, True])
    with pytest.raises(ValueError, match="sequence 2, time step 1"):
        hmm.forward_backward(x)


def test_forbidden_transitions_make_a_step_impossible():
    # state 0 emits only symbol 0, state 1 only symbol 1, and 1 -> 0 is forbidden: (1, 0) dies at step 1
    log_emission = np.log(np.array([[[1.0, 1e-300], [1e-300, 1.0]]]))[0][np.array([[1, 0]])]
    with np.errstate(divide="ignore"):
        log_a = np.log(np.array([[0.5, 0.5], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="time step 1"):
        forward_backward(np.log([0.5, 0.5]), log_a, np.where(log_emission < -600, -np.inf, log_emission))


def test_nan_log_emission_is_refused():
    with pytest.raises(ValueError, match="log_emission: expected log-probabilities"):
        forward_backward(np.log([0.5, 0.5]), np.log(np.full((2, 2), 0.5)), np.full((1, 3, 2), np.nan))


def test_forward_backward_leaves_its_input_unchanged():
    # one sequence: the time-major copy of (1, T, K) used to be a view of the caller's array
    rng = np.random.default_rng(0)
    log_emission = rng.normal(size=(1, 50, 3))
    before = log_emission.copy()
    fb = forward_backward(np.log(np.ones(3) / 3), np.log(np.full((3, 3), 1 / 3)), log_emission)
    np.testing.assert_array_equal(log_emission, before)
    # uniform transitions: the states are independent given x, gamma_t is the normalised emission
    np.testing.assert_allclose(fb.posterior[0], np.exp(before[0] - np.logaddexp.reduce(before[0], 1)[:, None]),
                               atol=1e-12)


def test_one_sampler_draws_the_hidden_paths():
    hmm = _left_to_right()
    z, _ = hmm.sample(500, 4, seed=0)
    assert (z[:, 0] == 0).all() and (np.diff(z, axis=1) >= 0).all() and (np.diff(z, axis=1) <= 1).all()
    # the same uniforms give the same paths through the backend sampler
    u = np.random.default_rng(0).random((500, 4))
    with np.errstate(divide="ignore"):
        direct = hidden_markov.sample_states(hidden_markov.numpy_ops, u, np.log(hmm.initial), np.log(hmm.transition))
    np.testing.assert_array_equal(z, direct)
