"""granian: Granian's command line and Python API, served by granian-py."""

from importlib.metadata import PackageNotFoundError, version

from granian_core.loops import loops

from .server import Server as Granian

try:
    __version__ = version("granian")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["Granian", "__version__", "loops"]
