"""Property: HMM forward-backward / Baum-Welch, the Kalman filter / smoother / EM, Bayesian-network inference and
learning, and mean field on pairwise MRFs, on degenerate inputs (issue 18)."""

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pgm_ppl.graphical import (BayesianNetwork, CategoricalHMM, GaussianHMM, JunctionTree, LinearGaussianSSM,
                               PairwiseMRF, baum_welch, belief_propagation, expectation_maximization,
                               forward_backward, kalman_em, kalman_filter, maximum_likelihood, mean_field,
                               rts_smoother, variable_elimination)
from property_strategies import (SETTINGS, assert_converged_flag, assert_finite, assert_positive_definite,
                                 assert_probability_vector, call_or_named_error, data_matrices, has_nonfinite)


@st.composite
def probability_rows(draw, rows: int, cols: int):
    """Rows with exact zeros (left-to-right chains, impossible symbols), float64 or float32."""
    counts = np.array(draw(st.lists(st.lists(st.integers(0, 3), min_size=cols, max_size=cols), min_size=rows,
                                    max_size=rows)), dtype=np.float64)
    counts[counts.sum(1) == 0, 0] = 1.0
    p = counts / counts.sum(1, keepdims=True)
    return p.astype(draw(st.sampled_from([np.float64, np.float32])))


@st.composite
def categorical_hmms(draw):
    K, M = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    model = CategoricalHMM(draw(probability_rows(1, K))[0], draw(probability_rows(K, K)),
                           draw(probability_rows(K, M)))
    N, T = draw(st.integers(1, 2)), draw(st.integers(1, 5))
    x = np.array(draw(st.lists(st.integers(0, M - 1), min_size=N * T, max_size=N * T))).reshape(N, T)
    return model, x


_FLOAT32_THIRDS = (CategoricalHMM(np.array([1 / 3, 2 / 3], np.float32), np.array([[1.0, 0.0], [1.0, 0.0]]),
                                   np.array([[1.0], [1.0]])), np.array([[0]]))


@SETTINGS
@given(problem=categorical_hmms())
@example(problem=_FLOAT32_THIRDS)
def test_forward_backward_posteriors_or_names_the_impossible_step(problem):
    model, x = problem
    fb = call_or_named_error(model.forward_backward, ("x: sequence",), x)
    if fb is None:
        assert (model.log_likelihood(x) == -np.inf).any()
        return
    assert_probability_vector("posterior", fb.posterior)
    assert (fb.log_likelihood <= 1e-12).all(), f"discrete log-likelihood above zero: {fb.log_likelihood}"
    assert_finite("log_likelihood", fb.log_likelihood)
    assert (fb.expected_transitions >= 0).all()
    np.testing.assert_allclose(fb.expected_transitions.sum(), x.shape[0] * (x.shape[1] - 1), rtol=1e-9)
    np.testing.assert_allclose(fb.log_likelihood, model.log_likelihood(x), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(problem=categorical_hmms())
@example(problem=_FLOAT32_THIRDS)
def test_baum_welch_categorical_is_valid_or_names_the_impossible_step(problem):
    model, x = problem
    result = call_or_named_error(baum_welch, ("x: sequence",), model, x, max_iter=10)
    if result is None:
        return
    fitted = result.model
    assert_probability_vector("initial", fitted.initial)
    assert_probability_vector("transition", fitted.transition)
    assert_probability_vector("emission", fitted.emission)
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (trace <= 1e-9).all(), trace
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


@SETTINGS
@given(data=data_matrices(max_cols=2), num_states=st.integers(1, 3))
@example(data=("scaled_up", 1e8 + np.array([[0.0], [1.0], [0.0], [1.0]])), num_states=1)
@example(data=("two_rows", np.array([[0.0, 1.5], [2.7405457e-36, 1.5]], np.float32)), num_states=3)   # see below
@example(data=("scaled_up", np.array([[0.0, 0.0], [0.0, 0.0], [1e8, 0.0]], np.float32)), num_states=1)  # see below
def test_baum_welch_gaussian_is_valid_or_names_the_argument(data, num_states):
    kind, X = data
    d = X.shape[1]
    rng = np.random.default_rng(0)
    finite = np.where(np.isfinite(X), X, 0.0).astype(np.float64)
    spread = finite.std(0) + np.abs(finite).mean(0) + 1.0
    model = GaussianHMM(np.full(num_states, 1.0 / num_states), np.full((num_states, num_states), 1.0 / num_states),
                        finite.mean(0) + spread * rng.standard_normal((num_states, d)),
                        np.broadcast_to(spread ** 2, (num_states, d)).copy())
    result = call_or_named_error(baum_welch, ("x",), model, X[None], max_iter=15)
    if result is None:
        assert has_nonfinite(X)
        return
    fitted = result.model
    assert_probability_vector("initial", fitted.initial)
    assert_probability_vector("transition", fitted.transition)
    assert_finite("means", fitted.means)
    assert (fitted.variances > 0).all() and np.isfinite(fitted.variances).all()
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


def _ssm(d: int, scale: float) -> LinearGaussianSSM:
    m = 1
    return LinearGaussianSSM(np.eye(m) * 0.9, np.ones((d, m)) * scale, np.eye(m) * scale ** 2,
                             np.eye(d) * scale ** 2, np.zeros(m), np.eye(m) * scale ** 2)


@SETTINGS
@given(data=data_matrices(max_cols=2), scale=st.sampled_from([1e-4, 1.0, 1e4]))
def test_kalman_filter_and_smoother_are_valid_or_name_x(data, scale):
    kind, X = data
    model = _ssm(X.shape[1], scale)
    s = call_or_named_error(rts_smoother, ("x",), model, X)
    if s is None:
        assert np.isinf(np.asarray(X, np.float64)).any()
        return
    f = kalman_filter(model, X)
    assert_positive_definite("filtered covariances", f.covariances)
    assert_positive_definite("smoothed covariances", s.covariances)
    assert_finite("smoothed means", s.means)
    assert np.isfinite(s.log_likelihood)


@SETTINGS
@given(data=data_matrices(max_cols=2, kinds=("plain", "duplicates", "constant_column", "one_row", "two_rows",
                                             "scaled_up", "scaled_down", "nonfinite", "float32")))
@example(data=("one_row", np.zeros((1, 1), np.float32)))
def test_kalman_em_is_valid_or_names_x(data):
    kind, X = data
    model = _ssm(X.shape[1], 1.0)
    result = call_or_named_error(kalman_em, ("x",), model, X, max_iter=15)
    if result is None:
        assert np.isinf(np.asarray(X, np.float64)).any() or np.isnan(np.asarray(X, np.float64)).all()
        return
    fitted = result.model
    for name in ("Q", "R", "P0"):
        assert_positive_definite(name, getattr(fitted, name))
    assert_finite("A", fitted.A)
    assert_finite("C", fitted.C)
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (np.diff(trace) >= -1e-8 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


def test_float32_probability_rows_are_renormalised():
    """Regression (issue 18): float32 initial [1/3, 2/3] sums to 1 + 3e-8 in float64 and was kept as is, so a sequence
    with one certain symbol had log p = +2.98e-8 > 0. Rows are now checked at the input's precision and
    renormalised: log p = 0 exactly."""
    model = CategoricalHMM(np.array([1 / 3, 2 / 3], np.float32), np.array([[1.0, 0.0], [1.0, 0.0]]),
                           np.array([[1.0], [1.0]]))
    np.testing.assert_array_equal(model.log_likelihood(np.array([[0]])), [0.0])
    assert model.initial.dtype == np.float64 and model.initial.sum() == 1.0
    with pytest.raises(ValueError, match="transition: expected rows that are probability vectors .* off by 0.01"):
        CategoricalHMM(np.array([1.0]), np.array([[1.01]]), np.array([[1.0]]))
    with pytest.raises(ValueError, match="off by 0.001"):   # within float32's 3.5e-4 but not float64's 1.5e-8
        CategoricalHMM(np.array([0.5, 0.501]), np.eye(2), np.eye(2))
    CategoricalHMM(np.array([0.5, 0.5001], np.float32), np.eye(2), np.eye(2))   # float32 rounding: accepted


def test_gaussian_hmm_variances_far_from_the_origin_and_at_small_scale():
    """Regression (issue 18): the M-step's E[x^2] - mu^2 cancelled for data at 1e8 (variance 0.25 came out 0 and was
    floored), and the absolute 1e-9 floor swamped data in units of 1e-8 (variance 2.5e-17 came out 1e-9)."""
    for offset, scale in ((1e8, 1.0), (0.0, 1e-8)):
        x = (offset + scale * np.array([0.0, 1.0, 0.0, 1.0]))[None, :, None]
        model = GaussianHMM(np.ones(1), np.ones((1, 1)), np.array([[offset]]), np.array([[scale ** 2]]))
        fitted = baum_welch(model, x, max_iter=3).model
        np.testing.assert_allclose(fitted.means, [[offset + 0.5 * scale]], rtol=1e-15)
        np.testing.assert_allclose(fitted.variances, [[0.25 * scale ** 2]], rtol=1e-8)


def test_kalman_em_on_one_observation_floors_R():
    """Regression (issue 18): kalman_em on x = [[0.0]] fitted R = 0 exactly, and the next step's constructor raised
    'R must be symmetric positive definite' from inside EM. R now sits at the floor 1e-12 x the data's scale (1 for
    all-zero data) and the fit returns."""
    model = LinearGaussianSSM(0.9, 1.0, 1.0, 1.0, 0.0, 1.0)
    result = kalman_em(model, np.array([[0.0]], np.float32), max_iter=15)
    assert result.model.R[0, 0] > 0 and np.isfinite(result.log_likelihood).all()
    assert (np.diff(result.log_likelihood) >= 0).all()


# ------------------------------------------------------------------ Bayesian networks and MRFs (issue 18 item 4)


@st.composite
def tree_networks(draw, max_variables: int = 5):
    """A Bayesian network whose factor graph is a tree (each variable has at most one parent), with CPT rows that
    hold exact zeros and deterministic rows, 1 to 3 states per variable, float64 or float32 tables."""
    n = draw(st.integers(1, max_variables))
    names = [f"v{i}" for i in range(n)]
    cards = [draw(st.integers(1, 3)) for _ in names]
    parents, cpts = {}, {}
    for i, v in enumerate(names):
        parent = draw(st.integers(-1, i - 1)) if i else -1
        parents[v] = () if parent < 0 else (names[parent],)
        rows = draw(probability_rows(cards[parent] if parent >= 0 else 1, cards[i]))
        cpts[v] = rows if parent >= 0 else rows[0]
    return BayesianNetwork(parents, cpts), cards


@st.composite
def networks_with_evidence(draw):
    bn, cards = draw(tree_networks())
    observed = draw(st.lists(st.sampled_from(bn.variables), unique=True, max_size=len(bn.variables)))
    evidence = {v: draw(st.integers(0, bn.cardinalities[v] - 1)) for v in observed}
    return bn, evidence


def _joint_by_enumeration(bn: BayesianNetwork, evidence: dict) -> tuple[float, dict]:
    """log p(e) and the posterior marginals of the free variables, by summing the joint over every state."""
    grid = np.array(list(np.ndindex(*[bn.cardinalities[v] for v in bn.variables])), dtype=np.int64)
    for v, s in evidence.items():
        grid = grid[grid[:, bn.variables.index(v)] == s]
    p = np.exp(bn.log_prob(grid))
    total = p.sum()
    marginals = {v: np.bincount(grid[:, j], weights=p, minlength=bn.cardinalities[v]) / total
                 for j, v in enumerate(bn.variables) if v not in evidence and total > 0}
    return (np.log(total) if total > 0 else -np.inf), marginals


_DETERMINISTIC_CHAIN = BayesianNetwork({"a": (), "b": ("a",), "c": ("b",)},
                                       {"a": [0.3, 0.7], "b": [[1.0, 0.0], [0.0, 1.0]], "c": [[0.9, 0.1], [0.0, 1.0]]})


@SETTINGS
@given(problem=networks_with_evidence())
@example(problem=(_DETERMINISTIC_CHAIN, {"a": 0, "c": 0}))     # b copies a: p(a=0, c=0) = 0.3 x 0.9
@example(problem=(_DETERMINISTIC_CHAIN, {"a": 1, "c": 0}))     # impossible: a=1 forces b=1, which forbids c=0
@example(problem=(_DETERMINISTIC_CHAIN, {"b": 0}))
def test_exact_inference_and_tree_bp_agree_or_all_refuse_impossible_evidence(problem):
    """Variable elimination, the junction tree and sum-product BP (exact on a tree) give the enumerated log p(e) and
    posterior marginals, or, when p(e) = 0 (deterministic rows, impossible evidence), all three raise the
    ValueError that says so."""
    bn, evidence = problem
    graph = bn.to_factor_graph()
    log_z, marginals = _joint_by_enumeration(bn, evidence)
    engines = {"variable elimination": lambda: variable_elimination(graph, tuple(marginals), evidence=evidence),
               "junction tree": lambda: JunctionTree(graph).calibrate(evidence),
               "belief propagation": lambda: belief_propagation(graph, evidence=evidence)}
    if log_z == -np.inf:
        for name, run in engines.items():
            with pytest.raises(ValueError, match="probability zero"):
                run()
        return
    ve, jt, bp = (run() for run in engines.values())
    # the enumerated sum has rounding ~ 2^n eps; 1e-12 leaves a margin of ~100 x over 32 float64 terms
    np.testing.assert_allclose([ve.log_partition, jt.log_value, bp.log_value], log_z, rtol=1e-12, atol=1e-12)
    assert bp.converged and bp.stop_reason == "tol"
    free = [v for v in bn.variables if v not in evidence]
    for v in free:
        assert_probability_vector(f"BP marginal of {v}", bp.marginals[v], atol=1e-12)
        np.testing.assert_allclose(jt.marginal(v), marginals[v], atol=1e-12, err_msg=v)
        np.testing.assert_allclose(bp.marginals[v], marginals[v], atol=1e-9, err_msg=v)   # BP tol=1e-10 per message
    if free:
        joint = ve.marginal.values
        np.testing.assert_allclose(joint.sum(), 1.0, rtol=1e-12)
        np.testing.assert_allclose(joint.sum(axis=tuple(range(1, joint.ndim))), marginals[free[0]], atol=1e-12)


@st.composite
def complete_data(draw, bn: BayesianNetwork):
    """Integer columns: one or a few rows, duplicated rows, states never seen (zero counts)."""
    n = draw(st.sampled_from([1, 2, 5]))
    rows = [[draw(st.integers(0, bn.cardinalities[v] - 1)) for v in bn.variables] for _ in range(n)]
    rows += rows[:draw(st.integers(0, n))]   # duplicated rows
    rows = np.array(rows, dtype=np.int64).reshape(-1, len(bn.variables))
    return {v: rows[:, j] for j, v in enumerate(bn.variables)}, rows


@SETTINGS
@given(data=st.data(), pseudo_count=st.sampled_from([0.0, 0.5]))
def test_maximum_likelihood_cpts_are_valid_and_maximise_the_likelihood(data, pseudo_count):
    """Rows are probability vectors (a parent state never seen: uniform at pseudo_count 0), and at pseudo_count 0
    no network on the same structure (here the one the data came from) gives the data a higher likelihood."""
    bn, _ = data.draw(tree_networks())
    columns, rows = data.draw(complete_data(bn))
    fitted = maximum_likelihood(bn, columns, pseudo_count=pseudo_count)
    for v in bn.variables:
        assert_probability_vector(f"cpts[{v}]", fitted.cpts[v], atol=1e-12)
    ml = fitted.log_prob(rows).sum()
    assert np.isfinite(ml) and ml <= 1e-12 * len(rows)
    if pseudo_count == 0.0:
        assert ml >= bn.log_prob(rows).sum() - 1e-9 * (1 + abs(ml))


@SETTINGS
@given(data=st.data())
def test_maximum_likelihood_names_data_outside_the_states(data):
    bn, _ = data.draw(tree_networks())
    columns, rows = data.draw(complete_data(bn))
    v = data.draw(st.sampled_from(bn.variables))
    columns[v] = columns[v] + data.draw(st.sampled_from([bn.cardinalities[v], -1 - columns[v].max()]))
    with pytest.raises(ValueError, match=rf"data column '{v}'"):
        maximum_likelihood(bn, columns)


@SETTINGS
@given(data=st.data())
def test_bayes_net_em_is_valid_and_monotone_or_names_the_data(data):
    """EM with missing entries (-1; whole columns or whole rows missing, one row, duplicated rows) from a start that
    may give an observed pattern probability zero: valid CPTs and a finite non-decreasing log-likelihood trace, or
    a ValueError that names ``data`` and the row of probability zero."""
    bn, _ = data.draw(tree_networks(max_variables=4))
    columns, rows = data.draw(complete_data(bn))
    hide = np.array(data.draw(st.lists(st.booleans(), min_size=rows.size, max_size=rows.size))).reshape(rows.shape)
    rows = np.where(hide, -1, rows)
    columns = {v: rows[:, j] for j, v in enumerate(bn.variables)}
    result = call_or_named_error(expectation_maximization, ("data: ",), bn, columns, max_iter=10)
    if result is None:
        observed = [{v: int(s) for v, s in zip(bn.variables, row) if s >= 0} for row in rows]
        assert any(_joint_by_enumeration(bn, e)[0] == -np.inf for e in observed)
        return
    for v in bn.variables:
        assert_probability_vector(f"cpts[{v}]", result.network.cpts[v], atol=1e-12)
    trace = result.log_likelihood
    assert_finite("log-likelihood trace", trace)
    assert (trace <= 1e-9 * len(rows)).all(), trace
    assert (np.diff(trace) >= -1e-9 * np.abs(trace[:-1]).clip(1.0)).all(), f"EM decreased: {trace}"
    assert_converged_flag(result)


@st.composite
def pairwise_mrfs(draw):
    """Up to 4 sites with 1 to 3 states, random edges, log-potentials at scales 1e-8 to 1e8 with -inf entries (hard
    constraints), and the occasional NaN or +inf that must be refused."""
    n, k = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    edges = draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs))) if pairs else []
    scale = draw(st.sampled_from([1e-8, 1.0, 1e8]))
    values = st.one_of(st.floats(-3, 3), st.just(-np.inf)) if draw(st.booleans()) else st.floats(-3, 3)
    unary = scale * np.array(draw(st.lists(values, min_size=n * k, max_size=n * k))).reshape(n, k)
    pairwise = scale * np.array(draw(st.lists(values, min_size=len(edges) * k * k,
                                              max_size=len(edges) * k * k))).reshape(len(edges), k, k)
    if draw(st.integers(0, 9)) == 0:
        target = unary if not len(edges) or draw(st.booleans()) else pairwise
        target.flat[draw(st.integers(0, target.size - 1))] = draw(st.sampled_from([np.nan, np.inf]))
    return unary, np.array(edges, dtype=np.int64).reshape(-1, 2), pairwise


_NINF = -np.inf


@SETTINGS
@given(problem=pairwise_mrfs())
@example(problem=(np.array([[0.0, _NINF], [0.3, 0.1]]), np.array([[0, 1]]), np.array([[[0.5, 0.0], [0.0, 0.5]]])))
@example(problem=(1e8 * np.array([[0.1, -0.2], [0.3, 0.1]]), np.array([[0, 1]]), 1e8 * np.eye(2)[None]))
@example(problem=(np.array([[_NINF, _NINF], [0.3, 0.1]]), np.array([[0, 1]]), np.zeros((1, 2, 2))))
@example(problem=(np.zeros((2, 2)), np.array([[0, 1]]), np.array([[[0.0, _NINF], [_NINF, 0.0]]])))
@example(problem=(np.array([[np.nan, 0.0]]), np.zeros((0, 2), np.int64), np.zeros((0, 2, 2))))
def test_mean_field_is_a_valid_lower_bound_or_names_the_potentials(problem):
    """q's rows are probability vectors, the ELBO never decreases (exact coordinate ascent over colour classes) and
    stays below log Z (enumerated), or the MRF / mean field refuses with the argument's name: NaN or +inf
    potentials, a hard pairwise constraint, or a site none of whose states is possible."""
    unary, edges, pairwise = problem
    mrf = call_or_named_error(PairwiseMRF, ("unary", "pairwise"), unary, edges, pairwise)
    if mrf is None:
        assert not (np.isfinite(unary) | np.isneginf(unary)).all() or \
            not (np.isfinite(pairwise) | np.isneginf(pairwise)).all()
        return
    grid = np.array(list(np.ndindex(*[mrf.num_states] * mrf.num_sites)), dtype=np.int64)
    log_p = mrf.log_potential(grid)
    result = call_or_named_error(mean_field, ("unary", "pairwise"), mrf, max_iter=50)
    # refused exactly when a hard pairwise constraint (the ELBO is -inf at every full-support q) or a site with no
    # possible state (log Z = -inf) is present
    refused = bool(np.isneginf(pairwise).any() or np.isneginf(unary).all(1).any())
    assert (result is None) == refused, (result, refused)
    if result is None:
        return
    assert_probability_vector("q", result.q, atol=1e-12)
    history = result.elbo_history
    assert_finite("ELBO history", history)
    scale = np.abs(history).max(initial=1.0)
    assert (np.diff(history) >= -1e-9 * scale).all(), f"mean field decreased the ELBO: {history}"
    log_z = float(np.logaddexp.reduce(log_p))
    assert result.elbo <= log_z + 1e-9 * max(abs(log_z), 1.0), (result.elbo, log_z)
    assert_converged_flag(result)


def test_gaussian_hmm_m_step_returns_a_constant_column_exactly():
    """Regression (issue 18, found by the property above): with a constant column of 1.5 beside a column at 1e-36,
    the M-step's weighted mean came out one ulp below 1.5 in one state; squared, that ulp was a variance of 5e-32
    against the floor's 9e-82, and the log-likelihood fell (here from 346.22 to 345.67). Means are now c + weighted
    mean of (x - c), exact for a constant column, and the log-likelihood never decreases."""
    x = np.array([[[0.0, 1.5], [2.7405457e-36, 1.5]]])
    model = GaussianHMM(np.full(3, 1 / 3), np.full((3, 3), 1 / 3), np.array([[0.3, 1.0], [-0.2, 2.0], [0.1, 1.7]]),
                        np.full((3, 2), 4.0))
    result = baum_welch(model, x, max_iter=6)
    assert (result.model.means[:, 1] == 1.5).all()
    assert (np.diff(result.log_likelihood) >= 0).all(), result.log_likelihood


def test_gaussian_hmm_variance_floor_is_per_column():
    """Regression (issue 18, found by the property above): the floor was 1e-9 x the mean variance of all columns, so
    a column of zeros beside one in units of 1e8 was floored at 1.1e6, above its starting variance 1, and one
    M-step lowered the log-likelihood from -60.7 to -80.9. Each column is now floored relative to its own scale
    (its variance, else its mean square, else 1)."""
    x = np.array([[[0.0, 0.0], [0.0, 0.0], [1e8, 0.0]]])
    model = GaussianHMM(np.ones(1), np.ones((1, 1)), np.array([[1e7, 0.5]]), np.array([[1e16, 1.0]]))
    result = baum_welch(model, x, max_iter=3)
    np.testing.assert_allclose(result.model.variances, [[2e16 / 9, 1e-9]], rtol=1e-12)
    assert (np.diff(result.log_likelihood) >= 0).all(), result.log_likelihood
