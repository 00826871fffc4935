"""Serving the board: a threaded werkzeug server, in this process (tests) or as the CLI."""

from __future__ import annotations

import logging
import threading

from werkzeug.serving import BaseWSGIServer, make_server

from include.itsm.devstack.board.app import create_app
from include.itsm.devstack.board.store import BoardStore


class BoardServer:
    """The board on host:port (port 0 picks a free one) over the SQLite file `db_path`."""

    def __init__(self, db_path: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.store = BoardStore(db_path)
        self.app = create_app(self.store)
        self._server: BaseWSGIServer = make_server(host, port, self.app, threaded=True)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def start(self) -> BoardServer:
        """Serve in a daemon thread and return at once (for tests and embedding). Embedded, werkzeug's
        line per request would flood the host process's log (the board keeps its own request log)."""
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        self._thread = threading.Thread(target=self.serve_forever, name="itsm-board", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.store.close()
