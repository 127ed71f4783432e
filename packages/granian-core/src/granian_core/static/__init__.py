"""Static file serving (``--static-path-*``), installed in front of the interface.

``StaticFiles`` is the per-worker route table and file resolver; ``StaticFilesInterface``
wraps the configured interface so static routes are answered before the app sees them.
Servers without mounts never build either, so their request path is unchanged.
"""

from __future__ import annotations

from .files import StaticFiles, StaticMount
from .interface import StaticFilesInterface, with_static_files

__all__ = ["StaticFiles", "StaticFilesInterface", "StaticMount", "with_static_files"]
