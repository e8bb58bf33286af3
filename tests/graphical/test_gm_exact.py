"""Exact inference (variable elimination, junction tree) against pgmpy and brute-force enumeration."""

import functools
import itertools
import os
import warnings

import numpy as np
import pytest

from pgm_ppl.graphical import (BayesianNetwork, Factor, FactorGraph, JunctionTree, elimination_order, ising_grid,
                               log_partition, read_bif, variable_elimination)

pgmpy = pytest.importorskip("pgmpy")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    from pgmpy.inference import VariableElimination
    from pgmpy.utils import get_example_model

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

EXAMPLES = os.path.join(os.path.dirname(pgmpy.__file__), "utils", "example_models")
EVIDENCE = {
    "asia": {"xray": "yes", "smoke": "no"},
    "sachs": {"Erk": "HIGH", "PKC": "LOW"},
    "alarm": {"HISTORY": "TRUE", "CVP": "HIGH", "HRBP": "LOW"},
}


@functools.cache
def load(name):
    """Our network from the BIF file pgmpy ships, and pgmpy's own model with rows renormalised the same way."""
    ours = read_bif(os.path.join(EXAMPLES, f"{name}.bif.gz"))
    theirs = get_example_model(name)
    for cpd in theirs.get_cpds():
        cpd.normalize()
    return ours, theirs


@pytest.fixture(scope="module", params=sorted(EVIDENCE))
def network(request):
    return (request.param, *load(request.param))


def test_bif_reader_matches_pgmpy_cpts(network):
    name, ours, theirs = network
    for cpd in theirs.get_cpds():
        v = cpd.variable
        assert set(ours.parents[v]) == set(cpd.variables[1:])
        # pgmpy stores (child, parents...) with its own state order; bring both to ours
        table = np.moveaxis(cpd.values, 0, -1)
        table = np.transpose(table, [cpd.variables[1:].index(p) for p in ours.parents[v]] + [len(ours.parents[v])])
        for axis, u in enumerate(ours.parents[v] + (v,)):
            order = [cpd.state_names[u].index(s) for s in ours.state_names[u]]
            table = np.take(table, order, axis=axis)
        np.testing.assert_allclose(ours.cpts[v], table, atol=1e-12)


def test_junction_tree_marginals_equal_pgmpy(network):
    name, ours, theirs = network
    evidence = EVIDENCE[name]
    cal = JunctionTree(ours.to_factor_graph()).calibrate(evidence)
    ve = VariableElimination(theirs)
    for v in ours.variables:
        if v in evidence:
            continue
        q = ve.query([v], evidence=evidence, show_progress=False)
        ref = q.values[[q.state_names[v].index(s) for s in ours.state_names[v]]]
        np.testing.assert_allclose(cal.marginal(v), ref, atol=1e-8)


def test_log_evidence_equals_pgmpy_joint_of_evidence(network):
    name, ours, theirs = network
    evidence = EVIDENCE[name]
    q = VariableElimination(theirs).query(list(evidence), joint=True, show_progress=False)
    index = tuple(q.state_names[v].index(evidence[v]) for v in q.variables)
    expected = np.log(q.values[index])
    graph = ours.to_factor_graph()
    assert abs(JunctionTree(graph).calibrate(evidence).log_value - expected) < 1e-8
    assert abs(log_partition(graph, evidence=evidence) - expected) < 1e-8


@pytest.mark.parametrize("heuristic", ["min_fill", "min_degree"])
def test_variable_elimination_equals_junction_tree_on_alarm(heuristic):
    ours, _ = load("alarm")
    graph = ours.to_factor_graph()
    evidence = EVIDENCE["alarm"]
    cal = JunctionTree(graph, heuristic=heuristic).calibrate(evidence)
    for v in ["LVFAILURE", "HYPOVOLEMIA", "INTUBATION", "KINKEDTUBE"]:
        res = variable_elimination(graph, [v], evidence=evidence, heuristic=heuristic)
        np.testing.assert_allclose(res.marginal.values, cal.marginal(v), atol=1e-12)
        assert abs(res.log_partition - cal.log_value) < 1e-10
    pair = variable_elimination(graph, ["LVFAILURE", "HYPOVOLEMIA"], evidence=evidence)
    np.testing.assert_allclose(pair.marginal.values.sum(1), cal.marginal("LVFAILURE"), atol=1e-12)


def _brute_force_map(bn, evidence):
    graph = bn.to_factor_graph()
    index = graph.state_index(evidence)
    cards = graph.cardinalities
    grids = [[index[v]] if v in index else range(cards[v]) for v in graph.variables]
    states = np.array(list(itertools.product(*grids)))
    lp = graph.log_potential(states)
    return dict(zip(graph.variables, states[lp.argmax()].tolist())), lp.max()


@pytest.mark.parametrize("name", ["asia", "sachs"])
def test_map_equals_brute_force(name):
    ours, _ = load(name)
    cal = JunctionTree(ours.to_factor_graph()).calibrate(EVIDENCE[name], kind="max")
    best, value = _brute_force_map(ours, EVIDENCE[name])
    assert cal.map_assignment() == best
    assert abs(cal.log_value - value) < 1e-10


@pytest.mark.parametrize("name", ["asia", "sachs"])
def test_map_without_evidence_equals_pgmpy(name):
    ours, theirs = load(name)
    ref = VariableElimination(theirs).map_query(show_progress=False)
    ours_map = JunctionTree(ours.to_factor_graph()).calibrate(kind="max").map_assignment()
    assert {v: ours.state_names[v][s] for v, s in ours_map.items()} == ref


def test_mrf_partition_function_by_enumeration():
    rng = np.random.default_rng(0)
    factors = (Factor(("a", "b"), rng.normal(size=(2, 3))), Factor(("b", "c"), rng.normal(size=(3, 2))),
               Factor(("c", "a"), rng.normal(size=(2, 2))), Factor(("c",), rng.normal(size=2)))
    graph = FactorGraph(factors)
    states = np.array(list(itertools.product(range(2), range(3), range(2))))  # variables: a, b, c
    logp = graph.log_potential(states)
    log_z = np.log(np.exp(logp).sum())
    assert abs(JunctionTree(graph).calibrate().log_value - log_z) < 1e-12
    assert abs(log_partition(graph) - log_z) < 1e-12
    p_b = np.array([np.exp(logp[states[:, 1] == k] - log_z).sum() for k in range(3)])
    np.testing.assert_allclose(variable_elimination(graph, ["b"]).marginal.values, p_b, atol=1e-12)


def test_elimination_orders_on_a_chain_add_no_fill():
    scopes = [("a", "b"), ("b", "c"), ("c", "d")]
    for heuristic in ("min_fill", "min_degree"):
        order = elimination_order(scopes, heuristic=heuristic)
        assert sorted(order) == ["a", "b", "c", "d"]
        assert order[0] in ("a", "d")


def test_ancestral_sampling_frequencies_match_marginals():
    bn, _ = load("asia")
    samples = bn.sample(20_000, seed=3)
    cal = JunctionTree(bn.to_factor_graph()).calibrate()
    for j, v in enumerate(bn.variables):
        p = cal.marginal(v)
        freq = np.bincount(samples[:, j], minlength=2) / len(samples)
        se = np.sqrt(p * (1 - p) / len(samples))
        assert np.all(np.abs(freq - p) <= 5 * se + 1e-12), v


def test_errors_name_the_culprit():
    with pytest.raises(ValueError, match="shape"):
        BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.5, 0.5], "b": [0.1, 0.9]})
    with pytest.raises(ValueError, match="cycle"):
        BayesianNetwork({"a": ("b",), "b": ("a",)}, {"a": [[0.5, 0.5]] * 2, "b": [[0.5, 0.5]] * 2})
    bn = BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.5, 0.5], "b": [[1.0, 0.0], [0.5, 0.5]]},
                         {"a": ("lo", "hi"), "b": ("no", "yes")})
    graph = bn.to_factor_graph()
    with pytest.raises(ValueError, match="valid states"):
        JunctionTree(graph).calibrate({"a": "medium"})
    with pytest.raises(ValueError, match="unknown variable"):
        variable_elimination(graph, ["a"], evidence={"z": 0})
    with pytest.raises(ValueError, match="probability zero"):
        JunctionTree(graph).calibrate({"a": "lo", "b": "yes"})
    with pytest.raises(ValueError, match="heuristic"):
        elimination_order([("a", "b")], heuristic="min_width")


def test_junction_tree_posterior_samples_match_marginals_and_pairs():
    bn, _ = load("asia")
    evidence = {"xray": "yes", "dysp": "no"}
    tree = JunctionTree(bn.to_factor_graph())
    cal = tree.calibrate(evidence)
    x = cal.sample(20_000, seed=1)
    column = {v: j for j, v in enumerate(tree.graph.variables)}
    assert np.all(x[:, column["xray"]] == 0) and np.all(x[:, column["dysp"]] == 1)
    for v in ("lung", "bronc", "either"):
        p = cal.marginal(v)
        freq = np.bincount(x[:, column[v]], minlength=2) / len(x)
        assert np.all(np.abs(freq - p) <= 5 * np.sqrt(p * (1 - p) / len(x)) + 1e-12), v
    pair = cal.clique_marginal(("either", "lung"))
    joint = np.zeros((2, 2))
    np.add.at(joint, (x[:, column["either"]], x[:, column["lung"]]), 1.0 / len(x))
    assert np.all(np.abs(joint - pair) <= 5 * np.sqrt(pair * (1 - pair) / len(x)) + 1e-12)
    np.testing.assert_array_equal(x, cal.sample(20_000, seed=1))


def test_junction_tree_marginals_by_state_name():
    """Issue 17: with named states (a BIF file) the marginals come back keyed by state name; without, by index."""
    bn, _ = load("asia")
    cal = JunctionTree(bn.to_factor_graph()).calibrate({"xray": "yes", "dysp": "yes"})
    named = cal.named_marginal("lung")
    assert list(named) == list(bn.state_names["lung"])
    np.testing.assert_allclose(list(named.values()), cal.marginal("lung"), atol=1e-15)
    assert set(cal.named_marginals()) == set(bn.variables) and cal.named_marginals()["xray"]["yes"] == 1.0
    grid = ising_grid(2, 2, coupling=0.5, field=0.1).to_factor_graph()  # states without names: keyed by index
    assert list(JunctionTree(grid).calibrate().named_marginal(grid.variables[0])) == [0, 1]


def test_cpt_rows_are_checked_at_the_input_precision():
    """Issue 18 item 7: CPT rows were accepted when within an absolute 1e-6 of 1, whatever their dtype. Now the
    tolerance is sqrt(eps) of the table's dtype (1.5e-8 for float64 and Python floats, 3.5e-4 for float32), as for
    the HMM's rows, and accepted rows are divided by their sums."""
    with pytest.raises(ValueError, match=r"cpts\['a'\]: expected rows that are probability vectors .* off by 1e-07"):
        BayesianNetwork({"a": ()}, {"a": [0.3333333] * 3})
    with pytest.raises(ValueError, match=r"cpts\['a'\]: expected finite probabilities"):
        BayesianNetwork({"a": ()}, {"a": [np.nan, 1.0]})
    with pytest.raises(ValueError, match=r"cpts\['b'\]: .* got negative entries \(parent states \(0,\)\)"):
        BayesianNetwork({"a": (), "b": ("a",)}, {"a": [0.5, 0.5], "b": [[1.5, -0.5], [0.5, 0.5]]})
    third = np.array([1 / 3, 2 / 3], np.float32)   # sums to 1 + 3e-8 in float64: float32 rounding, accepted
    bn = BayesianNetwork({"a": ()}, {"a": third})
    assert bn.cpts["a"].dtype == np.float64 and abs(bn.cpts["a"].sum() - 1.0) <= 2.3e-16


def test_bif_rows_rounded_to_their_printed_digits_are_renormalised(tmp_path):
    """alarm.bif prints 0.3333333 three times (sum 1 - 1e-7): a row may miss 1 by half a unit in the last printed
    digit of each entry (here 3 x 5e-8), no more; the row is then divided by its sum."""
    text = ("network x { }\nvariable a { type discrete [ 3 ] { p, q, r }; }\n"
            "variable b { type discrete [ 2 ] { no, yes }; }\n"
            "probability ( a ) { table 0.3333333, 0.3333333, 0.3333333; }\n"
            "probability ( b | a ) { (p) 0.25, 0.75; (q) 0.5, 0.5; (r) %s; }\n")
    good = tmp_path / "good.bif"
    good.write_text(text % "0.1, 0.9")
    bn = read_bif(good)
    np.testing.assert_allclose(bn.cpts["a"], [1 / 3] * 3, rtol=2.3e-16)
    bad = tmp_path / "bad.bif"
    bad.write_text(text % "0.1002, 0.9000")   # off by 2e-4; the printed digits allow 2 x 5e-5
    with pytest.raises(ValueError, match=r"bad.bif: CPT of 'b': expected rows .* within 0.0001\b.*off by 0.0002 \(parent states \(2,\)\)"):
        read_bif(bad)
