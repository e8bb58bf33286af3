"""Dirichlet processes (course chapter 4): random measures and DP mixture inference."""
