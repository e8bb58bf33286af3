"""Issue 17: the graphical EMs (Baum-Welch, Kalman EM, Bayesian-network EM) run on the one EM loop,
:func:`pgm_ppl.core.em.run_em`: one stopping rule, a trace with the starting and the fitted model's
log-likelihood, and a result that says which rule stopped it. Issue 18, item 3: a CPT row with zero expected
count keeps its value in the Bayesian-network EM."""

import warnings

import numpy as np
import pytest

from pgm_ppl.core import ConvergenceWarning
from pgm_ppl.graphical import (BayesianNetwork, CategoricalHMM, LinearGaussianSSM, baum_welch,
                               expectation_maximization, kalman_em, kalman_filter)


def _hmm(seed):
    rng = np.random.default_rng(seed)
    return CategoricalHMM(rng.dirichlet(np.ones(2)), rng.dirichlet(np.ones(2), 2), rng.dirichlet(np.ones(3), 2))


def _network(b_given_a):
    return BayesianNetwork({"a": (), "b": ("a",)}, {"a": np.array([0.6, 0.4]), "b": np.asarray(b_given_a)})


def _runs():
    _, x = _hmm(0).sample(20, 30, seed=1)
    hmm = baum_welch(_hmm(5), x, max_iter=300, tol=1e-9)
    yield "baum_welch", hmm, hmm.model.log_likelihood(x).sum(), 1e-9
    ssm = LinearGaussianSSM(0.8, 1.0, 0.5, 1.0, 0.0, 1.0)
    _, y = ssm.sample(80, seed=2)
    kal = kalman_em(LinearGaussianSSM(0.5, 1.0, 1.0, 2.0, 0.0, 1.0), y, learn=("A", "Q", "R"), max_iter=2000,
                    tol=1e-10)
    yield "kalman_em", kal, kalman_filter(kal.model, y).log_likelihood, 1e-10
    data = {"a": np.array([0, 1, -1, 0, 1, 0, -1, 1]), "b": np.array([0, 1, 1, -1, 0, 0, 1, 1])}
    bn = expectation_maximization(_network([[0.5, 0.5], [0.3, 0.7]]), data, max_iter=500, tol=1e-10)
    yield "bayesnet_em", bn, None, 1e-10


@pytest.mark.parametrize("run", list(_runs()), ids=lambda r: r[0])
def test_trace_holds_start_and_fitted_model_and_the_stop_reason(run):
    _, res, fitted, tol = run
    assert res.converged and res.stop_reason == "tol"
    assert res.log_likelihood.shape == (res.num_iterations + 1,)
    if fitted is not None:
        assert abs(res.log_likelihood[-1] - fitted) < 1e-9 * abs(fitted)
    # the one stopping rule (relative): the change that stopped it (before the final E-step) is below tol times
    # the previous value, the change before it was not
    ll = res.log_likelihood
    change = np.abs(np.diff(ll))
    assert change[-2] < tol * abs(ll[-3])
    assert res.num_iterations < 3 or change[-3] >= tol * abs(ll[-4])


def test_every_graphical_em_warns_with_its_name_at_the_cap():
    _, x = _hmm(0).sample(5, 10, seed=1)
    with pytest.warns(ConvergenceWarning, match="^baum_welch did not converge in 2 iterations"):
        res = baum_welch(_hmm(5), x, max_iter=2)
    assert not res.converged and res.stop_reason == "max_iter" and res.num_iterations == 2


def test_bayes_net_em_keeps_a_cpt_row_whose_parent_state_is_never_seen():
    # a is always observed 0 (and b partly missing): the row p(b | a = 1) has zero expected count and must stay
    # (0.3, 0.7), neither 0/0 nor reset to uniform
    data = {"a": np.zeros(6, dtype=int), "b": np.array([0, 1, 1, -1, 0, -1])}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        res = expectation_maximization(_network([[0.5, 0.5], [0.3, 0.7]]), data, max_iter=50, tol=1e-12)
    np.testing.assert_allclose(res.network.cpts["b"][1], [0.3, 0.7], rtol=0, atol=0)
    np.testing.assert_allclose(res.network.cpts["b"][0], [0.5, 0.5], atol=1e-9)  # 2 of the 4 observed b are 0
    np.testing.assert_allclose(res.network.cpts["a"], [1.0, 0.0])
