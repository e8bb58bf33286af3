"""ELBO and evidence gap (eqs. (3.7)-(3.9)), score-function vs reparameterised gradients (eq. (3.14)),
stochastic VI with subsampling and streaming, amortised inference; on the conjugate normal-mean model."""

from functools import partial

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from pyro.infer import SVI, Trace_ELBO
from pyro.optim import ClippedAdam

from pgm_ppl.inference.amortised import (GaussianEncoder, encoder_guide, linear_gaussian_model,
                                         linear_gaussian_posterior)
from pgm_ppl.inference.elbo import conjugate_normal_mean, elbo_estimate, gradient_variance
from pgm_ppl.inference.svi_streaming import data_plate, minibatches, run_streaming_svi

PRIOR, NOISE = 2.0, 1.0


def model(x, num_data=None):
    mu = pyro.sample("mu", dist.Normal(torch.tensor(0.0, dtype=torch.float64), PRIOR))
    with data_plate("data", x, num_data):
        pyro.sample("x", dist.Normal(mu, NOISE), obs=x)


def guide(x, num_data=None, loc=0.5, scale=0.4):
    loc = pyro.param("loc", torch.tensor(loc, dtype=torch.float64))
    scale = pyro.param("scale", torch.tensor(scale, dtype=torch.float64), constraint=dist.constraints.positive)
    pyro.sample("mu", dist.Normal(loc, scale))


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread avoids thread contention (several times faster on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def data():
    return torch.as_tensor(np.random.default_rng(0).normal(1.0, NOISE, 20))


def test_evidence_gap_is_kl(data):
    """log p(x) - ELBO = KL(q || p(mu | x)) (eq. (3.9)), with log p(x) exact."""
    exact = conjugate_normal_mean(data.numpy(), prior_scale=PRIOR, noise_scale=NOISE)
    kl = np.log(np.sqrt(exact.var) / 0.4) + (0.4**2 + (0.5 - exact.mean) ** 2) / (2 * exact.var) - 0.5
    estimate = elbo_estimate(model, guide, data, num_particles=4000, seed=0)
    assert abs(exact.log_evidence - estimate.value - kl) < 4 * estimate.std_error
    at_posterior = elbo_estimate(model, partial(guide, loc=exact.mean, scale=float(np.sqrt(exact.var))), data,
                                 num_particles=100, seed=1)
    np.testing.assert_allclose(at_posterior.particles, exact.log_evidence, rtol=1e-10)  # zero gap, zero variance


def test_score_function_and_reparam_gradients(data):
    """Both estimators are unbiased for the exact gradient; the score function has the larger variance,
    and a baseline reduces it."""
    exact = conjugate_normal_mean(data.numpy(), prior_scale=PRIOR, noise_scale=NOISE)
    true_grad_loc = -(0.5 - exact.mean) / exact.var  # d ELBO / d loc for a Gaussian target
    stats = {name: gradient_variance(model, guide, data, num_estimates=400, seed=0, **options)
             for name, options in {"reparam": {"estimator": "reparam"}, "score": {"estimator": "score"},
                                   "plain": {"estimator": "score", "baseline_decay": 0.0}}.items()}
    for result in stats.values():
        se = np.sqrt(result.variance["loc"] / result.num_estimates)
        assert abs(result.mean["loc"] - true_grad_loc) < 4 * se
    assert stats["reparam"].variance["loc"] < stats["score"].variance["loc"] < stats["plain"].variance["loc"]
    with pytest.raises(ValueError, match="estimator"):
        gradient_variance(model, guide, data, estimator="pathwise")


def test_streaming_and_subsampled_svi_find_the_full_batch_optimum():
    x = np.random.default_rng(1).normal(1.0, NOISE, 2000)
    exact = conjugate_normal_mean(x, prior_scale=PRIOR, noise_scale=NOISE)
    guide_small = partial(guide, loc=0.0, scale=0.1)
    streamed = run_streaming_svi(model, guide_small, x, batch_size=200, num_epochs=60, learning_rate=0.05,
                                 lr_decay=0.995, seed=0)
    # The iterates keep Adam's jitter: each step moves lr * (curvature * error + noise) / G, G the gradient-noise sd,
    # so the error's variance follows v <- (1 - lr curvature / G)^2 v + lr^2 over the 600 decaying steps. In
    # posterior sds the loc's final sd is 0.24 (one-particle noise only, G = sqrt(N / sigma^2)) to 0.44 (adding
    # with-replacement mini-batch noise, G = sqrt(10 N / sigma^2); epochs without replacement cancel part of it):
    # one posterior sd is 2.3-4 of those. In log-scale (curvature 2, G = sqrt(2) to sqrt(11)) the sd is 0.04-0.074,
    # so a relative scale error of 0.3 is over 4 of them.
    assert abs(streamed.params["loc"] - exact.mean) < np.sqrt(exact.var)
    assert abs(streamed.params["scale"] / np.sqrt(exact.var) - 1) < 0.3
    assert len(streamed.losses) == 600

    def subsampled(data):  # Pyro draws the mini-batch indices itself: plate(subsample_size=...)
        mu = pyro.sample("mu", dist.Normal(torch.tensor(0.0, dtype=torch.float64), PRIOR))
        with pyro.plate("data", len(data), subsample_size=200) as idx:
            pyro.sample("x", dist.Normal(mu, NOISE), obs=data[idx])

    with pyro.get_param_store().scope():
        pyro.set_rng_seed(0)
        svi = SVI(subsampled, lambda d: guide_small(d), ClippedAdam({"lr": 0.05, "lrd": 0.995}), Trace_ELBO())
        for _ in range(600):
            svi.step(torch.as_tensor(x))
        loc = pyro.param("loc").item()
    assert abs(loc - exact.mean) < np.sqrt(exact.var)


def test_minibatches_visit_every_row_once():
    data = np.arange(23.0)[:, None]
    seen = np.concatenate(list(minibatches(data, 5, np.random.default_rng(0))))
    np.testing.assert_array_equal(np.sort(seen[:, 0]), data[:, 0])
    with pytest.raises(ValueError, match="batch_size"):
        run_streaming_svi(model, guide, data, batch_size=0)


def test_amortised_encoder_learns_the_posterior():
    """A linear encoder on a linear-Gaussian model: exact posterior means, mean-field variances."""
    rng = np.random.default_rng(0)
    W = rng.normal(size=(4, 2))
    x = rng.normal(size=(600, 2)) @ W.T + 0.5 * rng.normal(size=(600, 4))
    torch.manual_seed(0)
    encoder = GaussianEncoder(4, 2, hidden=()).double()
    run_streaming_svi(partial(linear_gaussian_model, W=torch.as_tensor(W), noise_scale=0.5), encoder_guide(encoder),
                      x, batch_size=300, num_epochs=100, learning_rate=0.05, lr_decay=0.995, seed=0)
    new = rng.normal(size=(50, 2)) @ W.T + 0.5 * rng.normal(size=(50, 4))  # points never seen in training
    exact = linear_gaussian_posterior(new, W, 0.5)
    with torch.no_grad():
        loc, scale = encoder(torch.as_tensor(new))
    # A linear encoder contains the exact posterior-mean map and the mean-field variances (constant in x), so the
    # optimum is exact and the errors are Adam's jitter after 200 steps (lr ends at 0.018). The tolerances are a
    # stated accuracy, not a derived bound: a third of the smallest posterior sd (0.31) on the means, and 30% on
    # the variances. For the shared log-scale the jitter recursion of the streaming test, with 300 points a batch
    # (curvature 600, noise sd sqrt(600)), ends near sd sqrt(lr / 49) = 0.02, so log(1.3) on a variance is ~7 sd.
    np.testing.assert_allclose(loc.numpy(), exact.mean, atol=0.1)
    np.testing.assert_allclose(scale.numpy() ** 2, np.broadcast_to(exact.mean_field_variances, (50, 2)), rtol=0.3)
