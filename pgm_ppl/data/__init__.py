"""pgm_ppl.data."""
