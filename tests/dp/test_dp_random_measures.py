"""Stick-breaking weights and the CRP against their closed-form moments within Monte Carlo error
(course Def. 4.3; E[C_k] = alpha^(k-1)/(1+alpha)^k, E[K_N] = sum_{i<N} alpha/(alpha+i))."""

import numpy as np
import pytest

from pgm_ppl.dp import random_measures as rm


@pytest.mark.parametrize("alpha", [0.5, 2.0, 10.0])
def test_stick_breaking_mean_weights(alpha):
    draws = rm.stick_breaking(alpha, 8, 20000, seed=0)
    se = draws.weights.std(0) / np.sqrt(20000)
    np.testing.assert_array_less(np.abs(draws.weights.mean(0) - rm.expected_stick_weights(alpha, 8)), 4.5 * se)
    np.testing.assert_allclose(draws.weights.sum(1) + draws.leftover, 1.0, rtol=1e-12)
    # E[leftover] = (alpha / (1 + alpha))^K
    assert abs(draws.leftover.mean() - (alpha / (1 + alpha)) ** 8) < 4.5 * draws.leftover.std() / np.sqrt(20000)


@pytest.mark.parametrize("alpha, n", [(0.5, 50), (3.0, 200)])
def test_crp_expected_number_of_tables(alpha, n):
    tables = rm.crp_sample(alpha, n, 3000, seed=1)
    counts = tables.max(1) + 1
    assert abs(counts.mean() - rm.expected_num_clusters(alpha, n)) < 4.5 * counts.std() / np.sqrt(3000)
    # tables open in order: each new label is one more than the largest so far
    assert np.all(np.diff(np.maximum.accumulate(tables, axis=1), axis=1) <= 1)


def test_crp_second_customer_joins_first_table_with_probability_one_over_one_plus_alpha():
    tables = rm.crp_sample(2.0, 2, 20000, seed=2)
    p = 1 / 3
    assert abs((tables[:, 1] == 0).mean() - p) < 4.5 * np.sqrt(p * (1 - p) / 20000)


def test_polya_urn_values_repeat_table_atoms():
    urn = rm.polya_urn(1.0, lambda rng, k: rng.normal(size=k), 100, seed=0)
    np.testing.assert_array_equal(urn.values, urn.atoms[urn.tables])
    assert np.unique(urn.values).size == urn.atoms.size


def test_truncation_level_and_bound():
    K = rm.truncation_level(2.0, 1e-3)
    assert (2 / 3) ** K <= 1e-3 < (2 / 3) ** (K - 1)
    assert rm.truncation_error_bound(1.0, 30, 100) == pytest.approx(400 * np.exp(-29))
    draw = rm.dp_draw(2.0, lambda rng, k: rng.normal(size=k), 30, seed=0)
    assert draw.atoms.shape == (30,) and abs(draw.weights.sum() + draw.leftover - 1) < 1e-12


def test_bad_arguments():
    with pytest.raises(ValueError, match="alpha"):
        rm.stick_breaking(-1.0, 5)
    with pytest.raises(ValueError, match="truncation"):
        rm.stick_breaking(1.0, 0)
