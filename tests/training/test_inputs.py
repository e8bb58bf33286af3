"""Bad input is refused up front with a message naming the argument; model failures name their real cause."""

import re

import numpy as np
import pyro
import pyro.distributions as dist
import pytest
import torch
from models import LinearGaussianFlow, correlated_gaussian
from pyro.nn import PyroModule

from pgm_ppl.core.errors import NonFiniteLossError
from pgm_ppl.training import train

torch.set_num_threads(1)
X = correlated_gaussian(64)
QUICK = dict(num_steps=2, batch_size=32, num_generated=0, progress_bar=False)


def _empty():
    yield from ()


BAD = [  # (train's arguments, exception, the message it must contain)
    (dict(device="tpu"), ValueError, "device: expected 'cpu', 'cuda' or 'cuda:<index>' (or a torch.device), got 'tpu'."),
    (dict(dtype=torch.int32), TypeError, "dtype: expected a floating torch dtype (torch.float32 or torch.float64), "
                                         "got torch.int32."),
    (dict(validation_data=np.zeros((20, 3))), ValueError, "validation_data: expected an array of rows of shape (2,) "
                                                          "(the training data's rows), got shape (20, 3)."),
    (dict(validation_data=np.zeros(20)), ValueError, "rows of shape (2,) (the training data's rows), got shape (20,)."),
    (dict(data=_empty()), ValueError, "data: expected at least one batch, got an empty iterator."),
    (dict(loss=lambda m, b: b.sum()), ValueError, "loss: expected a loss that depends on the module's parameters, "
                                                  "got a tensor that does not depend on any parameter"),
    (dict(module=object()), TypeError, "module: expected a torch.nn.Module, got object."),
    (dict(seed=-1), ValueError, "seed: expected an integer >= 0, got -1."),
    (dict(seed=None), TypeError, "seed: expected an integer, got None (NoneType)."),
    (dict(seed=1.5), TypeError, "seed: expected an integer, got 1.5 (float)."),
    (dict(loss=pyro.infer.Trace_ELBO), TypeError, "loss: expected a Pyro ELBO instance, got the class Trace_ELBO; "
                                                  "pass Trace_ELBO()."),
    (dict(data={"x": X}), TypeError, "data: expected an array, a tensor or an iterable of batches, got a dict "
                                     "(pass the array itself, e.g. data['x'])."),
]


@pytest.mark.parametrize("arguments, error, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_is_refused_with_a_message(arguments, error, message):
    arguments = dict(arguments)
    module, data = arguments.pop("module", None) or LinearGaussianFlow(2), arguments.pop("data", X)
    with pytest.raises(error, match=re.escape(message)):
        train(module, data, **{**QUICK, **arguments})


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message of a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_before_anything_runs():
    module = LinearGaussianFlow(2)
    with pytest.raises(ValueError, match=re.escape("device: expected an available device, got 'cuda'; this machine "
                                                   "or torch build has no CUDA device")):
        train(module, X, device="cuda", dtype=torch.float64, **QUICK)
    assert module.b.dtype == torch.float32  # untouched


class _Gauss(PyroModule):
    def __init__(self):
        super().__init__()
        self.loc = torch.nn.Parameter(torch.zeros(2))

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Normal(self.loc, 1.0).to_event(1), obs=x)

    def log_prob(self, x):
        return dist.Normal(self.loc, 1.0).to_event(1).log_prob(x)

    def sample(self, num_samples):
        return dist.Normal(self.loc, 1.0).to_event(1).sample((num_samples,))


def test_bfloat16_weights_come_back_as_float32():
    fit = train(_Gauss(), X, dtype=torch.bfloat16, **{**QUICK, "num_generated": 3})
    assert fit.params["loc"].dtype == np.float32 and fit.log_prob(X[:3]).dtype == np.float64
    assert fit.posterior_predictive["x"].dtype == np.float64


def test_checkpoint_dir_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "not_a_folder"
    file.write_text("")
    with pytest.raises(ValueError, match=re.escape(f"checkpoint_dir: expected a folder (existing or not), got the "
                                                   f"file {file}.")):
        train(LinearGaussianFlow(2), X, checkpoint_dir=file, checkpoint_every=1, **QUICK)


@pytest.mark.parametrize("changed, shown", [
    (dict(lr_schedule="cosine"), "lr_schedule='cosine' where the checkpoint has None"),
    (dict(seed=1), "seed=1 where the checkpoint has 0"),
    (dict(ema_decay=0.9), "ema_decay=0.9 where the checkpoint has None"),
])
def test_resume_with_other_settings_is_refused(tmp_path, changed, shown):
    train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, checkpoint_every=2, **QUICK)
    with pytest.raises(ValueError, match=re.escape(f"resume: expected the settings of the run checkpointed in "
                                                   f"{tmp_path / 'checkpoint.pt'}, got {shown}.")):
        train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, resume=True, **{**QUICK, **changed})


def test_resume_with_fewer_steps_than_done_is_refused(tmp_path):
    train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, checkpoint_every=2, **{**QUICK, "num_steps": 4})
    with pytest.raises(ValueError, match=re.escape("num_steps: expected at least the 4 steps already done by the "
                                                   "checkpointed run, got 2;")):
        train(LinearGaussianFlow(2), X, checkpoint_dir=tmp_path, resume=True, **QUICK)


class _Bernoulli(PyroModule):
    def __init__(self):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(3))

    def model(self, x):
        with pyro.plate("data", x.shape[0]):
            pyro.sample("x", dist.Bernoulli(logits=self.logits).to_event(1), obs=x)


def test_integer_and_bool_data_are_told_to_cast_to_float():
    counts = np.random.default_rng(0).integers(0, 2, size=(40, 3))
    with pytest.raises(ValueError, match=r"data: _Bernoulli failed on a batch of dtype torch.int64 \(.*\); cast the "
                                         r"data to float"):
        train(_Bernoulli(), counts, **QUICK)
    with pytest.raises(ValueError, match=r"data: LinearGaussianFlow failed on a batch of dtype torch.bool .*; cast "
                                         r"the data to float"):
        train(LinearGaussianFlow(2), X > 0, **QUICK)


def test_a_shape_error_keeps_pyros_whole_shape_table():
    with pyro.validation_enabled(True), pytest.raises(
            ValueError, match=r"(?s)failed on a batch of shape \(32, 3\).*Trace Shapes:.*value 32 \| 3"):
        train(LinearGaussianFlow(2), np.ones((64, 3)), **QUICK)


def test_an_error_that_is_not_about_the_data_keeps_its_type():
    def loss(module, batch):
        raise KeyError("no such key")

    with pytest.raises(KeyError) as info:
        train(LinearGaussianFlow(2), X, loss=loss, **QUICK)
    assert "on the first batch (shape (32, 2)" in "".join(info.value.__notes__)


def test_a_list_of_rows_is_an_array():
    by_rows = train(LinearGaussianFlow(2), [row for row in X], **QUICK)
    assert np.array_equal(by_rows.losses, train(LinearGaussianFlow(2), X, **QUICK).losses)


def test_a_nan_custom_loss_is_called_non_finite():
    with pytest.raises(NonFiniteLossError, match="every parameter is finite there, yet the loss function returned "
                                                 "a non-finite value"):
        train(LinearGaussianFlow(2), X, loss=lambda m, b: m.b.sum() * float("nan"), **QUICK)
