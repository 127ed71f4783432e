"""A WSGI app answering the value of the environ key named by the path (``/NAME``)."""


def app(environ, start_response):
    value = environ.get(environ["PATH_INFO"].lstrip("/"), "-")
    start_response("200 OK", [("content-type", "text/plain")])
    return [value.encode()]
