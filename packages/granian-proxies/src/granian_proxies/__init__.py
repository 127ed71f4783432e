"""Forwarded-header wrappers for ASGI and WSGI apps (``granian.utils.proxies``).

Behind a reverse proxy the peer of every connection is the proxy. These
wrappers restore the real client address and scheme from the proxy's
``X-Forwarded-For`` / ``X-Forwarded-Proto`` headers, but only for peers listed
in ``trusted_hosts``. No dependency on the server: they wrap any app.
"""

from .asgi import wrap_asgi_with_proxy_headers
from .trust import TrustedHosts
from .wsgi import wrap_wsgi_with_proxy_headers

__all__ = ["TrustedHosts", "wrap_asgi_with_proxy_headers", "wrap_wsgi_with_proxy_headers"]
