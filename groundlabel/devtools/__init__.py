"""Helpers for tests and benchmarks only; product code never imports this package."""
