"""The REST client under a busy api-server: a read that gets no answer in time is asked again."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from include.itsm.adapters.airflow_api import AirflowApi, AirflowApiError


def _server(stalls: int):
    """An api-server whose first `stalls` GETs answer only after the client's timeout."""
    seen = {"gets": 0}

    class Handler(BaseHTTPRequestHandler):
        def _json(self, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 (the stdlib's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._json({"access_token": "t"})

        def do_GET(self):  # noqa: N802
            seen["gets"] += 1
            if seen["gets"] <= stalls:
                time.sleep(0.6)
            try:
                self._json({"state": "success"})
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


@pytest.mark.parametrize(("stalls", "answered"), [(2, True), (3, False)])
def test_a_read_that_times_out_is_asked_again_then_named(stalls, answered):
    server, seen = _server(stalls)
    try:
        api = AirflowApi(f"http://127.0.0.1:{server.server_port}", "engineer", "pw", timeout=0.3)
        if answered:
            assert api.get("/dags/d/dagRuns/r") == {"state": "success"}
        else:
            with pytest.raises(AirflowApiError, match="GET /dags/d/dagRuns/r: Airflow at .* did not answer"):
                api.get("/dags/d/dagRuns/r")
        assert seen["gets"] == min(stalls + 1, 3)
    finally:
        server.shutdown()
