"""Autoencoders (a linear one spans the PCA subspace, Remark 6.5) and Example 6.1's classifiers (NLL (6.3))."""

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from sklearn.metrics import log_loss

from pgm_ppl.deep_latent import autoencoder, classifier
from pgm_ppl.training import train

torch.set_num_threads(1)


def test_linear_autoencoder_spans_the_pca_subspace():
    rng = np.random.default_rng(0)
    scales = np.array([3.0, 2.0, 0.5, 0.4, 0.3, 0.2])  # eigengap between the 2nd and 3rd directions
    basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    X = (rng.normal(size=(2000, 6)) * scales) @ basis.T + 1.0
    model = autoencoder(6, code_features=2, hidden_features=(), seed=0)
    fit = train(model, X, num_steps=600, batch_size=500, learning_rate=0.02, lr_schedule="cosine",
                dtype=torch.float64, num_generated=0)
    assert fit.density is None  # not a generative model (Remark 6.7)
    decoder = model.decoder[0].weight.detach().numpy()  # (6, 2): its columns span the reconstructions
    pca = PCA(2).fit(X)
    angles = subspace_angles(decoder, pca.components_.T)
    assert np.max(angles) < 0.01, angles  # radians
    with torch.no_grad():
        mse = ((model.reconstruct(torch.as_tensor(X)) - torch.as_tensor(X)) ** 2).sum(-1).mean().item()
    residual = X - pca.inverse_transform(pca.transform(X))
    optimum = (residual ** 2).sum(-1).mean()  # PCA's reconstruction error, the linear optimum (Eckart-Young)
    assert optimum * (1 - 1e-9) <= mse < optimum * 1.02


def test_classifier_loss_is_the_categorical_nll():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 64)).astype(np.float32)
    y = rng.integers(0, 10, size=300)
    for architecture in ("mlp", "cnn"):
        model = classifier(64, 10, architecture=architecture, hidden_features=(32,), seed=0)
        fit = train(model, (X, y), num_steps=20, batch_size=100, validation_data=(X[:50], y[:50]),
                    validate_every=10, num_generated=0)
        assert np.isfinite(fit.validation_losses[9]) and fit.objective == "regression"
        with torch.no_grad():
            probs = torch.softmax(model.logits(torch.as_tensor(X)), -1).numpy().astype(np.float64)
            nll = model.loss((torch.as_tensor(X), torch.as_tensor(y))).item()
        assert nll == pytest.approx(log_loss(y, probs / probs.sum(1, keepdims=True), labels=range(10)), rel=1e-5)
    with pytest.raises(TypeError, match=r"\(x, y\)"):
        model.loss(torch.as_tensor(X))
