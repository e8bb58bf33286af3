"""Discrete Monge maps and couplings on the notes' exercises 5.1-5.3, against the Kantorovich LP."""

import re

import numpy as np
import pytest

from pgm_ppl.ot import exact_ot, independent_coupling, is_coupling, monge_brute_force, pushforward


def test_exercise_5_1_existence_and_non_existence():
    rng = np.random.default_rng(0)
    C = rng.uniform(1, 2, size=(3, 3))
    res = monge_brute_force([1 / 2, 1 / 3, 1 / 6], [1 / 3, 1 / 6, 1 / 2], C)
    # each target mass equals exactly one source mass: T(x1) = y3, T(x2) = y1, T(x3) = y2 is the only map
    np.testing.assert_array_equal(res.assignment, [2, 0, 1])
    np.testing.assert_allclose(pushforward([1 / 2, 1 / 3, 1 / 6], res.assignment, 3), [1 / 3, 1 / 6, 1 / 2])
    assert res.num_optimal == 1
    none = monge_brute_force([1 / 2, 1 / 4, 1 / 4], [1 / 3, 1 / 3, 1 / 3], C)
    assert none.assignment is None and none.cost == np.inf
    # Kantorovich always has a solution, by splitting mass
    assert np.isfinite(float(exact_ot(np.array([1 / 2, 1 / 4, 1 / 4]), np.full(3, 1 / 3), C).cost))


def test_exercise_5_2_non_uniqueness():
    res = monge_brute_force([0.5, 0.5], [0.5, 0.5], np.ones((2, 2)))
    assert res.num_optimal == 2 and res.cost == pytest.approx(1.0)


def test_monge_equals_kantorovich_for_uniform_assignment():
    """Example 5.2: with N = M and uniform masses the LP optimum is an assignment, so both costs agree."""
    rng = np.random.default_rng(1)
    C = rng.uniform(size=(5, 5))
    w = np.full(5, 0.2)
    assert abs(monge_brute_force(w, w, C).cost - float(exact_ot(w, w, C).cost)) < 1e-12


def test_monge_cost_bounds_kantorovich():
    rng = np.random.default_rng(2)
    a, b = np.array([0.5, 0.25, 0.125, 0.125]), np.array([0.25, 0.25, 0.5])
    C = rng.uniform(size=(4, 3))
    assert monge_brute_force(a, b, C).cost >= float(exact_ot(a, b, C).cost) - 1e-12


def test_independent_coupling_exercise_5_3():
    a, b = np.array([0.2, 0.3, 0.5]), np.array([0.6, 0.4])
    P = independent_coupling(a, b)
    assert is_coupling(P, a, b) and is_coupling(P.T, b, a)
    assert not is_coupling(P + 0.01, a, b)


def test_validation():
    with pytest.raises(ValueError, match=re.escape("'assignment' must hold 2 integers in [0, 2); got [0, 2]")):
        pushforward([0.5, 0.5], [0, 2], 2)
    with pytest.raises(ValueError, match="exceed the enumeration limit"):
        monge_brute_force(np.full(12, 1 / 12), np.full(12, 1 / 12), np.ones((12, 12)))
