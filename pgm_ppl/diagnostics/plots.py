"""Trace, posterior and loss plots of a run, saved as PNG files."""

from __future__ import annotations

from pathlib import Path

import arviz as az
import matplotlib.pyplot as plt
import numpy as np


def save_plots(idata: az.InferenceData, directory: str | Path, *, max_size: int = 64) -> list[Path]:
    """Write the run's figures into ``directory`` and return the paths written.

    Samplers (NUTS, HMC): ``trace.png`` (trace plot per chain) and ``posterior.png`` (marginal posteriors).
    SVI: ``loss.png`` (the loss, ``sample_stats.loss`` over ``step``) and ``posterior.png`` (marginals of the
    fitted guide's draws, which are independent, so no trace plot is drawn for them). Variables with more than
    ``max_size`` elements are left out to keep the figures readable. Titles carry the variable and, for vector
    variables, the coordinate (``w[bmi]``); each panel is given room for its title.
    """
    directory = Path(directory)
    written = []
    if "sample_stats" in idata.groups() and "loss" in idata.sample_stats and "step" in idata.sample_stats.dims:
        written.append(_loss_plot(idata.sample_stats["loss"].values, directory / "loss.png"))
    names = [name for name, var in idata.posterior.data_vars.items()
             if var.size // (var.sizes["chain"] * var.sizes["draw"]) <= max_size]
    if not names:
        return written
    plots = [("posterior.png", az.plot_posterior)]
    if str(idata.posterior.attrs.get("method", "")) != "svi":
        plots.insert(0, ("trace.png", az.plot_trace))
    for filename, plot in plots:
        size = {"figsize": (12, 2.5 * len(names))} if filename == "trace.png" else {}  # room for each title
        axes = plot(idata, var_names=names, labeller=_FlatLabeller(), **size)
        figure = np.ravel(axes)[0].figure
        figure.set_layout_engine("constrained")  # titles, tick labels and panels laid out without overlap
        figure.savefig(directory / filename, dpi=80)
        plt.close(figure)
        written.append(directory / filename)
    return sorted(written)


class _FlatLabeller(az.labels.BaseLabeller):
    """Titles on one line, ``w[age]``: ArviZ's two-line ``w`` / ``age`` runs into the panel above."""

    def make_label_vert(self, var_name, sel, isel):
        return self.make_label_flat(var_name, sel, isel)


def _loss_plot(loss: np.ndarray, path: Path) -> Path:
    """The loss per step, on a symmetric-log axis when it spans orders of magnitude."""
    figure, axis = plt.subplots(figsize=(7, 3.5), layout="constrained")
    axis.plot(np.arange(len(loss)), loss, linewidth=0.8)
    axis.set(xlabel="step", ylabel="loss (negative ELBO)", title="SVI loss")
    finite = loss[np.isfinite(loss)]
    if finite.size and np.ptp(finite) > 100 * max(np.abs(finite[-len(finite) // 10:]).max(), 1.0):
        axis.set_yscale("symlog")
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return path
