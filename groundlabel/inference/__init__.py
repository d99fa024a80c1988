"""Faster, numerically equivalent inference for Grounding DINO on CPU (see ``accelerate``)."""
