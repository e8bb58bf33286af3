"""Every iterative engine warns with :class:`pgm_ppl.core.ConvergenceWarning` when it stops at its cap.

Each case runs an engine on a tiny input with an iteration cap of one or two and a tolerance no run can meet,
and checks the category, the engine's name in the message, and that the warning points at this file (the
user's line), not at pgm_ppl's internals.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from pgm_ppl.core import ConvergenceWarning

RNG = np.random.default_rng(0)
X2 = np.concatenate([RNG.normal(-2.0, 1.0, (20, 2)), RNG.normal(2.0, 1.0, (20, 2))])


def _fit_gmm():
    from pgm_ppl.em import fit_gmm
    return fit_gmm(X2, 2, max_iter=1, tol=1e-300)


def _factor_analysis():
    from pgm_ppl.em import fit_factor_analysis
    return fit_factor_analysis(RNG.normal(size=(30, 3)), 1, max_iter=2, tol=1e-300)


def _kmeans():
    from pgm_ppl.em import kmeans
    return kmeans(X2, 3, max_iter=1, seed=0)


def _baum_welch():
    from pgm_ppl.graphical import CategoricalHMM, baum_welch
    model = CategoricalHMM(np.array([0.6, 0.4]), np.array([[0.7, 0.3], [0.2, 0.8]]),
                           np.array([[0.9, 0.1], [0.3, 0.7]]))
    x, _ = model.sample(3, 10, seed=0)
    return baum_welch(model, x, max_iter=2, tol=1e-300)


def _kalman_em():
    from pgm_ppl.graphical import LinearGaussianSSM, kalman_em
    model = LinearGaussianSSM(np.array([[0.9]]), np.array([[1.0]]), np.array([[0.1]]), np.array([[0.5]]),
                              np.zeros(1), np.eye(1))
    _, x = model.sample(20, seed=0)
    return kalman_em(model, x, max_iter=2, tol=1e-300)


def _bayesnet_em():
    from pgm_ppl.graphical import BayesianNetwork, expectation_maximization
    network = BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.5, 0.5], "b": [[0.6, 0.4], [0.3, 0.7]]})
    data = {"a": np.array([0, 1, -1, 1, 0, -1]), "b": np.array([0, 1, 1, 0, 1, 1])}
    return expectation_maximization(network, data, max_iter=2, tol=1e-300)


def _belief_propagation():
    from pgm_ppl.graphical import belief_propagation, ising_grid
    return belief_propagation(ising_grid(3, 3, coupling=2.0, field=0.1).to_factor_graph(), max_iter=1,
                              tol=1e-15)


def _mean_field():
    from pgm_ppl.graphical import ising_grid, mean_field
    return mean_field(ising_grid(3, 3, coupling=1.0, field=0.1), max_iter=1, tol=-1.0)


def _gp_train():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.exact import train
    x = np.linspace(0.0, 1.0, 8)
    return train(K.squared_exponential(), x, np.sin(6 * x), max_iter=1)


def _laplace_gpc():
    from pgm_ppl.gp import kernels as K
    from pgm_ppl.gp.classification import laplace_classification
    x = np.linspace(-1.0, 1.0, 10)
    return laplace_classification(K.squared_exponential(), x, (x > 0).astype(int), max_iter=1)


def _benamou_brenier():
    from pgm_ppl.ot import benamou_brenier
    grid = np.linspace(0.0, 1.0, 8)
    a, b = np.exp(-((grid - 0.3) ** 2) / 0.01), np.exp(-((grid - 0.7) ** 2) / 0.01)
    return benamou_brenier(a / a.sum(), b / b.sum(), num_time_steps=4, max_iter=1, tol=1e-12)


def _sinkhorn():
    from pgm_ppl.ot import sinkhorn
    a, b = np.array([0.7, 0.1, 0.1, 0.1]), np.full(4, 0.25)
    C = (np.arange(4.0)[:, None] - np.arange(4.0)[None, :]) ** 2
    return sinkhorn(a, b, C, 0.5, max_iter=1)


ENGINES = {"EM": _fit_gmm, "EM (factor analysis)": _factor_analysis, "kmeans": _kmeans,
           "baum_welch": _baum_welch, "kalman_em": _kalman_em, "expectation_maximization": _bayesnet_em,
           "belief_propagation": _belief_propagation, "mean_field": _mean_field,
           "GP training (L-BFGS)": _gp_train, "laplace_classification": _laplace_gpc,
           "benamou_brenier": _benamou_brenier, "sinkhorn": _sinkhorn}


@pytest.mark.parametrize("name", list(ENGINES))
def test_engine_warns_when_it_stops_at_its_cap(name):
    with pytest.warns(ConvergenceWarning) as record:
        result = ENGINES[name]()
    messages = [str(w.message) for w in record if issubclass(w.category, ConvergenceWarning)]
    assert any(name.split(" (")[0] in m for m in messages), messages
    assert any(w.filename == __file__ for w in record if issubclass(w.category, ConvergenceWarning)), \
        [w.filename for w in record]
    converged = getattr(result, "converged", None)
    assert converged in (None, False)


def test_converged_runs_are_silent():
    from pgm_ppl.em import fit_gmm, kmeans
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        assert fit_gmm(X2, 2, max_iter=500).converged
        assert kmeans(X2, 2).converged


def test_a_fixed_em_budget_is_silent():
    """``tol=0`` asks EM for exactly ``max_iter`` iterations: nothing to warn about."""
    from pgm_ppl.em import fit_gmm
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        fit_gmm(X2, 2, max_iter=2, tol=0.0)


def test_ot_warning_is_a_convergence_warning():
    from pgm_ppl.ot import OTConvergenceWarning
    assert issubclass(OTConvergenceWarning, ConvergenceWarning)
