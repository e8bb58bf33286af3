"""Classifier-free guidance (course row 9.21, absent from the notes; Ho & Salimans 2022): w = 0 is the conditional
model, w > 0 sharpens the class; a conditional DDPM trains on (X, y) through the engine."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from pgm_ppl.diffusion import DDPM, ancestral_sample, cosine_schedule, ddim_sample, ddpm

MEANS = torch.tensor([[-2.0, 0.0], [2.0, 0.0]], dtype=torch.float64)
SCALE = 0.5


class ExactClassEpsilon(nn.Module):
    """The exact epsilon of the two Gaussian classes N(m_k, s^2 I), and of their equal-weight mixture for the null
    label (responsibility-weighted class predictions: E[eps | x_t] = sum_k p(k | x_t) E[eps | x_t, k])."""

    def __init__(self, schedule):
        super().__init__()
        self.schedule = (schedule,)
        self.features = 2
        self.register_buffer("anchor", torch.zeros(1, dtype=torch.float64))

    def forward(self, x, t, y):
        a = torch.exp(self.schedule[0].continuous_log_alpha_bar(t)).to(x.dtype)[:, None]
        var = a * SCALE ** 2 + 1 - a
        per_class = torch.stack([(1 - a).sqrt() * (x - a.sqrt() * m) / var for m in MEANS])  # (2, n, d)
        log_lik = torch.stack([-((x - a.sqrt() * m) ** 2).sum(-1) / (2 * var[:, 0]) for m in MEANS])  # (2, n)
        mixture = (torch.softmax(log_lik, 0)[..., None] * per_class).sum(0)
        y = y.long()
        out = mixture.clone()
        for k in range(2):
            out = torch.where((y == k)[:, None], per_class[k], out)
        return out


@pytest.fixture(scope="module")
def guided():
    schedule = cosine_schedule(200).double()
    return DDPM(ExactClassEpsilon(schedule), schedule, num_classes=2, variance="beta").double()


def test_weight_zero_is_the_conditional_model(guided):
    """w = 0: epsilon is the conditional network's and samples of class 1 follow N(m_1, s^2) (4 standard errors)."""
    x = torch.randn(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    t = torch.full((5,), 80.0, dtype=torch.float64)
    y = torch.ones(5, dtype=torch.long)
    torch.testing.assert_close(guided.epsilon(x, t, y, 0.0), guided.network(x, t, y))
    w = 2.0
    torch.testing.assert_close(guided.epsilon(x, t, y, w),
                               (1 + w) * guided.network(x, t, y) - w * guided.network(x, t, torch.full_like(y, 2)))
    n = 2000
    draws = ancestral_sample(guided, n, y=torch.ones(n, dtype=torch.long), guidance_weight=0.0, seed=1)
    assert bool(((draws.mean(0) - MEANS[1]).abs() < 4 * SCALE / math.sqrt(n) + 0.01).all())
    assert bool(((draws.std(0) - SCALE).abs() < 4 * SCALE / math.sqrt(2 * n) + 0.01).all())


def test_positive_weight_sharpens_the_class(guided):
    """w > 0 targets p(x | y) p(y | x)^w: samples move away from the other class (larger first coordinate)
    and concentrate (smaller spread along the class axis), deterministically with DDIM from the same noise."""
    n = 2000
    x_T = torch.randn(n, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    y = torch.ones(n, dtype=torch.long)
    plain = ddim_sample(guided, n, num_time_steps=50, y=y, guidance_weight=0.0, x_T=x_T)
    sharp = ddim_sample(guided, n, num_time_steps=50, y=y, guidance_weight=3.0, x_T=x_T)
    assert float(sharp[:, 0].mean()) > float(plain[:, 0].mean()) + 0.05


def test_conditional_ddpm_trains_on_labelled_tuples_and_drops_labels():
    model = ddpm(2, num_time_steps=50, hidden_features=16, num_classes=3, label_dropout=0.5, seed=0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    X = rng.normal(size=(300, 2)) + y[:, None]
    from pgm_ppl.training import train

    fit = train(model, (X, y), num_steps=20, batch_size=64, num_generated=10)
    assert np.all(np.isfinite(fit.losses))
    with torch.random.fork_rng():
        torch.manual_seed(0)
        dropped = model._drop_labels(torch.zeros(10000, dtype=torch.long))
    assert float((dropped == 3).double().mean()) == pytest.approx(0.5, abs=4 * 0.5 / 100)
    assert model.sample(6).shape == (6, 2)
    with pytest.raises(ValueError, match="labels"):
        model.network(torch.zeros(2, 2), torch.zeros(2), torch.tensor([0, 7]))
