"""DDPM samplers as a new user meets them: the start x_T, labels and guidance of an unconditional model, and the
clipping range are checked, each error naming the argument, what was expected and what was received."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pgm_ppl.diffusion import DDPM, ancestral_sample, ddim_sample, ddpm


@pytest.fixture(scope="module")
def model():
    return ddpm(2, num_time_steps=10, hidden_features=8, time_features=4, seed=0)


@pytest.mark.parametrize("sampler", [ancestral_sample, lambda m, n, **kw: ddim_sample(m, n, num_time_steps=5, **kw)],
                         ids=["ancestral", "ddim"])
def test_the_start_is_checked_and_cast(model, sampler):
    x_T = np.random.default_rng(0).normal(size=(4, 2))  # float64 numpy: the same chain as the float32 tensor
    torch.testing.assert_close(sampler(model, 4, x_T=x_T, seed=0),
                               sampler(model, 4, x_T=torch.as_tensor(x_T, dtype=torch.float32), seed=0))
    with pytest.raises(ValueError, match=r"x_T: expected shape \(n, 2\), got \(4, 3\)"):
        sampler(model, 4, x_T=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="x_T: expected num_samples = 4 rows, got 3"):
        sampler(model, 4, x_T=np.zeros((3, 2)))


@pytest.mark.parametrize("sampler", [ancestral_sample, lambda m, n, **kw: ddim_sample(m, n, num_time_steps=5, **kw)],
                         ids=["ancestral", "ddim"])
def test_an_unconditional_model_refuses_labels_and_guidance(model, sampler):
    with pytest.raises(ValueError, match=r"y: expected None for an unconditional model \(num_classes=None\)"):
        sampler(model, 3, y=torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="guidance_weight: expected None or 0 for an unconditional model"):
        sampler(model, 3, guidance_weight=2.0)
    assert sampler(model, 3, guidance_weight=0.0, seed=0).shape == (3, 2)


def test_ddim_clip_range_must_be_ordered(model):
    with pytest.raises(ValueError, match=r"clip: expected None or \(low, high\) with low < high, got \(1.0, -1.0\)"):
        ddim_sample(model, 3, num_time_steps=5, clip=(1.0, -1.0))
    clipped = ddim_sample(model, 3, num_time_steps=5, clip=(-1.0, 1.0), seed=0)
    assert clipped.shape == (3, 2) and bool(torch.isfinite(clipped).all())


def test_guidance_needs_a_conditional_model():
    with pytest.raises(ValueError, match=r"guidance_weight: expected 0 for an unconditional model"):
        ddpm(2, guidance_weight=1.0)
    plain = ddpm(2, hidden_features=8)
    with pytest.raises(ValueError, match="ode_tol: expected a finite number > 0, got -1"):
        DDPM(plain.network, plain.schedule, ode_tol=-1.0)
    assert ddpm(2, num_classes=3, guidance_weight=1.0, hidden_features=8).guidance_weight == 1.0


def test_reverse_sde_sampler_names_a_misplaced_argument(model):
    from pgm_ppl.diffusion import reverse_sde_sample

    with pytest.raises(TypeError, match=r"sde: expected a VPSDE, VESDE or DiscreteVPSDE, got DDPM .*model.sde"):
        reverse_sde_sample(model.score, model, 3, 2, num_time_steps=5)
    with pytest.raises(TypeError, match="score: expected a callable score"):
        reverse_sde_sample(None, model.sde, 3, 2, num_time_steps=5)
    with pytest.raises(ValueError, match=r"x_start: expected a tensor of shape \(3, 2\), got \(3, 5\)"):
        reverse_sde_sample(model.score, model.sde, 3, 2, num_time_steps=5, x_start=torch.zeros(3, 5))
    draws = reverse_sde_sample(model.score, model.sde, 3, 2, num_time_steps=5, seed=0)
    assert draws.shape == (3, 2) and bool(torch.isfinite(draws).all())
