"""Diagnostics: conversion to ArviZ InferenceData, summaries with warnings, plots."""

from pgm_ppl.diagnostics.adapters import as_fit, supported_result_types
from pgm_ppl.diagnostics.convert import to_inference_data
from pgm_ppl.diagnostics.plots import save_plots
from pgm_ppl.diagnostics.report import Diagnosis, diagnose

__all__ = ["Diagnosis", "as_fit", "diagnose", "save_plots", "supported_result_types", "to_inference_data"]
from pgm_ppl.diagnostics.compare import DensityKindWarning, compare_heldout, plot_compare_heldout

__all__ += ["DensityKindWarning", "compare_heldout", "plot_compare_heldout"]

from pgm_ppl.diagnostics.metrics import Metric, median_bandwidth, sample_metrics

__all__ += ["Metric", "median_bandwidth", "sample_metrics"]
from pgm_ppl.diagnostics.digits_fd import DigitsFeatureExtractor, digits_fd, digits_feature_extractor

__all__ += ["DigitsFeatureExtractor", "digits_fd", "digits_feature_extractor"]
