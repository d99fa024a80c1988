"""Benchmarks for groundlabel; run them as modules, e.g. ``python -m benchmarks.detector_speed``."""
