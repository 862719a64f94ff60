"""Benchmarks: `python -m bench NAME [options]`; each prints its numbers, nothing is asserted."""
