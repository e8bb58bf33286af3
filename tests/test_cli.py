"""The ``pgm-ppl`` command, run as a subprocess: list, fit, diagnose and every bad-input case
(one clear message naming the culprit, exit status 2, nothing written)."""

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

COMMAND = str(Path(sys.executable).with_name("pgm-ppl"))


@pytest.fixture(autouse=True, scope="module")
def _cache_home(tmp_path_factory):
    """JAX's compilation cache goes to $XDG_CACHE_HOME/pgm_ppl/jax: a temporary folder here, never the real home."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        del os.environ["XDG_CACHE_HOME"]
    else:
        os.environ["XDG_CACHE_HOME"] = before


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
    assert "r_hat" in result.stdout and "w[s6]" in result.stdout  # issue 17 item 9: w[9] is named after column s6
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
    assert "w[x2]" in result.stdout and "sigma" in result.stdout  # issue 17 item 9: was w[2], column x2
    assert (tmp_path / "svi" / "inference_data.nc").is_file()
    assert "Shape validation failed" not in result.stdout + result.stderr
    assert sorted(p.name for p in (tmp_path / "svi").iterdir()) == \
        ["inference_data.nc", "loss.png", "posterior.png", "summary.csv"]  # guide draws are no chain: no trace


def test_csv_results_are_in_the_datas_units_with_named_coordinates(tmp_path):
    """y = 10 + 2 a - b + N(0, 0.5^2) on inputs far from standard: the printed slopes are 2 and -1, not the
    standardised 0.83 and -0.38 (least squares is the reference; 2,000 rows make the posterior sd ~0.004)."""
    import arviz as az

    rng = np.random.default_rng(0)
    a, b = rng.normal(5.0, 3.0, 2000), rng.normal(-2.0, 7.0, 2000)
    y = 10 + 2 * a - b + rng.normal(0.0, 0.5, 2000)
    np.savetxt(tmp_path / "lin.csv", np.column_stack([a, b, y]), delimiter=",", header="a,b,y", comments="")
    result = run("fit", "--data", "lin.csv", "--chains", 2, "--samples", 300, "--warmup", 300, "--out", "run",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Posterior in the data's own units: response 'y', inputs a, b" in result.stdout
    assert "Pointwise groups (--pointwise auto)" in result.stdout
    idata = az.from_netcdf(str(tmp_path / "run" / "inference_data.nc"))
    design = np.column_stack([a, b, np.ones_like(a)])
    coef, residual, *_ = np.linalg.lstsq(design, y, rcond=None)
    w = idata.posterior["w"].mean(("chain", "draw"))
    assert list(w["feature"].values) == ["a", "b"]
    # The N(0, 1) priors act on the standardised scale, where the noise variance is 0.25 / var(y) = 0.003: with 2,000
    # rows they shrink the coefficients by a relative 0.003 / 2000 = 1.5e-6. The posterior means are therefore
    # least squares' up to Monte Carlo error (5 MCSE, from ArviZ's ESS; ~1e-4 on the slopes, ~1e-3 on b)...
    mcse = az.mcse(idata, var_names=["w", "b", "sigma"])
    np.testing.assert_array_less(np.abs(w.values - coef[:2]), 5 * mcse["w"].values + 1.5e-6 * np.abs(coef[:2]))
    assert abs(float(idata.posterior["b"].mean()) - coef[2]) < 5 * float(mcse["b"]) + 1.5e-6 * abs(coef[2])
    # ... and sigma's is the residual sd s times E[1 / sqrt(chi2_nu / nu)] = 1 + 3 / (4 nu) + O(nu^-2) (nu = 1997;
    # sigma's prior moves it by O(1 / nu) more): allow 2 / nu besides 5 MCSE (old: rtol 0.05, 80 MCSE)
    s = np.sqrt(residual[0] / 1997)
    assert abs(float(idata.posterior["sigma"].mean()) / s - 1) < 5 * float(mcse["sigma"]) / s + 2 / 1997
    np.testing.assert_allclose(idata.observed_data["y"].values, y, rtol=1e-12)
    attrs = idata.posterior.attrs
    assert attrs["scale"] == "data" and attrs["response"] == "y" and list(attrs["standardised_columns"]) == ["a", "b"]
    np.testing.assert_allclose(attrs["column_mean"], [a.mean(), b.mean()], rtol=1e-12)
    np.testing.assert_allclose(attrs["response_scale"], y.std(), rtol=1e-12)
    assert attrs["pointwise"] == "auto" and idata.log_likelihood["y"].dtype == np.float32
    summary = (tmp_path / "run" / "summary.csv").read_text()
    assert "w[a]" in summary and "w[b]" in summary


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
    "bad model option": (lambda f: ["fit", "--set", "K"],
                         "--set 'K': expected NAME=VALUE, e.g. --set num_components=4."),
    "existing output": (lambda f: ["fit", "--out", _mkdir(f, "taken")],
                        "output directory taken already exists; choose another --out or remove it."),
    "diagnose missing file": (lambda f: ["diagnose", "nothing.nc"], "nothing.nc: no such file."),
    "diagnose a non-NetCDF file": (lambda f: ["diagnose", _write(f, "fake.nc", "not netcdf")],
                                   "fake.nc: not an InferenceData NetCDF file"),
    # issue 18, item 8: files and options as a new user gives them
    "num_components=0": (lambda f: ["fit", "gaussian_mixture", "--set", "num_components=0"],
                         "--set num_components: expected an integer >= 1, got 0."),
    "num_components=three": (lambda f: ["fit", "gaussian_mixture", "--set", "num_components=three"],
                             "--set num_components: expected an integer, got 'three' (str)."),
    "num_components=2.5": (lambda f: ["fit", "gaussian_mixture", "--set", "num_components=2.5"],
                           "--set num_components: expected an integer, got 2.5"),
    "negative scale": (lambda f: ["fit", "--set", "prior_scale=-1"],
                       "--set prior_scale: expected a finite number > 0, got -1."),
    "unknown model option": (lambda f: ["fit", "gaussian_mixture", "--set", "k=3"],
                             "--set k: unknown option of model gaussian_mixture; its options are num_components "
                             "(number of components, an integer >= 1), concentration"),
    "directory as data": (lambda f: ["fit", "--data", _mkdir(f, "runs")],
                          "runs: is a directory, not a data file; give a .csv/.npy/.npz/.nc file inside it."),
    "truncated npy": (lambda f: ["fit", "--data", _truncated(f, "cut.npy")],
                      "cut.npy: not a complete NumPy array file"),
    "object npy": (lambda f: ["fit", "--data", _objects(f, "objects.npy")],
                   "objects.npy: holds pickled Python objects, which pgm_ppl never loads"),
    "pickled file": (lambda f: ["fit", "--data", _pickled(f, "pickled.npy")],
                     "pickled.npy: holds pickled Python objects"),
    "complex npy": (lambda f: ["fit", "--data", _save(f, "complex.npy", np.ones((5, 3)) + 2j)],
                    "complex.npy, array 'array': expected real numbers, got dtype complex128"),
    "binary csv": (lambda f: ["fit", "--data", _write_bytes(f, "photo.csv", bytes(range(256)))],
                   "photo.csv: is a binary file, not CSV text"),
    "constant response": (lambda f: ["fit", "--data", _write(f, "flat.csv", "a,y\n1,3\n2,3\n4,3\n")],
                          "flat.csv: the response 'y' is constant (3 in all 3 rows)"),
    "single row": (lambda f: ["fit", "--data", _write(f, "row.csv", "a,y\n1,3\n")],
                   "row.csv: linear_regression needs at least 2 rows"),
    "single row, mixture": (lambda f: ["fit", "gaussian_mixture", "--data", _write(f, "row.csv", "a,b\n1,3\n")],
                            "row.csv: this model needs at least 2 rows"),
    "out parent is a file": (lambda f: ["fit", "--out", _write(f, "notes.txt", "x") + "/run"],
                             "notes.txt is a file, not a directory; choose another --out."),
    "samples beyond memory": (lambda f: ["fit", "--samples", 1_000_000_000, "--pointwise", "full"],
                              "--samples 1000000000: the results would take about 28.9 TB (4 chain(s) x "
                              "1,000,000,000 draws), more than the"),
    "samples not a number": (lambda f: ["fit", "--samples", "many"],
                             "argument --samples: expected a positive integer, got 'many'"),
    "diagnose a directory": (lambda f: ["diagnose", _mkdir(f, "run")],
                             "run: is a directory; give the inference_data.nc file inside it."),
}


def _save(folder, name, array):
    np.save(folder / name, array)
    return name


def _mkdir(folder, name):
    (folder / name).mkdir()
    return name


def _write_bytes(folder, name, data):
    (folder / name).write_bytes(data)
    return name


def _truncated(folder, name):
    np.save(folder / name, np.arange(100.0).reshape(20, 5))
    (folder / name).write_bytes((folder / name).read_bytes()[:300])
    return name


def _objects(folder, name):
    np.save(folder / name, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return name


def _pickled(folder, name):
    (folder / name).write_bytes(pickle.dumps([1.0, 2.0]))
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


def test_guesses_about_a_file_are_said_on_the_command_line(tmp_path):
    """A header-less, semicolon-separated Latin-1 file: each guess is one note line (here before the
    constant-response refusal, so no fit runs)."""
    (tmp_path / "raw.csv").write_bytes("1;2;3\n2;5;3\n3;1;3\n".encode("latin-1"))
    result = run("fit", "--data", "raw.csv", cwd=tmp_path)
    assert result.returncode == 2
    assert "pgm-ppl: note: raw.csv: read as semicolon-separated values" in result.stderr
    assert "pgm-ppl: note: raw.csv: the first row (1;2;3) is all numbers, so it is read as data" in result.stderr
    assert "raw.csv: the response 'x2' is constant (3 in all 3 rows)" in result.stderr
    assert "Traceback" not in result.stderr


def test_options_are_declared_and_checked_in_the_registry():
    from pgm_ppl.models.registry import ZOO

    mixture = ZOO["gaussian_mixture"]
    assert mixture.check_options({"num_components": 4, "prior_scale": 2}) == {"num_components": 4, "prior_scale": 2.0}
    assert mixture.check_options({"num_components": 4.0}) == {"num_components": 4}
    with pytest.raises(ValueError, match=r"^num_components: expected an integer >= 1, got 0\.$"):
        mixture.check_options({"num_components": 0})
    with pytest.raises(TypeError, match=r"^num_components: expected an integer, got 'three' \(str\)\.$"):
        mixture.check_options({"num_components": "three"})
    with pytest.raises(ValueError, match=r"num_factors: expected an integer >= 1, got -2"):
        ZOO["factor_analysis"].check_options({"num_factors": -2})
    with pytest.raises(ValueError, match=r"concentration: expected a finite number > 0, got nan"):
        mixture.check_options({"concentration": float("nan")})
    for entry in ZOO.values():  # every default is a declared, valid option
        assert entry.check_options(entry.options) == entry.options


def test_standardise_does_not_overflow_at_1e300():
    from pgm_ppl.models.registry import standardise

    expected = standardise(np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [1.0, 4.0]]))
    np.testing.assert_allclose(expected[:, 0], [-1 / np.sqrt(3)] * 3 + [np.sqrt(3)])
    huge = standardise(np.array([[0.0, 1.0], [0.0, 2.0], [0.0, 3.0], [1e300, 4.0]]))
    np.testing.assert_allclose(huge, expected, rtol=1e-12)
    tiny = standardise(np.array([[1e-300], [2e-300], [3e-300]]))
    np.testing.assert_allclose(tiny[:, 0], [-np.sqrt(1.5), 0.0, np.sqrt(1.5)], rtol=1e-12)
    np.testing.assert_array_equal(standardise(np.array([[5.0], [5.0]])), [[0.0], [0.0]])  # constant: centred


def test_regression_inputs_with_1e300_are_standardised_not_zeroed():
    from pgm_ppl.data import DataTable
    from pgm_ppl.models.registry import ZOO

    table = DataTable("big.csv", np.array([[1.0, 3.0], [1e300, 4.0], [3.0, 2.0], [4.0, 7.0]]), ("a", "y"))
    inputs = ZOO["linear_regression"].prepare(table)
    assert np.isfinite(inputs["X"]).all() and np.ptp(inputs["X"]) > 1
    np.testing.assert_allclose(inputs["X"][:, 0], [-1 / np.sqrt(3), np.sqrt(3), -1 / np.sqrt(3), -1 / np.sqrt(3)],
                               rtol=1e-12)


def test_unreadable_data_file_is_checked_before_the_fit(tmp_path, monkeypatch, capsys):
    from pgm_ppl import cli

    (tmp_path / "secret.csv").write_text("a,y\n1,2\n3,4\n")
    monkeypatch.chdir(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == "secret.csv" else real_access(p, mode))
    assert cli.main(["fit", "--data", "secret.csv", "--out", "run"]) == 2
    assert "pgm-ppl: error: secret.csv: permission denied; make the file readable" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv"]


def test_unwritable_out_parent_is_checked_before_the_fit(tmp_path, monkeypatch, capsys):
    from pgm_ppl import cli

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli.tempfile, "mkdtemp", denied)
    assert cli.main(["fit", "--out", "locked/run"]) == 2
    err = capsys.readouterr().err
    assert f"pgm-ppl: error: --out locked/run: cannot create a directory in {tmp_path} (Permission denied); " \
           "choose a writable location." in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may read and write anything")
def test_permissions_by_mode_exit_2(tmp_path):
    (tmp_path / "secret.csv").write_text("a,y\n1,2\n3,4\n")
    (tmp_path / "secret.csv").chmod(0)
    result = run("fit", "--data", "secret.csv", cwd=tmp_path)
    assert result.returncode == 2 and "secret.csv: permission denied" in result.stderr
    (tmp_path / "locked").mkdir(mode=0o500)
    result = run("fit", "--out", "locked/run", cwd=tmp_path)
    assert result.returncode == 2 and "--out locked/run: cannot create a directory in" in result.stderr


def test_atomic_directory_loses_a_race_cleanly(tmp_path):
    from pgm_ppl.cli import UsageError, _atomic_directory

    target = tmp_path / "run"
    with pytest.raises(UsageError, match=r"output directory .*run was created by another run while this one was "
                                         r"working; this run's results were discarded"):
        with _atomic_directory(target) as staging:
            (staging / "summary.csv").write_text("mine")
            target.mkdir()  # the other run wins
            (target / "summary.csv").write_text("theirs")
    assert (target / "summary.csv").read_text() == "theirs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .run.partial-* left behind


def test_two_runs_with_the_same_out(tmp_path):
    args = [COMMAND, "fit", "--chains", "1", "--samples", "50", "--warmup", "50", "--out", "run"]
    runs = [subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    results = [(proc.wait(timeout=600), proc.stderr.read()) for proc in runs]
    for proc in runs:
        proc.stdout.close(), proc.stderr.close()
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert "Traceback" not in loser
    assert ("was created by another run while this one was working" in loser
            or "output directory run already exists" in loser)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no .run.partial-* folder


def test_no_valid_initial_parameters_is_one_message(tmp_path):
    result = run("fit", "--set", "noise_scale=1e-200", "--chains", 1, "--samples", 20, "--warmup", 20,
                 "--out", "run", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert ("pgm-ppl: error: linear_regression on diabetes: nuts found no starting point where the model's "
            "log-density is finite (NumPyro: 'Cannot find valid initial parameters'). Check the model options "
            "(now: noise_scale=1e-200;") in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def _interruptible():
    """A job started in the background inherits SIGINT ignored; a terminal's Ctrl-C is not."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_is_one_line_and_leaves_nothing(tmp_path):
    proc = subprocess.Popen([COMMAND, "fit", "--method", "svi", "--steps", "10000000", "--out", "run"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_interruptible)
    try:
        assert proc.stdout.readline().startswith("Fitting linear_regression to diabetes")
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=120)
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stdout.close(), proc.stderr.close()
    assert code == 130, err
    assert "pgm-ppl: interrupted; no output was written." in err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert list(tmp_path.iterdir()) == []


def test_pointwise_policy_thins_to_the_budget_and_says_so():
    from pgm_ppl.cli import POINTWISE_VALUES, _Pointwise

    sizes = (20, 2 * 100_000, 100_000)  # 100,000 rows: log-likelihood + predictive values per draw, prior per draw
    auto = _Pointwise.choose("auto", 4, 1000, sizes)
    assert auto.thin == -(-4000 * 200_000 // POINTWISE_VALUES) == 16 and auto.prior_draws == 500
    assert 4 * -(-1000 // auto.thin) * sizes[1] <= POINTWISE_VALUES * 1.01
    assert "252 of 4,000 draws (one in 16 of each chain)" in auto.describe(4, 1000)  # 4 x ceil(1000 / 16)
    assert "500 of 4,000 draws (one in 8 " in _Pointwise.choose("auto", 4, 1000, (20, 100_000, 1)).describe(4, 1000)
    full = _Pointwise.choose("full", 4, 1000, sizes)
    assert (full.thin, full.prior_draws) == (1, 500) and "float64" in full.describe(4, 1000)
    assert full.bytes(sizes, 4, 1000) == 8 * (4000 * 20 + 4000 * 200_000 + 500 * 100_000)
    none = _Pointwise.choose("none", 4, 1000, sizes)
    assert none.bytes(sizes, 4, 1000) == 8 * (4000 * 20 + 500 * 100_000)


def test_compilation_cache_goes_to_the_users_cache_folder_unless_set(tmp_path, monkeypatch):
    import jax

    from pgm_ppl.cli import _use_compilation_cache

    before = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
        _use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == str(tmp_path / "pgm_ppl" / "jax")
        jax.config.update("jax_compilation_cache_dir", "/somewhere/the/user/chose")
        _use_compilation_cache()
        assert jax.config.jax_compilation_cache_dir == "/somewhere/the/user/chose"
    finally:
        jax.config.update("jax_compilation_cache_dir", before)
