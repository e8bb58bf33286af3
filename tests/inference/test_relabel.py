"""Label alignment undoes known permutations and numbers components canonically."""

import numpy as np

from pgm_ppl.backend.annotations import ExchangeableComponents
from pgm_ppl.inference import align_components


def test_alignment_undoes_random_permutations():
    rng = np.random.default_rng(0)
    centres = np.array([[-3.0, 0.0], [0.0, 2.0], [3.0, -1.0]])
    weights = np.array([0.2, 0.3, 0.5])
    chains, draws = 3, 50
    mu = centres + 0.1 * rng.standard_normal((chains, draws, 3, 2))
    pi = np.broadcast_to(weights, (chains, draws, 3)).copy()
    permutation = np.array([rng.permutation(3) for _ in range(chains * draws)]).reshape(chains, draws, 3)
    scrambled = {"mu": np.take_along_axis(mu, permutation[..., None], axis=2),
                 "pi": np.take_along_axis(pi, permutation, axis=2), "other": np.ones((chains, draws))}
    aligned = align_components(scrambled, ExchangeableComponents("mu", {"mu": 0, "pi": 0}))
    np.testing.assert_array_equal(aligned["mu"], mu)
    np.testing.assert_array_equal(aligned["pi"], pi)
    assert aligned["other"] is scrambled["other"]


def test_a_tuple_of_axes_permutes_a_transition_matrix_on_both_axes():
    """An HMM's A_kl is indexed by states along rows and columns: relabelling by sigma must give
    A'_kl = A_sigma(k)sigma(l), the same permutation on both axes."""
    rng = np.random.default_rng(1)
    means = np.array([-2.0, 0.0, 2.0])
    transition = rng.dirichlet(np.ones(3), size=3)
    chains, draws = 2, 20
    mu = means + 0.05 * rng.standard_normal((chains, draws, 3))
    permutation = np.array([rng.permutation(3) for _ in range(chains * draws)]).reshape(chains, draws, 3)
    scrambled_a = np.stack([[transition[np.ix_(p, p)] for p in chain] for chain in permutation])
    scrambled = {"mu": np.take_along_axis(mu, permutation, axis=2), "transition": scrambled_a}
    aligned = align_components(scrambled, ExchangeableComponents("mu", {"mu": 0, "transition": (0, 1)}))
    np.testing.assert_array_equal(aligned["mu"], mu)
    np.testing.assert_array_equal(aligned["transition"], np.broadcast_to(transition, (chains, draws, 3, 3)))
