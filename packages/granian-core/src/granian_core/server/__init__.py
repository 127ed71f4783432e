"""The worker runtime and the main-process supervisor."""
