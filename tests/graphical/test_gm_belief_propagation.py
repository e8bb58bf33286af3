"""Belief propagation: exact on trees (against the junction tree), a convergence report on loopy graphs."""

import os
import warnings

import numpy as np
import pytest

from pgm_ppl.graphical import BayesianNetwork, JunctionTree, belief_propagation, ising_grid, read_bif

with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import pgmpy

EXAMPLES = os.path.join(os.path.dirname(pgmpy.__file__), "utils", "example_models")


def _exact(graph, evidence=None, kind="sum"):
    return JunctionTree(graph).calibrate(evidence, kind=kind)


@pytest.mark.parametrize("name,evidence", [("earthquake", {"MaryCalls": "True"}),
                                           ("cancer", {"Dyspnoea": "True", "Xray": "positive"})])
def test_sum_product_on_polytree_networks_is_exact(name, evidence):
    bn = read_bif(os.path.join(EXAMPLES, f"{name}.bif.gz"))
    graph = bn.to_factor_graph()
    exact = _exact(graph, evidence)
    res = belief_propagation(graph, evidence=evidence)
    assert res.converged
    for v, b in res.marginals.items():
        np.testing.assert_allclose(b, exact.marginal(v), atol=1e-10)
    assert abs(res.log_value - exact.log_value) < 1e-10  # Bethe log Z is exact on trees: log p(e)


def test_tree_ising_chain_sum_and_max_product_exact():
    mrf = ising_grid(1, 9, coupling=0.8, field=np.linspace(-0.5, 0.5, 9))
    graph = mrf.to_factor_graph()
    res = belief_propagation(graph)
    exact = _exact(graph)
    assert res.converged and res.num_iterations <= 12
    for v in mrf.names:
        np.testing.assert_allclose(res.marginals[v], exact.marginal(v), atol=1e-12)
    assert abs(res.log_value - exact.log_value) < 1e-10
    best = belief_propagation(graph, kind="max")
    exact_max = _exact(graph, kind="max")
    assert best.assignment == exact_max.map_assignment()
    assert abs(best.log_value - exact_max.log_value) < 1e-10


def test_damping_keeps_the_tree_fixed_point():
    mrf = ising_grid(2, 1, coupling=1.2, field=0.3)
    graph = mrf.to_factor_graph()
    exact = _exact(graph)
    res = belief_propagation(graph, damping=0.7, max_iter=500, tol=1e-13)
    assert res.converged
    for v in mrf.names:
        np.testing.assert_allclose(res.marginals[v], exact.marginal(v), atol=1e-10)


def test_loopy_grid_weak_coupling_is_accurate_and_reports_convergence():
    mrf = ising_grid(4, 4, coupling=0.1, field=0.2)
    graph = mrf.to_factor_graph()
    exact = _exact(graph)
    res = belief_propagation(graph, max_iter=200, tol=1e-9)
    assert res.converged
    assert res.residuals[-1] < 1e-9 and len(res.residuals) == res.num_iterations
    err = max(abs(res.marginals[v] - exact.marginal(v)).max() for v in mrf.names)
    # BP's error is the loop-series correction (Chertkov & Chernyak 2006): each loop C contributes at most about
    # tanh(J)^|C|, and the shortest loops of a grid are its nine plaquettes, tanh(0.1)^4 = 9.9e-5 each (longer
    # loops: tanh(0.1)^6 = 1e-6). Deterministic; measured: marginals 9.9e-5, log Z 6.9e-4.
    t4 = np.tanh(0.1) ** 4
    assert err < 2 * t4
    assert abs(res.log_value - exact.log_value) < 9 * t4


def test_loopy_on_asia_is_approximate_but_close():
    bn = read_bif(os.path.join(EXAMPLES, "asia.bif.gz"))
    graph = bn.to_factor_graph()
    exact = _exact(graph, {"xray": "yes"})
    res = belief_propagation(graph, evidence={"xray": "yes"})
    err = max(abs(res.marginals[v] - exact.marginal(v)).max() for v in res.marginals)
    # asia has a loop (smoke-lung-either-dysp-bronc), so BP is not exact; deterministic, measured 0.0135
    assert 1e-6 < err < 0.02


def test_non_converged_run_is_reported():
    mrf = ising_grid(3, 3, coupling=2.0, field=0.1)
    res = belief_propagation(mrf.to_factor_graph(), max_iter=3, tol=1e-15)
    assert not res.converged and res.num_iterations == 3


def test_bad_arguments():
    bn = BayesianNetwork({"a": ()}, {"a": [0.3, 0.7]})
    with pytest.raises(ValueError, match="damping"):
        belief_propagation(bn.to_factor_graph(), damping=1.0)
    with pytest.raises(ValueError, match="kind"):
        belief_propagation(bn.to_factor_graph(), kind="mean")
