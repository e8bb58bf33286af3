"""``pgm-ppl train``, ``sample`` and ``compare`` as a user runs them: a flow and an EM mixture on moons end to end,
resume after an interruption, and every bad-input case (one message naming the culprit, exit status 2)."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pgm_ppl.cli_train import TRAINABLE

COMMAND = str(Path(sys.executable).with_name("pgm-ppl"))
FLOW = ("train", "realnvp", "--data", "moons", "--num-data", 300, "--batch-size", 64, "--set", "transforms=2",
        "--set", "hidden_features=16")


def run(*args, cwd):
    return subprocess.run([COMMAND, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    flow = run(*FLOW, "--steps", 40, "--out", "flow", cwd=folder)
    gmm = run("train", "gmm", "--data", "moons", "--num-data", 300, "--set", "num_components=4", "--out", "gmm",
              cwd=folder)
    return folder, flow, gmm


def test_train_writes_every_artefact(runs):
    folder, flow, gmm = runs
    assert flow.returncode == 0, flow.stderr
    assert gmm.returncode == 0, gmm.stderr
    assert sorted(p.name for p in (folder / "flow").iterdir()) == [
        "checkpoint.pt", "inference_data.nc", "loss.png", "metrics.json", "model.pt", "run.json", "samples.png"]
    assert sorted(p.name for p in (folder / "gmm").iterdir()) == [
        "inference_data.nc", "loss.png", "metrics.json", "params.npz", "run.json", "samples.png"]
    metrics = json.loads((folder / "gmm" / "metrics.json").read_text())
    assert metrics["density_kind"] == "exact" and metrics["num_heldout_rows"] == 60
    assert set(metrics["sample_metrics"]) == {"w2", "sliced_w2", "mmd", "energy"}
    assert not list(folder.glob("**/.*tmp")), "a temporary file was left behind"


def test_saved_flow_reproduces_its_reported_heldout_nll(runs):
    """metrics.json's held-out NLL is recomputed from model.pt through the run's own seeded split."""
    from pgm_ppl.cli_train import _split, load_density

    folder, _, _ = runs
    spec = json.loads((folder / "flow" / "run.json").read_text())
    _, X_test, _ = _split("moons", spec["seed"], 300)
    density = load_density(folder / "flow")
    reported = json.loads((folder / "flow" / "metrics.json").read_text())["heldout_nll_nats_per_row"]
    assert -density.log_prob(X_test).mean() == pytest.approx(reported, rel=1e-6)
    state = torch.load(folder / "flow" / "model.pt", weights_only=True)
    assert all(torch.is_tensor(value) for value in state.values())


def test_sample_and_compare(runs):
    folder, _, _ = runs
    sampled = run("sample", "flow", "--num", 25, "--out", "draws.npy", cwd=folder)
    assert sampled.returncode == 0, sampled.stderr
    assert np.load(folder / "draws.npy", allow_pickle=False).shape == (25, 2)
    again = run("sample", "flow", "--num", 25, "--out", "draws.npy", cwd=folder)
    assert again.returncode == 2 and "already exists" in again.stderr
    compared = run("compare", "flow", "gmm", "--data", "moons", "--num-data", 200, "--out", "cmp.png", cwd=folder)
    assert compared.returncode == 0, compared.stderr
    assert "elpd" in compared.stdout and "d_elpd" in compared.stdout and "gmm" in compared.stdout
    assert "moons (seed 1), 200 rows" in compared.stdout
    assert (folder / "cmp.png").stat().st_size > 0


def test_compare_uses_rows_no_run_trained_on(runs):
    """Without --data: the runs' shared held-out 20%; the runs' own training rows are refused."""
    from pgm_ppl.cli_train import _split, load_density

    folder, _, _ = runs
    shared = run("compare", "flow", "gmm", "--out", "shared.png", cwd=folder)
    assert shared.returncode == 0, shared.stderr
    assert "the held-out 20% of moons (seed 0), 60 rows" in shared.stdout
    _, X_test, _ = _split("moons", 0, 300)
    gmm_elpd = float(load_density(folder / "gmm").log_prob(X_test).sum())
    row = next(line for line in shared.stdout.splitlines() if line.startswith("gmm"))
    assert f"{gmm_elpd:.6f}"[:-2] in row  # the table's elpd is the sum of the held-out log-densities
    reused = run("compare", "flow", "gmm", "--data", "moons", "--seed", 0, cwd=folder)
    assert reused.returncode == 2 and "run 'flow' trained on these rows" in reused.stderr
    one = run("compare", "gmm", cwd=folder)
    assert one.returncode == 0 and "nothing to plot against" in one.stdout


def test_resume_continues_to_the_uninterrupted_result(tmp_path):
    """20 steps, then --resume to 40 == 40 steps in one go (bit for bit: same weights)."""
    whole = run(*FLOW, "--steps", 40, "--out", "whole", cwd=tmp_path)
    first = run(*FLOW, "--steps", 20, "--out", "parts", cwd=tmp_path)
    second = run(*FLOW, "--steps", 40, "--out", "parts", "--resume", cwd=tmp_path)
    for result in (whole, first, second):
        assert result.returncode == 0, result.stderr
    a = torch.load(tmp_path / "whole" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "parts" / "model.pt", weights_only=True)
    assert all(torch.equal(a[name], b[name]) for name in a)


@pytest.mark.parametrize("args, message", [
    (("train", "nope", "--data", "moons", "--out", "x"),
     "model: expected one of " + ", ".join(map(repr, TRAINABLE)) + ", got 'nope'."),
    (("train", "realnvp", "--data", "nodata", "--out", "x"), "nodata"),
    (("train", "realnvp", "--data", "moons", "--out", "x", "--set", "transforms=0"),
     "--set transforms=0: expected a positive integer."),
    (("train", "realnvp", "--data", "moons", "--out", "x", "--set", "depth=3"), "realnvp has no such option"),
    (("train", "realnvp", "--data", "moons", "--out", "x", "--resume"), "--resume: expected a run to resume in x"),
    (("sample", "missing", "--out", "a.npy"), "missing: expected a directory written by 'pgm-ppl train'"),
    (("compare", "missing", "--data", "moons"), "missing: expected a directory written by 'pgm-ppl train'"),
    (("train", "realnvp", "--data", "moons", "--out", "x", "--device", "cuda"), "--device cuda: this PyTorch has no"),
    (("train", "gmm", "--data", "moons", "--num-data", 20, "--out", "x", "--set", "num_components=50"),
     "num_components=50: expected at most the 16 training rows."),
    (("train", "realnvp", "--data", "moons", "--out", "x", "--seed", "-1"), "expected an integer >= 0, got '-1'"),
])
def test_bad_input_names_the_culprit(tmp_path, args, message):
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "x").exists()


def test_existing_output_and_foreign_data(tmp_path):
    (tmp_path / "taken").mkdir()
    taken = run(*FLOW, "--steps", 5, "--out", "taken", cwd=tmp_path)
    assert taken.returncode == 2 and "already exists" in taken.stderr
    np.save(tmp_path / "one_column.npy", np.arange(20.0)[:, None])
    narrow = run("train", "realnvp", "--data", "one_column.npy", "--out", "narrow", cwd=tmp_path)
    assert narrow.returncode == 2 and "needs at least 2 columns, got 1" in narrow.stderr
    assert not (tmp_path / "narrow").exists()
    line = run("train", "gmm", "--data", "one_column.npy", "--set", "num_components=2", "--out", "line", cwd=tmp_path)
    assert line.returncode == 0, line.stderr  # a mixture on one column is fine (histograms in samples.png)
    assert (tmp_path / "line" / "params.npz").is_file()
    bad = np.random.default_rng(0).normal(size=(50, 2))
    bad[7, 1] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    nan = run("train", "realnvp", "--data", "nan.npy", "--out", "nan", cwd=tmp_path)
    assert nan.returncode == 2 and "nan.npy" in nan.stderr
