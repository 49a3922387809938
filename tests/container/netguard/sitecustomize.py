"""Loaded into the server under test (PYTHONPATH): record every non-loopback connection.

An audit hook sees each socket.connect / getaddrinfo the process makes, from any library;
the test reads the log to prove the server touched no network while starting and serving.
"""

import ipaddress
import os
import sys

_LOG = os.environ.get("NETGUARD_LOG")


def _is_local(host: object) -> bool:
    if not isinstance(host, str) or host in ("", "localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False  # a name that would need DNS


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "socket.connect":
        address = args[1]
        if isinstance(address, tuple) and address and not _is_local(address[0]):
            _record(f"connect {address!r}")
    elif event == "socket.getaddrinfo" and not _is_local(args[0]):
        _record(f"getaddrinfo {args[0]!r}")


def _record(line: str) -> None:
    if _LOG:
        with open(_LOG, "a") as fh:
            fh.write(line + "\n")


if _LOG:
    sys.addaudithook(_hook)
