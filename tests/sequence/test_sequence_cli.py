"""The text branch of the command: pgm-ppl train transformer --data FILE.txt, pgm-ppl sample DIR --prompt."""

import json

import numpy as np
import pytest

from pgm_ppl.cli import main


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("text")
    source = folder / "story.txt"
    source.write_text("the cat sat on the mat. " * 120, encoding="utf-8")
    out = folder / "run"
    status = main(["train", "transformer", "--data", str(source), "--out", str(out), "--steps", "30",
                   "--batch-size", "16", "--set", "context_length=16", "--set", "embed_dim=16",
                   "--set", "num_layers=1", "--set", "learning_rate=0.01"])
    assert status == 0
    return source, out


def test_train_writes_a_text_run_with_provenance(text_run):
    source, out = text_run
    for name in ("run.json", "checkpoint.pt", "model.pt", "loss.png", "metrics.json", "samples.txt"):
        assert (out / name).is_file(), name
    spec = json.loads((out / "run.json").read_text())
    assert spec["text"]["tokenizer"]["vocabulary"] and len(spec["text"]["sha256"]) == 64
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["bits_per_char"] == pytest.approx(metrics["test"]["nll_nats_per_char"] / np.log(2))
    assert metrics["test"]["bits_per_char"] < np.log2(len(set(source.read_text())) + 1)  # better than uniform


def test_sample_continues_the_prompt(text_run, tmp_path, capsys):
    _, out = text_run
    assert main(["sample", str(out), "--prompt", "the c", "--top-p", "0.9", "--length", "20", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("the c") and len(printed.rstrip("\n")) == 25
    target = tmp_path / "greedy.txt"
    assert main(["sample", str(out), "--prompt", "the", "--greedy", "--length", "10", "--out", str(target)]) == 0
    assert target.read_text().startswith("the") and len(target.read_text().rstrip("\n")) == 13


def test_text_errors(text_run, tmp_path, capsys):
    source, out = text_run
    assert main(["sample", str(out), "--top-p", "1.5"]) == 2
    assert "top_p: expected a number in [0, 1], got 1.5." in capsys.readouterr().err
    assert main(["train", "realnvp", "--data", str(source), "--out", str(tmp_path / "x")]) == 2
    assert "a text file needs a language model (transformer, nplm, lstm)" in capsys.readouterr().err


def test_made_trains_through_the_registry_and_samples_arrays(tmp_path, capsys):
    data = tmp_path / "bits.npy"
    np.save(data, (np.random.default_rng(0).random((200, 6)) < 0.3).astype(float))
    out = tmp_path / "made"
    assert main(["train", "made", "--data", str(data), "--out", str(out), "--steps", "20", "--batch-size", "50",
                 "--set", "hidden_features=16"]) == 0
    draws = tmp_path / "draws.npy"
    assert main(["sample", str(out), "--num", "7", "--out", str(draws)]) == 0
    values = np.load(draws)
    assert values.shape == (7, 6) and set(np.unique(values)) <= {0.0, 1.0}
    assert main(["sample", str(out), "--prompt", "x", "--out", str(tmp_path / "d2.npy")]) == 2
    assert "--prompt: applies to text runs" in capsys.readouterr().err


def test_text_runs_refused_by_compare_and_unseen_prompt_characters_noted(text_run, capsys):
    _, out = text_run
    assert main(["compare", str(out)]) == 2
    assert "a transformer run of text; compare ranks runs of arrays by held-out elpd" in capsys.readouterr().err
    assert main(["sample", str(out), "--prompt", "the Q", "--length", "3", "--seed", "0"]) == 0
    captured = capsys.readouterr()
    assert "--prompt has 1 character(s) the model never saw ('Q')" in captured.err
    assert captured.out.startswith("the \ufffd")


def test_binary_models_refuse_data_they_would_mangle(tmp_path, capsys):
    assert main(["train", "made", "--data", "digits", "--out", str(tmp_path / "m")]) == 2
    assert ("--data digits: made models binary vectors (0/1 pixels), but digits has values in [0, 16]; use --data "
            "binarized_digits") in capsys.readouterr().err
    assert main(["train", "vae", "--data", "moons", "--out", str(tmp_path / "v")]) == 2
    assert "--set threshold=8: binarising at it makes every value of moons 0" in capsys.readouterr().err
    from argparse import Namespace

    from pgm_ppl.cli_text import _check_binary_data

    _check_binary_data(Namespace(model="vae", data="digits", seed=0, num_data=2000, set=[]))  # checks, trains nothing
    assert "note: vae binarises digits at threshold=8 inside the model" in capsys.readouterr().err
    assert not (tmp_path / "m").exists() and not (tmp_path / "v").exists()


def test_vae_on_binarized_digits_keeps_the_pixels(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "binarized_digits", "--out", str(out), "--steps", "2", "--batch-size",
                 "64", "--set", "hidden_features=8", "--set", "latent_features=2"]) == 0
    assert "binarized_digits is already 0/1: vae binarises it at threshold=0.5 (the identity)" in \
        capsys.readouterr().out
    assert json.loads((out / "run.json").read_text())["settings"]["threshold"] == 0.5
    draws = tmp_path / "draws.npy"
    assert main(["sample", str(out), "--num", "5", "--out", str(draws)]) == 0
    assert set(np.unique(np.load(draws))) <= {0.0, 1.0}


def test_vae_on_raw_digits_scores_its_samples_against_binarised_rows(tmp_path, capsys):
    # vae binarises the 0-16 digits at 8 inside the model, so its 0/1 samples are set against held-out rows
    # binarised the same way (W2 against the raw rows would measure the binarisation, not the model)
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "digits", "--out", str(out), "--steps", "2", "--batch-size", "64",
                 "--set", "hidden_features=8", "--set", "latent_features=2"]) == 0
    assert "binarised the same way" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sample_metrics_against"] == "held-out rows binarised at the model's threshold"
    # independent 0/1 pixels at the right means score W2 ~3 against binarised rows, ~59 against the raw 0-16 rows
    assert metrics["sample_metrics"]["w2"]["value"] < 15.0


def test_compare_refuses_a_fixed_dataset_a_run_trained_on(tmp_path, capsys):
    out = tmp_path / "vae"
    assert main(["train", "vae", "--data", "binarized_digits", "--out", str(out), "--steps", "1", "--batch-size",
                 "64", "--set", "hidden_features=4", "--set", "latent_features=2"]) == 0
    capsys.readouterr()
    assert main(["compare", str(out), "--data", "binarized_digits", "--seed", "5"]) == 2
    assert "--data binarized_digits: run 'vae' trained on these rows, so they would reward overfitting" in \
        capsys.readouterr().err


@pytest.mark.parametrize("model", ["nplm", "lstm"])
def test_nplm_and_lstm_train_on_a_text_file(text_run, tmp_path, model, capsys):
    source, _ = text_run
    out = tmp_path / model
    assert main(["train", model, "--data", str(source), "--out", str(out), "--steps", "3", "--batch-size", "8",
                 "--set", "context_length=8", "--set", "embed_dim=8", "--set", "hidden_features=8"]) == 0
    spec = json.loads((out / "run.json").read_text())
    assert spec["model"] == model and spec["settings"]["context_length"] == 8
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["bits_per_char"] == pytest.approx(metrics["test"]["nll_nats_per_char"] / np.log(2))
    capsys.readouterr()
    assert main(["sample", str(out), "--prompt", "the", "--greedy", "--length", "5"]) == 0
    assert capsys.readouterr().out.startswith("the")


def test_vae_threshold_is_any_level_of_the_data(capsys):
    from argparse import Namespace

    from pgm_ppl.cli_text import _check_binary_data

    # 0 (any ink) and levels above 10 (MNIST's 0-255) are thresholds; the (0, 10) rule of other float options is not
    _check_binary_data(Namespace(model="vae", data="digits", seed=0, num_data=2000, set=["threshold=0"]))
    assert "binarises digits at threshold=0 inside the model" in capsys.readouterr().err
    for bad, message in (("threshold=-1", "--set threshold=-1: expected a finite number >= 0."),
                         ("threshold=16", "--set threshold=16: binarising at it makes every value of digits 0")):
        with pytest.raises(ValueError, match=__import__("re").escape(message)):
            _check_binary_data(Namespace(model="vae", data="digits", seed=0, num_data=2000, set=[bad]))
