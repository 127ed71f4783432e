"""Load clients run in the tools venv (they need websockets, psutil, uvloop)."""
