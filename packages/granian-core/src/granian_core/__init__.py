"""granian-py's interface-neutral core.

Public modules: ``config`` (ServerConfig, the option table), ``exchange`` (the
request/response contract), ``interface`` (the adapter contract and registry),
``server.embed`` (EmbeddedServer), ``server.supervisor`` (Supervisor, Hooks),
``loops``, ``log``, ``errors``. See the package README for the adapter contract.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("granian-core")
except PackageNotFoundError:  # running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["__version__"]
