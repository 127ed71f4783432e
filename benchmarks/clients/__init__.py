"""Load clients run in the tools venv (they need psutil and uvloop)."""
