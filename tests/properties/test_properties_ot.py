"""Property: discrete OT on degenerate inputs returns couplings with the given marginals, or names the argument
(issue 18)."""

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from pgm_ppl.core.convergence import ConvergenceWarning
from pgm_ppl.ot import (convolutional_barycenter, cost_matrix, entropic_barycenter, exact_ot, free_support_barycenter,
                        sinkhorn, sinkhorn_log, unbalanced_sinkhorn, wasserstein_distance_empirical)
from property_strategies import SETTINGS, call_or_named_error, data_matrices, has_nonfinite


_FLOAT32_THIRDS = (np.zeros((4, 1), np.float32), np.zeros((4, 1), np.float32), np.array([1.0, 0.0, 0.0, 0.0]),
                   np.array([0.25, 1 / 3, 1 / 3, 1 / 12], np.float32))


@st.composite
def histograms(draw, n: int):
    """Weights with exact zeros, summing to one at their own precision (float64 or float32)."""
    counts = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=np.float64)
    if counts.sum() == 0:
        counts[draw(st.integers(0, n - 1))] = 1.0
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    return (counts / counts.sum()).astype(dtype)


@st.composite
def problems(draw):
    _, x = draw(data_matrices(max_rows=6, max_cols=2))
    kind, y = draw(data_matrices(max_rows=6, max_cols=2))
    y = y[:, :1] if x.shape[1] == 1 else np.column_stack([y[:, :1]] * x.shape[1]) + y[:, -1:]
    y = y.astype(x.dtype)
    return x, y, draw(histograms(len(x))), draw(histograms(len(y)))


def _check_coupling(result, a, b, rtol: float) -> None:
    P = np.asarray(result.plan, dtype=np.float64)
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert np.isfinite(P).all() and (P >= 0).all(), P
    assert np.isfinite(float(result.cost)) and float(result.cost) >= -1e-12
    np.testing.assert_allclose(P.sum(0), b, atol=rtol * np.linalg.norm(b) * 10)
    np.testing.assert_allclose(P.sum(1), a, atol=rtol * np.linalg.norm(a) * 10)


@SETTINGS
@given(problem=problems())
@example(problem=_FLOAT32_THIRDS)
def test_exact_ot_plans_are_couplings(problem):
    x, y, a, b = problem
    C = call_or_named_error(cost_matrix, ("x", "y"), x, y)
    if C is None:
        assert has_nonfinite(x) or has_nonfinite(y)
        return
    result = call_or_named_error(exact_ot, ("'a'", "'b'", "'C'"), a, b, C)
    if result is None:
        assert not np.isfinite(np.asarray(C, np.float64)).all()
        return
    assert result.converged
    _check_coupling(result, a, b, rtol=float(np.finfo(np.asarray(C).dtype).eps) * 100)


@SETTINGS
@given(problem=problems(), reg=st.sampled_from([1e-2, 1.0, 1e2]), log_domain=st.booleans())
@example(problem=_FLOAT32_THIRDS, reg=1e-2, log_domain=False)
def test_sinkhorn_plans_are_couplings_or_warn(problem, reg, log_domain):
    x, y, a, b = problem
    C = call_or_named_error(cost_matrix, ("x", "y"), x, y)
    if C is None:
        return
    solver = sinkhorn_log if log_domain else sinkhorn
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = solver(a, b, C, reg, max_iter=200, tol=1e-6, tol_rule="relative")
        except (ValueError, TypeError) as error:
            assert any(name in str(error) for name in ("'a'", "'b'", "'C'", "'reg'", "reg")), error
            return
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert result.converged != warned, (result.converged, [str(w.message) for w in caught])
    if result.converged:
        _check_coupling(result, a, b, rtol=1e-6)
    else:
        assert np.isfinite(np.asarray(result.plan, np.float64)).all() or warned


@SETTINGS
@given(data=data_matrices(max_rows=6, max_cols=2))
@example(data=("nonfinite", np.array([[np.nan], [0.0], [0.0]], np.float32)))
def test_wasserstein_distance_to_itself_is_zero(data):
    kind, x = data
    w = call_or_named_error(wasserstein_distance_empirical, ("x", "y"), x, x)
    if w is None:
        assert has_nonfinite(x)
        return
    assert np.isfinite(w) and 0 <= w <= 1e-6 * (np.abs(np.asarray(x, np.float64)).max() + 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weights_summing_to_one_at_their_precision_are_accepted(dtype):
    """Regression (issue 18): the mass check was a fixed 1e-8, so float32 weights normalised in float32 were refused
    ('balanced OT needs equal total masses') whenever their float32 sum missed 1 by one rounding step."""
    a = (np.arange(1, 8, dtype=np.float64) / 28).astype(dtype)
    b = np.full(3, 1 / 3, dtype)
    C = np.abs(np.arange(7.0)[:, None] - np.arange(3.0)[None]).astype(dtype)
    result = exact_ot(a, b, C)
    assert result.converged
    assert wasserstein_distance_empirical(np.arange(7.0).astype(dtype), np.arange(3.0).astype(dtype), a, b) >= 0
    with pytest.raises(ValueError, match="equal total masses"):
        exact_ot(a, b * dtype(1.01), C)


def test_float32_masses_within_rounding_reach_pot_rescaled():
    """Masses 1 and 1 + 1e-5 in float32 are within float32 rounding (3.5e-4): b is rescaled to a's mass, so POT's own
    1e-6 mass assertion never fires (a raw AssertionError), and the plan's column sums are the rescaled b."""
    a = np.array([0.5, 0.5], np.float32)
    b = np.array([0.5, 0.50001], np.float32)
    result = exact_ot(a, b, np.array([[0.0, 1.0], [1.0, 0.0]], np.float32))
    np.testing.assert_allclose(np.asarray(result.plan).sum(0), b / b.sum(), rtol=1e-6)


def test_non_finite_points_are_named():
    """Regression (issue 18): NaN in the points surfaced as "cost 'C' contains non-finite entries", naming an argument
    the user never passed."""
    with pytest.raises(ValueError, match=r"'x': expected finite points, got nan at row 0, column 0"):
        wasserstein_distance_empirical(np.array([[np.nan], [0.0]]), np.array([[0.0]]))
    with pytest.raises(ValueError, match=r"'y': expected finite points, got inf at row 1, column 0"):
        cost_matrix(np.zeros((2, 1)), np.array([[0.0], [np.inf]]))


def test_is_coupling_and_barycenter_weights_at_the_inputs_precision():
    """Issue 18 item 7: is_coupling's fixed atol=1e-9 called a float32 plan of the float32 marginals no coupling, and
    the barycentre weight check (1e-8) refused float32 lambdas; both now use the rounding level of the dtype."""
    from pgm_ppl.ot import independent_coupling, is_coupling
    from pgm_ppl.ot.barycenters import _lambdas

    a, b = np.full(3, 1 / 3, np.float32), np.full(7, 1 / 7, np.float32)
    P = np.outer(a, b).astype(np.float32)
    assert is_coupling(P, a, b)
    assert not is_coupling(P * np.float32(1.01), a, b)
    assert is_coupling(independent_coupling([0.5, 0.5], [0.25, 0.75]), [0.5, 0.5], [0.25, 0.75])
    assert not is_coupling(np.array([[0.5, 1e-7], [0.0, 0.5]]), [0.5, 0.5], [0.5, 0.5])
    np.testing.assert_allclose(_lambdas(np.full(3, 1 / 3, np.float32), 3), 1 / 3, rtol=1e-6)
    with pytest.raises(ValueError, match="'lambdas' must be 3 non-negative weights summing to 1"):
        _lambdas(np.array([0.3, 0.3, 0.3]), 3)


def _warned(caught) -> bool:
    return any(issubclass(w.category, ConvergenceWarning) for w in caught)


@SETTINGS
@given(problem=problems(), mass=st.sampled_from([0.5, 1.0, 3.0]), reg=st.sampled_from([1e-2, 1.0]),
       reg_m=st.sampled_from([1e-1, 10.0, 1e3]))
def test_unbalanced_sinkhorn_plans_are_finite_or_warn(problem, mass, reg, reg_m):
    """Unbalanced OT (issue 18): any non-negative masses, zeros included, give a finite non-negative plan whose
    ``converged`` flag agrees with the warning; as reg_m grows the marginals approach a and b."""
    x, y, a, b = problem
    C = call_or_named_error(cost_matrix, ("x", "y"), x, y)
    if C is None:
        return
    b = (np.asarray(b) * mass).astype(np.asarray(b).dtype)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = unbalanced_sinkhorn(a, b, C, reg, reg_m, max_iter=300, tol=1e-7)
        except (ValueError, TypeError) as error:
            assert any(name in str(error) for name in ("'a'", "'b'", "'C'", "'reg'", "'reg_m'")), error
            return
    assert result.converged != _warned(caught), (result.converged, [str(w.message) for w in caught])
    assert result.rule == "relative" and (result.stop_reason == "tol") == result.converged
    P = np.asarray(result.plan, dtype=np.float64)
    assert np.isfinite(P).all() and (P >= 0).all(), P
    assert np.isfinite(float(result.cost)) and float(result.cost) >= 0
    if result.converged:
        # a (near-)optimal plan is no worse than transporting nothing: its objective (generalised KLs, 0 log 0 = 0)
        # is at most that of P = 0, rho (|a| + |b|) + eps |a| |b|, up to the solver's tolerance
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        objective = (float(np.sum(np.asarray(C, np.float64) * P)) + reg * _kl(P, np.outer(a64, b64))
                     + reg_m * (_kl(P.sum(1), a64) + _kl(P.sum(0), b64)))
        empty = reg_m * (a64.sum() + b64.sum()) + reg * a64.sum() * b64.sum()
        assert objective <= empty * (1 + 1e-6) + 1e-12, (objective, empty)


def _kl(p, q) -> float:
    """Generalised KL divergence sum p log(p / q) - p + q of non-negative arrays."""
    p, q = np.ravel(p), np.ravel(q)
    if np.any((p > 0) & (q == 0)):
        return np.inf
    positive = p > 0
    return float(np.sum(p[positive] * np.log(p[positive] / q[positive])) - p.sum() + q.sum())


@st.composite
def clouds_strategy(draw):
    _, first = draw(data_matrices(max_rows=6, max_cols=2))
    _, second = draw(data_matrices(max_rows=6, max_cols=2))
    if second.shape[1] != first.shape[1]:
        second = np.column_stack([second[:, :1]] * first.shape[1])
    return [first, second.astype(first.dtype)]


@SETTINGS
@given(clouds=clouds_strategy(), num_atoms=st.integers(1, 5), tol_rule=st.sampled_from(["absolute", "relative"]))
def test_free_support_barycenter_is_a_measure_or_names_the_argument(clouds, num_atoms, tol_rule):
    """Free-support barycentres of degenerate clouds (duplicates, one point, constant or scaled columns, float32,
    NaN): ``num_atoms`` finite atoms of weight 1/num_atoms, or an error naming the cloud."""
    result = call_or_named_error(free_support_barycenter, ("clouds[0]", "clouds[1]"), clouds, num_atoms=num_atoms,
                                 max_iter=20, tol_rule=tol_rule)
    if result is None:
        assert any(has_nonfinite(c) for c in clouds)
        return
    assert not any(has_nonfinite(c) for c in clouds)
    assert result.points.shape == (num_atoms, clouds[0].shape[1]) and np.isfinite(result.points).all()
    np.testing.assert_allclose(result.weights, np.full(num_atoms, 1 / num_atoms), rtol=1e-12)
    # every atom is an average of data points, so it stays in the clouds' bounding box
    pooled = np.concatenate([np.asarray(c, np.float64) for c in clouds])
    span = pooled.max(0) - pooled.min(0)
    assert (result.points >= pooled.min(0) - 1e-9 * span - 1e-300).all()
    assert (result.points <= pooled.max(0) + 1e-9 * span + 1e-300).all()


@settings(SETTINGS, max_examples=15)
@given(first=histograms(6), second=histograms(6), spacing=st.sampled_from([1e-8, 1.0, 1e4]),
       reg=st.sampled_from([1e-2, 1.0]))
def test_entropic_barycenter_is_a_histogram_or_warns(first, second, spacing, reg):
    """Entropic barycentres of histograms with empty bins, float32 weights, supports in any units (the cost scaled
    by spacing**2): a finite non-negative histogram of unit mass, or a convergence warning."""
    grid = spacing * np.arange(6.0)[:, None]
    C = cost_matrix(grid, grid)
    C = C / C.max()  # reg is relative to the cost's scale, as in the notes
    dtype = np.float32 if np.float32 in (first.dtype, second.dtype) else np.float64  # the less precise one
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bary = entropic_barycenter(np.stack([first, second]).astype(dtype), C, reg, max_iter=300, tol=1e-9)
    assert np.isfinite(bary).all() and (bary >= 0).all(), bary
    if not _warned(caught):
        assert abs(bary.sum() - 1) < 1e-6, bary.sum()


@settings(SETTINGS, max_examples=12)
@given(images=st.lists(st.lists(st.integers(0, 3), min_size=16, max_size=16), min_size=2, max_size=3),
       reg=st.sampled_from([4e-3, 5e-2]), scale=st.sampled_from([1e-8, 1.0, 1e8]))
def test_convolutional_barycenter_is_an_image_or_names_the_argument(images, reg, scale):
    """Convolutional barycentres of 4 x 4 images with empty pixels, one-pixel masses or zero mass, in any units:
    a finite non-negative image of unit mass (or a convergence warning), or an error naming 'images'."""
    A = scale * np.array(images, dtype=np.float64).reshape(-1, 4, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            bary = convolutional_barycenter(A, reg, max_iter=200, tol=1e-8)
        except ValueError as error:
            assert "'images'" in str(error) and (A.sum(axis=(1, 2)) == 0).any(), error
            return
    assert np.isfinite(bary).all() and (bary >= 0).all(), bary
    if not _warned(caught):
        assert abs(bary.sum() - 1) < 1e-6, bary.sum()
