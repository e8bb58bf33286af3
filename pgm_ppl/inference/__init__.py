"""pgm_ppl.inference."""
