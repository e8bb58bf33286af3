"""SVGP with inducing points and mini-batches: agrees with the exact GP posterior on moderate n and trains
on n = 1,000,000 in seconds (each step costs O(|B| M^2), independent of n)."""

import numpy as np
import torch

from pgm_ppl.gp import kernels as K
from pgm_ppl.gp.exact import posterior, train
from pgm_ppl.gp.sparse import predict_svgp, train_svgp


def _data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 10, n)
    return x, np.sin(x) + 0.3 * rng.normal(size=n)


def test_svgp_matches_exact_gp_posterior():
    x, y = _data(2000, 0)
    exact = train(K.squared_exponential(), x, y, noise=0.1, num_steps=50)
    grid = np.linspace(0.5, 9.5, 30)
    reference = posterior(exact.kernel, x, y, exact.noise, grid, full_cov=False)
    sparse = train_svgp(K.squared_exponential(), x, y, num_inducing=20, batch_size=500, num_epochs=40,
                        learning_rate=0.05, seed=0, dtype=torch.float64)
    pred = predict_svgp(sparse, grid)
    # 20 inducing points summarise a smooth 1-D function: the means agree to well under the noise 0.3.
    np.testing.assert_allclose(pred.mean, reference.mean, atol=0.05)
    np.testing.assert_allclose(float(sparse.likelihood.noise), exact.noise, rtol=0.1)
    assert sparse.losses[-20:].mean() < sparse.losses[:20].mean()


def test_svgp_trains_on_a_million_points():
    x, y = _data(1_000_000, 1)
    result = train_svgp(K.squared_exponential(), x, y, num_inducing=32, batch_size=2048, num_epochs=0.25,
                        learning_rate=0.05, seed=0)
    assert result.steps == 123
    pred = predict_svgp(result, np.linspace(1, 9, 9))
    np.testing.assert_allclose(pred.mean, np.sin(np.linspace(1, 9, 9)), atol=0.15)
    assert result.points_per_second > 1e4
