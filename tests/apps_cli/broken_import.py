"""Imports a module that does not exist: loading this target must fail clearly."""

import granian_py_tests_missing_dependency  # type: ignore[import-not-found]  # noqa: F401

app = None
