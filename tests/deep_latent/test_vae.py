"""VAEs as Pyro model-guide pairs (course §6.4): ELBOs, KL, gradients, IWAE, PPCA optimum, collapse, digits."""

import math
import warnings

import numpy as np
import pyro
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from pgm_ppl.data.images import load_binarized_digits
from pgm_ppl.deep_latent import collapse_diagnostics, elbo_gradient_samples, iwae_loss, vae, with_importance_samples
from pgm_ppl.training import train

torch.set_num_threads(1)


def _linear_vae(D=4, L=2, seed=0):
    """A linear-Gaussian VAE: p(z) = N(0, I), x | z ~ N(W z + b, s2 I); encoder affine."""
    return vae(D, latent_features=L, hidden_features=(), likelihood="gaussian", noise_variance="shared",
               seed=seed).double()


def _set_linear(model, W, b, s2, A, a, post_sd):
    """Decoder weights W (D, L), bias b, noise variance s2; encoder mean A x + a, constant sd post_sd (L,)."""
    L = W.shape[1]
    with torch.no_grad():
        model.decoder[0].weight.copy_(torch.as_tensor(W))
        model.decoder[0].bias.copy_(torch.as_tensor(b))
        model.log_noise_scale.copy_(torch.tensor(math.log(math.sqrt(s2) - 1e-4)))
        enc = model.encoder[0]
        enc.weight.zero_()
        enc.weight[:L].copy_(torch.as_tensor(A))
        enc.bias[:L].copy_(torch.as_tensor(a))
        raw = np.log(np.expm1(np.asarray(post_sd) - 1e-4))  # softplus^{-1}
        enc.bias[L:].copy_(torch.as_tensor(raw))


def _linear_problem(seed=0):
    rng = np.random.default_rng(seed)
    D, L = 4, 2
    W = np.linalg.qr(rng.normal(size=(D, L)))[0] * np.array([2.0, 1.0])  # orthogonal columns: diagonal posterior
    b = rng.normal(size=D)
    s2 = 0.3
    M = W.T @ W + s2 * np.eye(L)
    A = np.linalg.solve(M, W.T)  # exact posterior mean M^-1 W^T (x - b)
    post_sd = np.sqrt(s2 / np.diag(M))
    x = rng.multivariate_normal(b, W @ W.T + s2 * np.eye(D), size=6)
    log_px = multivariate_normal(b, W @ W.T + s2 * np.eye(D)).logpdf(x)
    return W, b, s2, A, -A @ b, post_sd, x, log_px


def test_analytic_kl_equals_monte_carlo_kl_and_trace_elbos_agree():
    model = vae(64, latent_features=3, hidden_features=(16,), seed=1).double()
    X = torch.as_tensor(load_binarized_digits()[0][:5])
    q = model.posterior(X)
    analytic = torch.distributions.kl_divergence(q, model.prior((5,)))
    loc, scale = model.encode(X)
    by_6_15 = 0.5 * (loc ** 2 + scale ** 2 - 2 * scale.log() - 1).sum(-1)  # eq. (6.15)
    torch.testing.assert_close(analytic, by_6_15)
    torch.manual_seed(0)
    z = q.sample((20000,))
    terms = q.log_prob(z) - model.prior().log_prob(z)
    mc, se = terms.mean(0), terms.std(0) / math.sqrt(20000)
    assert torch.all((mc - analytic).abs() < 4 * se), (mc, analytic, se)
    # Pyro's two ELBOs on the same model/guide: TraceMeanField (analytic KL) vs Trace_ELBO (MC KL), many particles
    with pyro.poutine.block():
        pyro.set_rng_seed(0)
        tmf = pyro.infer.TraceMeanField_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=1)
        mc_elbo = pyro.infer.Trace_ELBO(num_particles=2000, vectorize_particles=True, max_plate_nesting=1)
        a, b = tmf.loss(model.model, model.guide, X), mc_elbo.loss(model.model, model.guide, X)
    # both average 2000 particles of a per-batch loss whose sd is < 60 nats here: agreement within ~4 nats at most
    with torch.no_grad():
        single = torch.stack([-(model.log_weights(X, 1)).sum() for _ in range(300)])
    tolerance = 5 * float(single.std()) / math.sqrt(2000) * math.sqrt(2)
    assert abs(a - b) < tolerance
    with torch.no_grad():  # the module's own elbo() (used by log_prob) is TraceMeanField_ELBO's per-row ELBO
        own = -model.elbo(X, 2000).sum().item()
    assert abs(own - a) < tolerance


def test_beta_scales_exactly_the_kl_term():
    X = torch.as_tensor(load_binarized_digits()[0][:7])
    elbo = pyro.infer.TraceMeanField_ELBO()
    losses = {}
    for beta in (1.0, 3.0):
        model = vae(64, latent_features=3, hidden_features=(16,), beta=beta, seed=2).double()
        pyro.set_rng_seed(5)
        losses[beta] = elbo.loss(model.model, model.guide, X)
    kl = torch.distributions.kl_divergence(model.posterior(X), model.prior((7,))).sum().item()
    assert losses[3.0] - losses[1.0] == pytest.approx(2.0 * kl, rel=1e-9)


def test_score_function_and_pathwise_gradients_agree_in_mean():
    W, b, s2, A, a, post_sd, x, _ = _linear_problem()
    model = _linear_vae()
    _set_linear(model, W, b, s2, 0.5 * A, a + 0.3, post_sd * 1.5)  # a poor encoder: a non-zero gradient
    path = elbo_gradient_samples(model, x[:2], estimator="pathwise", num_samples=4000, seed=0)
    score = elbo_gradient_samples(model, x[:2], estimator="score_function", num_samples=4000, seed=1)
    se = np.sqrt(path.variance / 4000 + score.variance / 4000)
    moving = path.variance > 0  # the weights of the constant sd's head get no gradient from either
    z = (path.mean - score.mean)[moving] / se[moving]
    assert np.max(np.abs(z)) < 4.5, z
    assert np.abs(path.mean[moving]).max() > 10 * se[moving].max()  # a gradient that the test can see
    assert np.median(score.variance[moving] / path.variance[moving]) > 5  # the notes' point: REINFORCE is noisy


def test_iwae_is_exact_with_the_true_posterior_and_nondecreasing_in_K():
    W, b, s2, A, a, post_sd, x, log_px = _linear_problem()
    model = _linear_vae()
    _set_linear(model, W, b, s2, A, a, post_sd)
    X = torch.as_tensor(x)
    torch.manual_seed(0)
    for K in (1, 7, 300):  # p(x, z) / q(z | x) = p(x) for every z: the estimate is exact at any K
        np.testing.assert_allclose(model.iwae(X, K, chunk_size=64).numpy(), log_px, atol=1e-9)
    # an imperfect encoder: E[L_K] non-decreasing in K, -> log p(x), and NaN-free
    _set_linear(model, W, b, s2, 0.6 * A, a, post_sd * 1.6)
    means, ses = [], []
    for K in (1, 10, 100, 1000):
        reps = torch.stack([model.iwae(X, K, chunk_size=250) for _ in range(40)]).numpy()
        means.append(reps.mean(0))
        ses.append(reps.std(0, ddof=1) / math.sqrt(40))
    means, ses = np.array(means), np.array(ses)
    assert np.all(np.diff(means, axis=0) > -3 * np.hypot(ses[1:], ses[:-1]))
    assert np.all(means[0] < log_px - 0.05)  # the ELBO is a strict bound here
    big = model.iwae(X, 5000, chunk_size=500).numpy()
    sd_5000 = ses[-1] * math.sqrt(40) * math.sqrt(1000 / 5000)  # the sd of one L_K scales as 1/sqrt(K)
    assert np.all(np.abs(big - log_px) < 5 * sd_5000 + 0.01), (big - log_px, sd_5000)


def test_linear_vae_optimum_is_ppca():
    from pgm_ppl.em.factor_analysis import ppca_closed_form

    rng = np.random.default_rng(0)
    D, L, N = 5, 2, 400
    W_true = rng.normal(size=(D, L)) * np.array([2.0, 1.0])
    X = rng.normal(size=(N, L)) @ W_true.T + 0.5 * rng.normal(size=(N, D)) + 1.0
    ppca = ppca_closed_form(X, L)
    loglik = multivariate_normal(ppca.mean, ppca.covariance()).logpdf(X).mean()
    model = _linear_vae(D, L, seed=0)
    # the module's ELBO (6.6) with the analytic KL (6.15), as TraceMeanField_ELBO computes it (first test), with
    # 16 reconstruction particles: cheaper per step than Pyro's tracing, and less gradient noise
    train(model, X, loss=lambda m, batch: -m.elbo(batch, 16).mean(), num_steps=1200, batch_size=N,
          learning_rate=0.1, lr_schedule="cosine", dtype=torch.float64, num_generated=0)
    # the exact ELBO of the linear VAE (no Monte Carlo): E_q log N(x; W z + b, s2 I) - KL
    with torch.no_grad():
        x = torch.as_tensor(X)
        loc, scale = model.encode(x)
        Wt, bt = model.decoder[0].weight, model.decoder[0].bias
        s2 = model.noise_scale() ** 2
        resid = ((x - loc @ Wt.T - bt) ** 2).sum(-1) + (scale ** 2 * (Wt ** 2).sum(0)).sum(-1)
        rec = -0.5 * D * torch.log(2 * math.pi * s2) - resid / (2 * s2)
        kl = 0.5 * (loc ** 2 + scale ** 2 - 2 * scale.log() - 1).sum(-1)
        elbo = (rec - kl).mean().item()
    assert elbo <= loglik + 1e-9
    assert elbo == pytest.approx(loglik, abs=1e-3)  # per row; Lucas et al. (2019): the gap closes at the optimum
    assert float(s2) == pytest.approx(ppca.noise_variance[0], rel=0.02)


@pytest.fixture(scope="module")
def digits_vae():
    X_train, X_test, y_train, y_test = load_binarized_digits()
    # JitTrace_ELBO on weights registered as Pyro params: the fastest route (benchmarks/bench_deep_latent.py)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        fit = train(vae(64, latent_features=8, hidden_features=(256,), register_with_pyro=True, seed=0), X_train,
                    loss=pyro.infer.JitTrace_ELBO(), num_steps=2000, batch_size=128, validation_data=X_test,
                    num_generated=64, seed=0)
    return fit, X_train, X_test


def test_digits_vae_iwae5000_beats_the_bernoulli_mixture(digits_vae):
    from pgm_ppl.em.bernoulli_mixture import bernoulli_mixture_log_joint, fit_bernoulli_mixture

    fit, X_train, X_test = digits_vae
    assert fit.density.kind == "lower_bound" and fit.objective == "negative_elbo"
    assert len(pyro.get_param_store().keys()) == 0  # registration stayed inside the engine's scoped store
    elbo = fit.log_likelihood["x"].ravel()
    view = with_importance_samples(fit.model, 5000)
    assert view.log_prob_kind == "estimate" and fit.model.log_prob_kind == "lower_bound"
    torch.manual_seed(0)
    with torch.no_grad():
        iwae = view.log_prob(torch.as_tensor(X_test, dtype=torch.float32)).numpy()
    assert np.all(np.isfinite(iwae))
    assert iwae.mean() > elbo.mean()  # the tighter bound
    mixture = fit_bernoulli_mixture(X_train, 10, seed=0)
    mixture_ll = logsumexp(bernoulli_mixture_log_joint(X_test, mixture.params), axis=1)
    assert -iwae.mean() < -mixture_ll.mean()  # the goal (numbers in the tutorial and report)
    assert fit.posterior_predictive["x"].shape == (1, 64, 64)


def test_collapse_diagnostics_and_mutual_information(digits_vae):
    fit, X_train, _ = digits_vae
    d = collapse_diagnostics(fit.model, X_train, num_samples=2)
    assert d.kl_per_dimension.shape == (8,) and np.all(d.kl_per_dimension >= 0)
    assert d.total_kl == pytest.approx(d.kl_per_dimension.sum())
    assert 0 < d.mutual_information <= math.log(len(X_train)) + 1e-9
    assert d.mutual_information <= d.total_kl + 0.05  # I_q <= E KL (the aggregate KL is >= 0)
    assert d.num_active == int((d.encoder_mean_variance > 0.01).sum()) >= 2
    # an encoder that ignores x (collapsed): zero information and no active unit
    collapsed = vae(64, latent_features=8, hidden_features=(256,), seed=0)
    with torch.no_grad():
        collapsed.encoder[-1].weight.zero_()
    c = collapse_diagnostics(collapsed, X_train)
    assert c.num_active == 0 and abs(c.mutual_information) < 1e-9


def test_conditional_vae_tuple_and_concatenated_batches_and_iwae_training():
    X, _, y, _ = load_binarized_digits()
    model = vae(64, latent_features=4, hidden_features=(32,), num_classes=10, seed=0)
    onehot = np.eye(10)[y]
    Xc = np.column_stack([X, onehot]).astype(np.float32)
    fit = train(model, Xc, loss=iwae_loss(5), num_steps=30, batch_size=64, num_generated=5)
    assert fit.posterior_predictive["x"].shape == (1, 5, 74)
    fit = train(model, (X, y), loss=pyro.infer.TraceMeanField_ELBO(), num_steps=30, batch_size=64,
                validation_data=(X[:9], y[:9]), num_generated=0)  # the engine's (x, y) batches
    assert np.isfinite(fit.losses).all() and fit.log_likelihood["x"].shape == (1, 1, 9)
    x, c = torch.as_tensor(X[:4], dtype=torch.float32), torch.as_tensor(y[:4])
    a = model.split((x, c))
    b = model.split(torch.as_tensor(Xc[:4]))
    torch.testing.assert_close(a[1], b[1])
    pyro.set_rng_seed(0)
    tr = pyro.poutine.trace(model.model).get_trace((x, c))
    assert tr.nodes["x"]["value"].shape == (4, 64)
    with pytest.raises(ValueError, match="num_classes"):
        vae(64, seed=0).split((x, c))


@pytest.mark.parametrize("kwargs, error", [({"likelihood": "poisson"}, ValueError),
                                           ({"noise_variance": -1.0}, ValueError),
                                           ({"architecture": "conv", "num_classes": 3}, ValueError),
                                           ({"latent_features": 0}, ValueError),
                                           ({"image_shape": (1, 5, 5), "architecture": "conv"}, ValueError)])
def test_vae_bad_arguments(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        vae(64, **kwargs)


def test_conv_vae_and_gaussian_decoder_run():
    X = load_binarized_digits()[0][:64].astype(np.float32)
    conv = vae(64, architecture="conv", latent_features=4, seed=0)
    fit = train(conv, X, num_steps=5, batch_size=32, num_generated=3, validation_data=X[:10])
    assert np.isfinite(fit.losses).all() and fit.log_likelihood["x"].shape == (1, 1, 10)
    assert conv.interpolate(torch.as_tensor(X[0]), torch.as_tensor(X[1]), 5).shape == (5, 64)
    gauss = vae(64, likelihood="gaussian", noise_variance=0.1, latent_features=2, hidden_features=(8,))
    fit = train(gauss, X, loss=pyro.infer.Trace_ELBO(), num_steps=5, batch_size=32, num_generated=0)
    assert np.isfinite(fit.losses).all() and float(gauss.noise_scale()) == pytest.approx(math.sqrt(0.1) + 1e-4)
