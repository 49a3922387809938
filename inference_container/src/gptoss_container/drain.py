"""Graceful SIGTERM: stop taking work, let in-flight requests finish for a bounded time.

SageMaker stops a container with SIGTERM and kills it later (SageMaker developer guide,
"How containers serve requests"). vLLM's own SIGTERM handler begins its shutdown at once;
ours runs first: /ping turns 503 so no new traffic is routed here, new requests get 503
(clients retry elsewhere), and once the in-flight requests are done or the drain timeout
has passed we hand over to vLLM's shutdown by raising SIGINT, which vLLM handles the same
way it handles SIGTERM (vllm/entrypoints/launchers/launcher.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable

logger = logging.getLogger("gptoss_container.drain")


class DrainState:
    def __init__(
        self,
        timeout_s: float,
        hand_over: Callable[[], None] | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.in_flight = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._hand_over = hand_over or _raise_sigint
        self._task: asyncio.Task[None] | None = None

    def request_started(self) -> None:
        self.in_flight += 1
        self._idle.clear()

    def request_finished(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()

    def begin(self) -> None:
        """Start draining; a second call (a second SIGTERM) hands over at once."""
        if self.draining:
            logger.warning("second SIGTERM while draining: shutting down now")
            self._hand_over()
            return
        self.draining = True
        logger.info(
            "SIGTERM: draining %d in-flight request(s) for at most %.0f s",
            self.in_flight,
            self.timeout_s,
        )
        self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout=self.timeout_s)
            logger.info("drained in %.1f s", time.monotonic() - started)
        except TimeoutError:
            logger.warning(
                "drain timeout (%.0f s) reached with %d request(s) in flight; stopping anyway",
                self.timeout_s,
                self.in_flight,
            )
        self._hand_over()

    def install_signal_handler(self) -> None:
        """Take SIGTERM over from vLLM; must run on the serving event loop."""
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, self.begin)


def _raise_sigint() -> None:
    os.kill(os.getpid(), signal.SIGINT)
