"""pgm_ppl.backend."""
