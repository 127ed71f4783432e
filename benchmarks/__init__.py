"""The benchmark suite (see README.md). Importable so servers can load ``benchmarks.apps.*``."""
