"""Benchmarks: `python -m bench` lists them; each prints its figures and asserts nothing."""
