"""HTTP/2 on our own sans-IO codec (``connection``, ``frames``, the HPACK modules):
one ``H2Protocol`` per connection, one ``H2Exchange`` per stream.

See docs/http2.md for flow control, send buffering, limits and shutdown.
"""

from .alpn import ALPNProtocol
from .exchange import H2Exchange
from .protocol import PREFACE, H2Protocol
from .settings import H2Settings

__all__ = ["PREFACE", "ALPNProtocol", "H2Exchange", "H2Protocol", "H2Settings"]
