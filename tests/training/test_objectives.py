"""Custom losses, two-player games, EMA against torch's AveragedModel, early stopping."""

import numpy as np
import torch
from models import LinearGaussianFlow, correlated_gaussian
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from pgm_ppl.training import TwoPlayer, train

torch.set_num_threads(1)
X = correlated_gaussian(128)


def _mean_loss(module, batch):
    return (module.b - batch).pow(2).sum(-1).mean()  # a regression loss: its minimiser is the data mean


def test_custom_loss_callable_fits_its_minimiser():
    flow = LinearGaussianFlow(2)
    fit = train(flow, X, loss=_mean_loss, num_steps=300, batch_size=128, learning_rate=0.05, progress_bar=False,
                dtype=torch.float64, num_generated=0)
    np.testing.assert_allclose(flow.b.detach().numpy(), X.mean(0), atol=1e-3)
    assert fit.losses[-1] < fit.losses[0]


class _GAN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.generator = torch.nn.Linear(1, 1)
        self.critic = torch.nn.Sequential(torch.nn.Linear(1, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))

    def fake(self, n):
        return self.generator(torch.randn(n, 1))

    def sample(self, num_samples):
        return self.fake(num_samples)


def _critic_loss(gan, batch):  # non-saturating GAN: -E log D(x) - E log(1 - D(G(z)))
    softplus = torch.nn.functional.softplus
    return softplus(-gan.critic(batch)).mean() + softplus(gan.critic(gan.fake(len(batch)).detach())).mean()


def _generator_loss(gan, batch):  # -E log D(G(z))
    return torch.nn.functional.softplus(-gan.critic(gan.fake(len(batch)))).mean()


def test_two_player_steps_the_critic_twice_per_generator_step():
    gan = _GAN()
    counts = {"critic": 0, "generator": 0}
    real_step = torch.optim.Adam.step

    def counting_step(optimizer, *args, **kwargs):
        first = optimizer.param_groups[0]["params"][0]
        counts["generator" if first is gan.generator.weight else "critic"] += 1
        return real_step(optimizer, *args, **kwargs)

    torch.optim.Adam.step = counting_step
    try:
        fit = train(gan, np.random.default_rng(0).normal(2.0, 0.5, size=(64, 1)), num_steps=5, batch_size=16,
                    loss=TwoPlayer(_generator_loss, _critic_loss, critic_steps=2, critic_learning_rate=2e-3),
                    progress_bar=False, num_generated=10)
    finally:
        torch.optim.Adam.step = real_step
    assert counts == {"critic": 10, "generator": 5}
    assert len(fit.losses) == 5 and np.isfinite(fit.losses).all()
    assert fit.posterior_predictive["x"].shape == (1, 10, 1)


def test_ema_equals_torch_averaged_model():
    # Reference: feed the per-step weights of the same run into torch's AveragedModel with the same EMA rule.
    options = dict(loss=_mean_loss, batch_size=32, learning_rate=0.05, progress_bar=False, num_generated=0,
                   dtype=torch.float64)
    trajectory = []
    for k in range(1, 7):  # the run is deterministic, so k-step runs give the weights after step k
        flow = LinearGaussianFlow(2)
        train(flow, X, num_steps=k, **options)
        trajectory.append({name: p.detach().clone() for name, p in flow.state_dict().items()})
    ema_fit = train(LinearGaussianFlow(2), X, num_steps=6, ema_decay=0.8, **options)
    reference = AveragedModel(LinearGaussianFlow(2).double(), multi_avg_fn=get_ema_multi_avg_fn(0.8),
                              use_buffers=True)
    stepped = LinearGaussianFlow(2).double()
    for weights in trajectory:
        stepped.load_state_dict(weights)
        reference.update_parameters(stepped)
    for name, value in reference.module.state_dict().items():
        np.testing.assert_array_equal(ema_fit.params[f"ema.{name}"], value.numpy())
    np.testing.assert_array_equal(ema_fit.params["b"], trajectory[-1]["b"].numpy())
    assert ema_fit.density.module is not ema_fit.model  # the density uses the averaged weights


def test_early_stopping_stops_at_the_right_step():
    # Validation batches have 7 rows; their loss is read from a constructed curve (best at evaluation 3).
    curve = iter([5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 1.0])

    def loss(module, batch):
        if len(batch) == 7:
            return torch.tensor(next(curve), dtype=torch.float64)
        return _mean_loss(module, batch)

    fit = train(LinearGaussianFlow(2), X, validation_data=X[:7], loss=loss, num_steps=100, batch_size=32,
                validate_every=10, patience=3, progress_bar=False, num_generated=0)
    # evaluations at steps 10..60: best 3.0 at step 30, then 3 without improvement -> stop at step 60
    assert fit.stop_reason == "early_stopping" and fit.converged is True
    assert len(fit.losses) == 60
    np.testing.assert_array_equal(fit.validation_losses[9::10], [5.0, 4.0, 3.0, 3.5, 3.2, 3.1])
    assert np.isnan(np.delete(fit.validation_losses, np.arange(9, 60, 10))).all()


def _wgan_gp_critic_loss(gan, batch):  # E f(G(z)) - E f(x) + 10 E (|grad f(x_hat)| - 1)^2 (Gulrajani et al.)
    fake = gan.fake(len(batch)).detach()
    eps = torch.rand(len(batch), 1, dtype=batch.dtype)
    mixed = (eps * batch + (1 - eps) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(gan.critic(mixed).sum(), mixed, create_graph=True)
    return gan.critic(fake).mean() - gan.critic(batch).mean() + 10 * ((grad.norm(dim=1) - 1) ** 2).mean()


def _wgan_generator_loss(gan, batch):
    return -gan.critic(gan.fake(len(batch))).mean()


def test_wgan_gradient_penalty_trains_and_records_the_critic_losses():
    data = np.random.default_rng(0).normal(2.0, 0.5, size=(64, 1))
    fit = train(_GAN(), data, loss=TwoPlayer(_wgan_generator_loss, _wgan_gp_critic_loss, critic_steps=2),
                num_steps=4, batch_size=16, progress_bar=False, num_generated=0)
    assert len(fit.losses) == 4 and np.isfinite(fit.losses).all()
    assert fit.step_stats["critic_loss"].shape == (4,) and np.isfinite(fit.step_stats["critic_loss"]).all()
    assert fit.to_inference_data().sample_stats["critic_loss"].dims == ("step",)
    assert fit.objective == "two_player"
    assert "elbo" not in fit.to_inference_data().sample_stats  # a generator loss is not an ELBO


class _Score(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))


def _sliced_score_matching(module, batch):  # E[v' (ds/dx) v + |s|^2 / 2] (Song et al. 2019)
    x = batch.clone().requires_grad_(True)
    score = module.net(x)
    v = torch.randn_like(x)
    grad, = torch.autograd.grad((score * v).sum(), x, create_graph=True)
    return ((grad * v).sum(1) + 0.5 * (score ** 2).sum(1)).mean()


def test_sliced_score_matching_trains():
    fit = train(_Score(), X, loss=_sliced_score_matching, num_steps=5, batch_size=32, progress_bar=False,
                num_generated=0)
    assert len(fit.losses) == 5 and np.isfinite(fit.losses).all()
    assert fit.objective == "regression" and "critic_loss" not in fit.step_stats


def test_jit_trace_mean_field_elbo_compiles_once_and_equals_the_plain_elbo():
    # Pyro 1.9's JitTraceMeanField_ELBO never kept its compiled loss (it tests an attribute it never sets), so every
    # step re-ran torch.jit.trace (8x slower); the engine keeps it. Once compiled, its value under a seed equals
    # TraceMeanField_ELBO's under the same seed.
    import warnings

    import pyro

    from pgm_ppl.deep_latent import vae
    from pgm_ppl.training.objectives import make_objective

    module = vae(6, latent_features=2, hidden_features=8, register_with_pyro=True, seed=0)
    x = (torch.rand(16, 6, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    jit, plain = (make_objective(module, elbo) for elbo in (pyro.infer.JitTraceMeanField_ELBO(),
                                                            pyro.infer.TraceMeanField_ELBO()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit's tracer warnings
        jit(x)
        compiled = jit.elbo.elbo._differentiable_loss
        pyro.set_rng_seed(1)
        value = jit(x)
        assert jit.elbo.elbo._differentiable_loss is compiled
        pyro.set_rng_seed(1)
        torch.testing.assert_close(value, plain(x))
