"""Issue 18, item 4 for the factor-graph engines: evidence of probability zero raises "evidence has probability
zero" in belief propagation (tree and loopy, sum and max) as in variable elimination and the junction tree, and
no variable whose every state is impossible comes back with the "marginal" (1, 1)."""

import numpy as np
import pytest

from pgm_ppl.graphical import Factor, FactorGraph, JunctionTree, belief_propagation, variable_elimination


def _or_network() -> FactorGraph:
    """tub, lung -> either = OR(tub, lung) (deterministic) -> xray."""
    either = np.zeros((2, 2, 2))
    for t in range(2):
        for lu in range(2):
            either[t, lu, int(t or lu)] = 1.0
    return FactorGraph((Factor.from_values(("tub",), [0.99, 0.01]), Factor.from_values(("lung",), [0.945, 0.055]),
                        Factor.from_values(("tub", "lung", "either"), either),
                        Factor.from_values(("either", "xray"), [[0.95, 0.05], [0.02, 0.98]])))


IMPOSSIBLE = {"either": 1, "tub": 0, "lung": 0}


@pytest.mark.parametrize("kind", ["sum", "max"])
def test_belief_propagation_refuses_impossible_evidence_on_a_tree(kind):
    with pytest.raises(ValueError, match="evidence has probability zero"):
        belief_propagation(_or_network(), evidence=IMPOSSIBLE, kind=kind)


def test_exact_engines_agree_that_the_evidence_is_impossible():
    graph = _or_network()
    with pytest.raises(ValueError, match="evidence has probability zero"):
        variable_elimination(graph, ["xray"], evidence=IMPOSSIBLE)
    with pytest.raises(ValueError, match="evidence {.*} has probability zero"):
        JunctionTree(graph).calibrate(IMPOSSIBLE)


def test_possible_evidence_through_the_or_is_still_exact():
    graph = _or_network()
    bp = belief_propagation(graph, evidence={"either": 1, "tub": 0})
    exact = JunctionTree(graph).calibrate({"either": 1, "tub": 0})
    np.testing.assert_allclose(bp.marginals["lung"], [0.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(bp.marginals["xray"], exact.marginal("xray"), atol=1e-12)
    assert abs(bp.log_value - exact.log_value) < 1e-10


def _equality_chain() -> FactorGraph:
    """a == b == c: evidence a = 0, c = 1 leaves b no possible state (each message alone is fine)."""
    eq = np.eye(2)
    return FactorGraph((Factor.from_values(("a", "b"), eq), Factor.from_values(("b", "c"), eq)))


def test_a_variable_with_every_state_impossible_is_an_error_not_the_marginal_one_one():
    with pytest.raises(ValueError, match="evidence has probability zero.*'b'"):
        belief_propagation(_equality_chain(), evidence={"a": 0, "c": 1})
    with pytest.raises(ValueError, match="evidence has probability zero"):
        variable_elimination(_equality_chain(), ["b"], evidence={"a": 0, "c": 1})


def test_loopy_graph_with_contradictory_evidence_raises():
    # a cycle a == b == c != a cannot be satisfied with a = 0 and c = 0
    eq, neq = np.eye(2), 1.0 - np.eye(2)
    graph = FactorGraph((Factor.from_values(("a", "b"), eq), Factor.from_values(("b", "c"), eq),
                         Factor.from_values(("c", "a"), neq), Factor.from_values(("a",), [0.5, 0.5])))
    with pytest.raises(ValueError, match="evidence has probability zero"):
        belief_propagation(graph, evidence={"a": 0, "c": 0}, damping=0.5)


def test_a_model_with_no_possible_configuration_is_named_as_such():
    # b must equal a, and b = 1 is forbidden outright while a = 1 is forced: no configuration at all
    graph = FactorGraph((Factor.from_values(("a", "b"), np.eye(2)), Factor.from_values(("b",), [1.0, 0.0]),
                         Factor.from_values(("a",), [0.0, 1.0])))
    with pytest.raises(ValueError, match="probability zero to every configuration"):
        belief_propagation(graph)
