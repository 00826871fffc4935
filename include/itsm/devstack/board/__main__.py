"""`python -m include.itsm.devstack.board --host 127.0.0.1 --port P --db PATH [--seed-demo]`."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from include.itsm.devstack.board.server import BoardServer


def _seed_demo(server: BoardServer) -> None:
    try:
        from include.itsm.devstack.demo.seed import seed_board
    except ImportError as exc:
        sys.exit(f"--seed-demo needs include.itsm.devstack.demo.seed.seed_board, which is not available: {exc}")
    seed_board(server.store)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m include.itsm.devstack.board", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", required=True, help="SQLite file (created if missing)")
    parser.add_argument("--seed-demo", action="store_true", help="seed the demo tickets (idempotent)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    started = time.monotonic()
    server = BoardServer(args.db, args.host, args.port)
    if args.seed_demo:
        _seed_demo(server)
    logging.info("board ready on %s (db %s) in %.1fs", server.url, args.db, time.monotonic() - started)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
