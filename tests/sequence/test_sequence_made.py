"""NADE and MADE: exact normalisation, the autoregressive property, ensembles, training on binarised digits."""

import itertools

import numpy as np
import pyro.poutine as poutine
import pytest
import torch

from pgm_ppl.sequence import made, nade

D = 6
EVERYTHING = torch.tensor(list(itertools.product((0.0, 1.0), repeat=D)), dtype=torch.float64)

MODELS = {
    "made": lambda: made(D, hidden_features=16, seed=1),
    "made_ensemble": lambda: made(D, hidden_features=(16, 12), num_masks=4, seed=2),
    "nade": lambda: nade(D, hidden_features=8, seed=1),
    "nade_ensemble": lambda: nade(D, hidden_features=8, num_orderings=3, seed=2),
}


@pytest.fixture(params=list(MODELS))
def model(request):
    net = MODELS[request.param]().double()
    with torch.no_grad():  # move the biases off zero so the check is not trivially symmetric
        for p in net.parameters():
            p.add_(0.3 * torch.sin(torch.arange(p.numel(), dtype=p.dtype)).reshape(p.shape))
    return net


def test_probabilities_over_all_binary_vectors_sum_to_one(model):
    for s in range(model.num_masks):
        assert torch.logsumexp(model.log_prob_mask(EVERYTHING, s), 0).item() == pytest.approx(0.0, abs=1e-10)
    assert torch.logsumexp(model.log_prob(EVERYTHING), 0).item() == pytest.approx(0.0, abs=1e-10)


def test_each_conditional_reads_only_earlier_coordinates(model):
    """The Jacobian of the logits is zero unless the input comes earlier in the mask's ordering."""
    x = EVERYTHING[37:38].clone()
    for s in range(model.num_masks):
        jacobian = torch.autograd.functional.jacobian(lambda z: model.logits(z, s)[0], x)[:, 0, :]  # (out, in)
        position = torch.empty(D, dtype=torch.long)
        position[model.ordering(s)] = torch.arange(D)
        allowed = position[None, :] < position[:, None]  # input j may feed output i iff it comes first
        assert torch.all(jacobian[~allowed] == 0)
        assert torch.any(jacobian[allowed] != 0)


def test_ensemble_is_the_log_mean_exp_of_joint_likelihoods(model):
    per_mask = torch.stack([model.log_prob_mask(EVERYTHING, s).exp() for s in range(model.num_masks)])
    torch.testing.assert_close(model.log_prob(EVERYTHING).exp(), per_mask.mean(0))


def test_pyro_model_is_the_bernoulli_likelihood():
    net = made(D, hidden_features=16, seed=1).double()
    trace = poutine.trace(net.model).get_trace(EVERYTHING[:5])
    torch.testing.assert_close(trace.log_prob_sum(), net.log_prob(EVERYTHING[:5]).sum())


def test_samples_follow_the_model_law():
    """Empirical frequencies of 20,000 samples over the 2^6 vectors: chi-square p-value above 1e-3."""
    import scipy.stats

    net = made(D, hidden_features=16, num_masks=2, seed=3).double()
    torch.manual_seed(0)
    draws = net.sample(20_000)
    index = (draws * 2 ** torch.arange(D - 1, -1, -1, dtype=torch.float64)).sum(-1).long()
    counts = np.bincount(index.numpy(), minlength=2 ** D)
    expected = 20_000 * net.log_prob(EVERYTHING).exp().detach().numpy()
    assert expected.min() > 5  # every cell is well populated: the chi-square approximation holds
    assert scipy.stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 1e-3


def test_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"x: expected binary rows of shape \(n, 6\), got shape \(2, 5\)."):
        made(D).log_prob(torch.zeros(2, 5))


@pytest.fixture(scope="module")
def digits_fits():
    from pgm_ppl.data.images import load_binarized_digits
    from pgm_ppl.training import train

    X_train, X_test, _, _ = load_binarized_digits()
    fits = {name: train(factory(64, hidden_features=hidden, seed=0), X_train, num_steps=200, batch_size=100,
                        learning_rate=1e-2, num_generated=8, seed=0)
            for name, factory, hidden in (("made", made, 64), ("nade", nade, 32))}
    return X_train, X_test, fits


def test_trained_on_binarised_digits_beside_the_bernoulli_mixture(digits_fits):
    """Held-out comparison table (pgm_ppl.diagnostics.compare_heldout): MADE and NADE beat the independent-pixel
    model by a wide margin and enter the table as exact densities beside EM's Bernoulli mixture."""
    from pgm_ppl.diagnostics import as_fit, compare_heldout
    from pgm_ppl.em import fit_bernoulli_mixture

    X_train, X_test, fits = digits_fits
    rho = (X_train.sum(0) + 1) / (len(X_train) + 2)
    independent = -(X_test * np.log(rho) + (1 - X_test) * np.log(1 - rho)).sum(1).mean()
    mixture = as_fit(fit_bernoulli_mixture(X_train, 10, pseudo_count=1.0, seed=0), X_train)
    table = compare_heldout({**fits, "bernoulli_mixture_10": mixture}, X_test)
    assert set(table.index) == {"made", "nade", "bernoulli_mixture_10"}
    assert set(table["kind"]) == {"exact"}
    for name in ("made", "nade"):
        nll = -fits[name].log_prob(X_test).mean()
        assert nll < independent - 3.0, (name, nll, independent)
    samples = fits["made"].sample(8, seed=1)
    assert samples.shape == (8, 64) and set(np.unique(samples)) <= {0.0, 1.0}
