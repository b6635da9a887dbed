"""Fail points: named places where a test can freeze a real process to kill it there.

``TORGHUT_FAILPOINT=NAME`` makes :func:`failpoint` (NAME) print ``failpoint NAME reached`` on
stderr and sleep until the process is killed. It exists so crash-consistency tests can
SIGKILL a real subprocess at a chosen instant (inside a ledger transaction, between two git
updates) instead of guessing with timers — the technique of FreeBSD's ``fail(9)`` and
etcd's gofail. Unset (always, outside tests), a fail point costs one environment lookup.
"""

from __future__ import annotations

import os
import sys
import time

ENV_VAR = "TORGHUT_FAILPOINT"


def failpoint(name: str) -> None:
    if os.environ.get(ENV_VAR) != name:
        return
    sys.stderr.write(f"failpoint {name} reached\n")
    sys.stderr.flush()
    while True:  # until SIGKILL
        time.sleep(60)
