"""The benchmark harness behind ``benchmarks/run.py`` (stdlib only: it runs on any Python)."""
