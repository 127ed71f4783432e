"""Benchmark applications: one module per interface, routes selected by path."""
