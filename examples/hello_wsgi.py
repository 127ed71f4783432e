"""Granian's hello world, as a WSGI app: ``granian --interface wsgi examples.hello_wsgi:app``."""


def app(environ, start_response):
    start_response("200 OK", [("content-type", "text/plain")])
    return [b"Hello, world!"]
