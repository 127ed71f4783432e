"""Forwarded-header wrappers for apps behind a reverse proxy (``granian.utils.proxies``)."""

from granian_proxies import wrap_asgi_with_proxy_headers, wrap_wsgi_with_proxy_headers

__all__ = ["wrap_asgi_with_proxy_headers", "wrap_wsgi_with_proxy_headers"]
