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
    assert "a text file needs a language model (transformer)" in capsys.readouterr().err


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
