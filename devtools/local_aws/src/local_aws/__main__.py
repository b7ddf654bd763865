"""``local-aws`` command line: serve | wait | stop.

local-aws serve --host 127.0.0.1 --port 4566 [--pidfile F] [--state-dir D] [--verbose]
local-aws wait --url http://127.0.0.1:4566 [--timeout 30]
local-aws stop --pidfile F [--timeout 10]
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import logging
import os
import signal
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

LOG = logging.getLogger("local_aws")
HEALTH_PATH = "/_local_aws/health"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(args: argparse.Namespace) -> int:
    if not _is_loopback(args.host):
        print(f"local-aws: refusing to listen on non-loopback address {args.host}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    state_dir = Path(args.state_dir or tempfile.mkdtemp(prefix="local-aws-")).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)

    from werkzeug.serving import make_server

    from local_aws.app import build_app

    app, executor = build_app(args.port, state_dir)
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    server = make_server(
        args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler
    )
    pidfile = Path(args.pidfile).resolve() if args.pidfile else None
    if pidfile is not None:
        pidfile.parent.mkdir(parents=True, exist_ok=True)
        pidfile.write_text(f"{os.getpid()}\n")

    def _stop(signum: int, _frame: FrameType | None) -> None:
        LOG.info("signal %d: shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    LOG.info("local-aws listening on http://%s:%d (state dir %s)", args.host, args.port, state_dir)
    try:
        server.serve_forever()
    finally:
        executor.shutdown()
        server.server_close()
        if pidfile is not None:
            with contextlib.suppress(OSError):
                if pidfile.read_text().strip() == str(os.getpid()):
                    pidfile.unlink()
        LOG.info("local-aws stopped")
        for thread in threading.enumerate():
            if not thread.daemon and thread is not threading.main_thread():
                LOG.warning("still running at exit: %s", thread.name)
    return 0


def wait(args: argparse.Namespace) -> int:
    url = args.url.rstrip("/") + HEALTH_PATH
    deadline = time.monotonic() + args.timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 - loopback URL
                if resp.status == 200 and json.loads(resp.read()).get("status") == "ok":
                    return 0
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.1)
    print(f"local-aws: {url} not healthy after {args.timeout}s ({last})", file=sys.stderr)
    return 1


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie (exited, not yet reaped by its parent)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def stop(args: argparse.Namespace) -> int:
    pidfile = Path(args.pidfile)
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        print(f"local-aws: no emulator pid in {pidfile}; not running", file=sys.stderr)
        return 0
    if _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + args.timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if _alive(pid):
            print(f"local-aws: pid {pid} ignored SIGTERM; sending SIGKILL", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(FileNotFoundError):
        pidfile.unlink()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="local-aws", description=__doc__.splitlines()[0] if __doc__ else None
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p_serve = sub.add_parser("serve", help="run the emulator in the foreground")
    p_serve.add_argument("--host", default="127.0.0.1", help="loopback address to bind")
    p_serve.add_argument("--port", type=int, default=4566)
    p_serve.add_argument("--pidfile", help="write the server's PID here (removed on exit)")
    p_serve.add_argument(
        "--state-dir", help="unpacked code and function logs (default: a temp dir)"
    )
    p_serve.add_argument("--verbose", action="store_true", help="log every request")
    p_serve.set_defaults(func=serve)

    p_wait = sub.add_parser("wait", help="wait until an emulator answers its health check")
    p_wait.add_argument("--url", default="http://127.0.0.1:4566")
    p_wait.add_argument("--timeout", type=float, default=30.0)
    p_wait.set_defaults(func=wait)

    p_stop = sub.add_parser("stop", help="SIGTERM the emulator of a pidfile and wait for it")
    p_stop.add_argument("--pidfile", required=True)
    p_stop.add_argument("--timeout", type=float, default=10.0)
    p_stop.set_defaults(func=stop)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
