"""Tiny applications for the CLI, loading and Granian API tests."""
