"""pgm_ppl.models."""
