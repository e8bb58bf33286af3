"""Gaussian processes (course chapter 4): kernels, exact and sparse regression, classification."""
