# A real WSGI upstream on Python's standard library (wsgiref): it answers every
# request with the HTTP_* keys of its environ as JSON, which is what a CGI or
# WSGI application reads its headers from. Prints its port on the first line.
import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server


def app(environ, start_response):
    headers = {key: value for key, value in environ.items() if key.startswith('HTTP_')}
    body = json.dumps(headers, sort_keys=True).encode('utf-8')
    start_response('200 OK', [('Content-Type', 'application/json'), ('Content-Length', str(len(body)))])
    return [body]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


server = make_server('127.0.0.1', 0, app, handler_class=QuietHandler)
print(server.server_port, flush=True)
server.serve_forever()
