"""Neural language models: causality, exact normalisation, the Pyro model, the engine, KV caches."""

import itertools

import numpy as np
import pyro.poutine as poutine
import pytest
import torch

from pgm_ppl.data.text import markov_chain_text, sliding_windows
from pgm_ppl.sequence import (generate, markov_entropy_rate, nplm, rnn_lm, score, transformer_lm)
from pgm_ppl.training import train

V = 3

MODELS = {
    "nplm": lambda: nplm(V, context_length=5, window=3, embed_dim=4, hidden_features=8, seed=1),
    "rnn": lambda: rnn_lm(V, context_length=5, cell="rnn", embed_dim=4, hidden_features=6, seed=1),
    "lstm": lambda: rnn_lm(V, context_length=5, cell="lstm", embed_dim=4, hidden_features=6, seed=1),
    "gru_tied": lambda: rnn_lm(V, context_length=5, cell="gru", embed_dim=6, hidden_features=6, tie_weights=True,
                               seed=1),
    "transformer_post_ln": lambda: transformer_lm(V, context_length=5, embed_dim=8, num_heads=2, seed=1),
    "transformer_pre_ln_learned": lambda: transformer_lm(V, context_length=5, embed_dim=8, num_heads=2,
                                                         norm_first=True, positions="learned", tie_weights=False,
                                                         max_length=12, seed=1),
}


@pytest.fixture(params=list(MODELS))
def lm(request):
    return MODELS[request.param]().double()


def test_causality_perturbing_a_token_leaves_earlier_logits_unchanged(lm):
    x = torch.randint(0, V, (4, 6), generator=torch.Generator().manual_seed(0))
    base = lm.logits(x)
    for t in range(6):
        y = x.clone()
        y[:, t] = (y[:, t] + 1) % V
        changed = lm.logits(y)
        # logits at positions <= t predict x_0..x_t from tokens before them: they never read x_t
        torch.testing.assert_close(changed[:, :t + 1], base[:, :t + 1], rtol=0, atol=1e-12)
        if t < 5:
            assert not torch.allclose(changed[:, t + 1:], base[:, t + 1:])


def test_log_prob_is_a_normalised_joint_over_all_sequences(lm):
    """exp(log p) summed over all V**4 sequences of length 4 is one (BOS-started rows are exact joints)."""
    everything = torch.tensor(list(itertools.product(range(V), repeat=4)))
    total = torch.logsumexp(lm.log_prob(everything), 0)
    assert abs(total.item()) < 1e-10


def test_pyro_model_log_density_is_the_log_likelihood(lm):
    x = torch.randint(0, V, (5, 6), generator=torch.Generator().manual_seed(1))
    trace = poutine.trace(lm.model).get_trace(x)
    site = trace.nodes["x"]
    assert site["is_observed"] and site["fn"].event_shape == (6,)
    torch.testing.assert_close(trace.log_prob_sum(), lm.log_prob(x).sum())


def test_cached_generation_equals_uncached_token_for_token(lm):
    prompt = torch.tensor([0, 2, 1])
    for rule in ({"greedy": True}, {"temperature": 1.3, "top_k": 2}, {"top_p": 0.8}):
        cached = generate(lm, prompt, 8, num_samples=4, seed=7, use_cache=True, **rule)
        uncached = generate(lm, prompt, 8, num_samples=4, seed=7, use_cache=False, **rule)
        assert torch.equal(cached, uncached)
        assert torch.equal(cached[:, :3], prompt.expand(4, -1))


def test_attention_maps_are_causal_distributions():
    lm = MODELS["transformer_post_ln"]().double()
    maps = lm.attention_maps(torch.randint(0, V, (2, 6)))
    assert maps.shape == (2, 2, 2, 6, 6)
    torch.testing.assert_close(maps.sum(-1), torch.ones(2, 2, 2, 6, dtype=torch.float64))
    assert torch.all(maps.triu(1) == 0)


def test_weight_tying_shares_the_embedding():
    lm = transformer_lm(V, context_length=5, embed_dim=8, num_heads=2, tie_weights=True)
    untied = transformer_lm(V, context_length=5, embed_dim=8, num_heads=2, tie_weights=False)
    count = sum(p.numel() for p in lm.parameters())
    assert sum(p.numel() for p in untied.parameters()) - count == V * 8
    with pytest.raises(ValueError, match="tie_weights: expected hidden_features == embed_dim, got 6 and 4."):
        rnn_lm(V, embed_dim=4, hidden_features=6, tie_weights=True)


def test_factories_are_seeded():
    a, b = transformer_lm(V, seed=3), transformer_lm(V, seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.fixture(scope="module")
def trained():
    """A small Transformer trained by the engine on text from an order-2 chain (a few seconds)."""
    torch.manual_seed(0)
    ids, source = markov_chain_text(4, 2, 20_000, seed=0)
    test, _ = markov_chain_text(num_time_steps=8_000, seed=1, source=source)
    lm = transformer_lm(4, context_length=16, embed_dim=32, num_heads=2, num_layers=1, seed=0)
    fit = train(lm, sliding_windows(ids, 17, stride=4), num_steps=250, batch_size=64, learning_rate=3e-3,
                num_generated=20, seed=0)
    return lm, fit, test, source


def test_engine_trains_on_integer_tokens_and_approaches_the_entropy_floor(trained):
    lm, fit, test, source = trained
    rate = markov_entropy_rate(source).value
    result = score(lm, test, entropy_floor=rate)
    # the loss is the summed NLL of the batch: first and last steps bracket the fit
    assert fit.losses[-1] < fit.losses[0]
    assert fit.objective == "negative_elbo"
    # the leak detector: never below the floor beyond 3 standard errors; and it learned (within 0.15 nats of it)
    assert result.nll > rate - 3 * result.standard_error
    assert result.nll < rate + 0.15
    assert result.perplexity == pytest.approx(np.exp(result.nll))
    draws = fit.sample(5, seed=0)
    assert draws.shape == (5, 17) and np.issubdtype(draws.dtype, np.integer)
    idata = fit.to_inference_data()  # the one converter: loss trace, generated token rows, observed rows
    assert idata.posterior_predictive["x"].shape[-2:] == (20, 17)
    assert np.issubdtype(idata.observed_data["x"].dtype, np.integer)
    held = fit.log_prob(sliding_windows(test, 17)[:10])
    torch.testing.assert_close(torch.as_tensor(held), lm.log_prob(torch.as_tensor(sliding_windows(test, 17)[:10]))
                               .double(), rtol=1e-5, atol=1e-5)


def test_bayesian_output_layer_model_guide_and_predictive():
    """The Bayesian variant: the ELBO of its model and guide is Pyro's (likelihood scaled by num_data / batch), its
    posterior predictive sums to one over all sequences, it stays causal, and the engine fits it by SVI."""
    from pyro.infer import Trace_ELBO

    from pgm_ppl.sequence import bayesian_output_lm

    body = transformer_lm(V, context_length=3, embed_dim=8, num_heads=2, seed=1)
    lm = bayesian_output_lm(body, num_data=40, prior_scale=2.0, num_particles=8, seed=0).double()
    x = torch.randint(0, V, (5, 4), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    guide = poutine.trace(lm.guide).get_trace(x)
    model = poutine.trace(poutine.replay(lm.model, trace=guide)).get_trace(x)
    W, b = guide.nodes["W"]["value"], guide.nodes["b"]["value"]
    h, _ = body.double().features(lm._inputs(x))
    log_lik = torch.distributions.Categorical(logits=h @ W.T + b).log_prob(x).sum()
    prior = lm._prior()
    expected = (40 / 5) * log_lik + prior[0].log_prob(W) + prior[1].log_prob(b) - guide.log_prob_sum()
    torch.testing.assert_close(model.log_prob_sum() - guide.log_prob_sum(), expected)
    everything = torch.tensor(list(itertools.product(range(V), repeat=4)))
    assert abs(torch.logsumexp(lm.log_prob(everything), 0).item()) < 1e-10  # a mixture of normalised models
    base = lm.logits(x)
    y = x.clone()
    y[:, 2] = (y[:, 2] + 1) % V
    torch.testing.assert_close(lm.logits(y)[:, :3], base[:, :3])
    ids, _ = markov_chain_text(3, 1, 2_000, seed=2)
    rows = sliding_windows(ids, 4)
    fresh = bayesian_output_lm(transformer_lm(V, context_length=3, embed_dim=8, num_heads=2, seed=1), len(rows))
    fit = train(fresh, rows, num_steps=60, batch_size=50, learning_rate=1e-2, num_generated=4, seed=0)
    assert fit.objective == "negative_elbo" and fit.density.kind == "estimate"
    assert fit.losses[-1] < fit.losses[0]
    assert fit.sample(3, seed=0).shape == (3, 4)
