"""moto's server, serving one request at a time.

moto's DynamoDB backend has no locking: a TransactWriteItems deep-copies the table for rollback while
another request thread mutates it, and fails with a 500 ("dictionary changed size during iteration").
DynamoDB itself serializes conflicting transactions, so the emulator is run single-threaded: every
request is atomic, as it is on AWS. (Concurrency is exercised for real on DynamoDB Local.)

Usage: python moto_server.py HOST PORT
"""

import os
import sys

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, run_simple

# Clients queue while one request is served: a deep listen queue keeps a burst of concurrent
# connections waiting instead of refused.
BaseWSGIServer.request_queue_size = 1024


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_PORT", str(port))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(host, port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
