"""`python -m include.itsm.devstack.aws --host H --port P [--no-seed]`: moto + front, one process."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from include.itsm.devstack.aws import patches
from include.itsm.devstack.aws.front import AwsFront
from include.itsm.devstack.aws.seed import seed

log = logging.getLogger("itsm.devstack.aws")


def _seed_then_ready(front: AwsFront, endpoint_url: str) -> None:
    started = time.monotonic()
    try:
        seed(endpoint_url, front)
    except Exception:  # the server stays up but never reports healthy: the log says why
        log.exception("seeding failed")
        return
    front.ready = True
    log.info("seeded in %.1f s", time.monotonic() - started)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m include.itsm.devstack.aws", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--no-seed", action="store_true", help="serve an empty AWS (no demo organisation)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

    patches.install_account_ids()
    front = AwsFront(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, front, threaded=True)
    endpoint_url = f"http://{args.host}:{server.port}"
    if args.no_seed:
        front.ready = True
    else:
        threading.Thread(target=_seed_then_ready, args=(front, endpoint_url), daemon=True).start()
    log.info("local AWS on %s", endpoint_url)
    server.serve_forever()


if __name__ == "__main__":
    main()
