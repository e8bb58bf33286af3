"""Bad input to the VAE and the GAN: one clear message naming the argument, expected and received value; arrays
and other dtypes are read as the module's own (break-it review, issue 12)."""

import numpy as np
import pytest
import torch

from pgm_ppl.data.images import load_binarized_digits
from pgm_ppl.deep_latent import mlp_gan, vae


@pytest.fixture(scope="module")
def digits():
    X_train, X_test, y_train, y_test = load_binarized_digits()
    return X_test[:5], y_test[:5]


def small_vae(**options):
    return vae(64, latent_features=2, hidden_features=(8,), **options)


def test_log_prob_reads_arrays_lists_and_other_dtypes_as_the_module_dtype(digits):
    X, _ = digits
    model = small_vae()
    torch.manual_seed(0)
    reference = model.log_prob(torch.as_tensor(X, dtype=torch.float32))
    for value in (X, X.tolist(), torch.as_tensor(X), torch.as_tensor(X).long(), torch.as_tensor(X).bool()):
        torch.manual_seed(0)  # the same reparameterisation noise: the same single-sample ELBO
        torch.testing.assert_close(model.log_prob(value), reference)
    assert reference.dtype == torch.float32


@pytest.mark.parametrize("shape", [(5, 10), (5, 8, 8), (64,)])
def test_rows_of_the_wrong_shape_are_named(shape):
    with pytest.raises(ValueError, match=rf"x: expected rows of shape \(n, 64\) for this VAE of 64 features, "
                                         rf"got shape {__import__('re').escape(str(shape))}\."):
        small_vae().log_prob(torch.zeros(shape))


def test_conditional_labels_outside_the_classes_are_refused(digits):
    X, y = digits
    model = small_vae(num_classes=10)
    assert model.log_prob((torch.as_tensor(X), torch.as_tensor(y))).shape == (5,)
    with pytest.raises(ValueError, match=r"y: expected integer labels in \[0, 9\], got values in \[0, 11\]\."):
        model.log_prob((torch.as_tensor(X), torch.tensor([0, 1, 2, 3, 11])))
    with pytest.raises(ValueError, match=r"batch: expected an \(n, D\) array for this unconditional VAE"):
        small_vae().log_prob((torch.as_tensor(X), torch.as_tensor(y)))


def test_sample_sizes_and_thresholds_are_checked():
    with pytest.raises(ValueError, match=r"num_samples: expected an integer >= 0, got -1\."):
        small_vae().sample(-1)
    assert small_vae().sample(0).shape == (0, 64)
    with pytest.raises(TypeError, match=r"threshold: expected None or a finite number \(8.0 for raw digits\), "
                                        r"got 'a'\."):
        small_vae(threshold="a")
    with pytest.raises(ValueError, match=r"threshold: expected None or a finite number .*got nan\."):
        small_vae(threshold=float("nan"))


def test_gan_names_rows_of_the_wrong_size():
    gan = mlp_gan(2, hidden_features=(8,))
    with pytest.raises(ValueError, match=r"x: expected rows of shape \(n, 2\) for this GAN of 2 features, got "
                                         r"shape \(4, 3\)\."):
        gan.score(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"num_samples: expected an integer >= 0, got -2\."):
        gan.sample(-2)
    assert gan.score(torch.zeros(4, 2)).shape == (4,)
