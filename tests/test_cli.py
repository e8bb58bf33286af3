"""The ``pgm-ppl`` command, run as a subprocess: list, fit, diagnose and every bad-input case
(one clear message naming the culprit, exit status 2, nothing written)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

COMMAND = str(Path(sys.executable).with_name("pgm-ppl"))


def run(*args, cwd):
    return subprocess.run([COMMAND, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_list_shows_models_methods_and_datasets(tmp_path):
    result = run("list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("linear_regression", "gaussian_mixture", "nuts", "svi", "auto_laplace", "iris", "diabetes",
                 "checkerboard", "8gaussians"):
        assert name in result.stdout


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    result = run("fit", "linear_regression", "--data", "diabetes", "--chains", 2, "--samples", 200,
                 "--warmup", 200, "--out", "run", cwd=folder)
    return folder, result


def test_fit_writes_netcdf_summary_and_plots(saved_run):
    folder, result = saved_run
    assert result.returncode == 0, result.stderr
    assert "r_hat" in result.stdout and "w[9]" in result.stdout
    written = sorted(path.name for path in (folder / "run").iterdir())
    assert written == ["inference_data.nc", "posterior.png", "summary.csv", "trace.png"]
    assert not list(folder.glob(".run.partial-*"))


def test_diagnose_reads_a_saved_run(saved_run):
    folder, _ = saved_run
    result = run("diagnose", "run/inference_data.nc", cwd=folder)
    assert result.returncode == 0, result.stderr
    assert "sigma" in result.stdout
    assert sorted(p.name for p in (folder / "run" / "inference_data-diagnosis").iterdir()) == \
        ["posterior.png", "trace.png"]


def test_svi_on_a_generated_dataset_with_a_model_option(tmp_path):
    result = run("fit", "linear_regression", "--data", "swiss_roll", "--method", "svi", "--steps", 300,
                 "--samples", 100, "--set", "prior_scale=2.5", "--out", "svi", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "w[2]" in result.stdout and "sigma" in result.stdout
    assert (tmp_path / "svi" / "inference_data.nc").is_file()


def _write(folder, name, text):
    (folder / name).write_text(text)
    return name


BAD_INPUTS = {
    "missing file": (lambda f: ["fit", "--data", "absent.csv"], "absent.csv: no such file."),
    "non-numeric cell": (lambda f: ["fit", "--data", _write(f, "dose.csv", "dose,y\n1,2\nn/a,3\n")],
                         "dose.csv, column 'dose', row 2: expected a number, got 'n/a'."),
    "ragged row": (lambda f: ["fit", "--data", _write(f, "ragged.csv", "a,b,y\n1,2,3\n4,5\n")],
                   "ragged.csv, row 2: 2 cells, but the header has 3 columns (a, b, y)."),
    "NaN value": (lambda f: ["fit", "--data", _write(f, "nan.csv", "a,y\n1,2\nnan,3\n")],
                  "nan.csv, column 'a', row 2: value nan is not finite"),
    "inf value": (lambda f: ["fit", "--data", _write(f, "inf.csv", "a,y\n1,inf\n2,3\n")],
                  "inf.csv, column 'y', row 1: value inf is not finite"),
    "empty file": (lambda f: ["fit", "--data", _write(f, "empty.csv", "")],
                   "empty.csv is empty: expected a header row and at least one data row."),
    "header only": (lambda f: ["fit", "--data", _write(f, "header.csv", "a,y\n")],
                    "header.csv has a header row but no data rows."),
    "wrong shape for the model": (lambda f: ["fit", "linear_regression", "--data", _write(f, "one.csv", "a\n1\n2\n")],
                                  "one.csv: linear_regression needs input columns and a response"),
    "empty array": (lambda f: ["fit", "--data", _save(f, "empty.npy", np.zeros((0, 3)))],
                    "empty.npy is empty (shape (0, 3))."),
    "3-D array": (lambda f: ["fit", "--data", _save(f, "cube.npy", np.zeros((2, 2, 2)))],
                  "cube.npy, array 'array': expected 1 or 2 dimensions, got shape (2, 2, 2)."),
    "unknown model": (lambda f: ["fit", "gpt5"], "Unknown model 'gpt5': choose one of linear_regression, "
                                                 "gaussian_mixture, factor_analysis."),
    "unknown dataset": (lambda f: ["fit", "--data", "mnist"], "Unknown dataset 'mnist': choose one of iris,"),
    "unknown method": (lambda f: ["fit", "--method", "gibbs"], "invalid choice: 'gibbs'"),
    "bad model option": (lambda f: ["fit", "--set", "K"], "--set 'K': expected NAME=VALUE, e.g. --set K=4."),
    "existing output": (lambda f: ["fit", "--out", _mkdir(f, "taken")],
                        "output directory taken already exists; choose another --out or remove it."),
    "diagnose missing file": (lambda f: ["diagnose", "nothing.nc"], "nothing.nc: no such file."),
    "diagnose a non-NetCDF file": (lambda f: ["diagnose", _write(f, "fake.nc", "not netcdf")],
                                   "fake.nc: not an InferenceData NetCDF file"),
}


def _save(folder, name, array):
    np.save(folder / name, array)
    return name


def _mkdir(folder, name):
    (folder / name).mkdir()
    return name


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_one_clear_error_and_exit_status_2(case, tmp_path):
    make_args, message = BAD_INPUTS[case]
    args = make_args(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written, not even pgm_ppl_runs/
