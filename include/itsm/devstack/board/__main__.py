"""`python -m include.itsm.devstack.board --host 127.0.0.1 --port P --db PATH`.

The demo tickets are seeded by `itsm devstack up` (they need the local AWS's instance ids)."""

from __future__ import annotations

import argparse
import logging
import time

from include.itsm.devstack.board.server import BoardServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m include.itsm.devstack.board", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    started = time.monotonic()
    server = BoardServer(args.db, args.host, args.port)
    logging.info("board ready on %s (db %s) in %.1fs", server.url, args.db, time.monotonic() - started)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
