"""pgm_ppl.diagnostics."""
