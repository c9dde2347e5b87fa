"""Webhook delivery for the fake providers: real HTTP POSTs to the address a channel or
subscription names, from a background thread (as the services do: the change that
triggers a notification never waits for it), plus a synchronous call for Graph's
validation handshake. Every delivery is recorded for the tests to look at.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field

import requests

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    url: str
    headers: dict[str, str]
    body: bytes
    status: int | None = None  # None: the address could not be reached
    text: str = ""
    content_type: str = ""


@dataclass
class Notifier:
    timeout: float = 10.0  # Graph waits 10 s for the validation answer
    sent: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: queue.Queue[Delivery] = queue.Queue()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="fake-push", daemon=True)
        self._thread.start()

    def post(self, url: str, headers: dict[str, str], body: bytes = b"") -> None:
        """Deliver later, in order, from the background thread."""
        self._queue.put(Delivery(url, dict(headers), body))

    def call(self, url: str, headers: dict[str, str], body: bytes = b"", **params: str) -> Delivery:
        """Deliver now (``params`` go into the query) and return the answer (Graph's validation)."""
        full = requests.Request("POST", url, params=params).prepare().url or url
        return self._send(Delivery(full, dict(headers), body))

    def wait(self, timeout: float = 10.0) -> list[Delivery]:
        """Block until everything queued so far was delivered; returns all deliveries."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() > deadline:
                raise TimeoutError("push deliveries still pending")
            time.sleep(0.01)
        with self._lock:
            return list(self.sent)

    def to(self, url_part: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.sent if url_part in d.url]

    def clear(self) -> None:
        self.wait()
        with self._lock:
            self.sent.clear()

    def _run(self) -> None:
        while True:
            delivery = self._queue.get()
            try:
                self._send(delivery)
            finally:
                self._queue.task_done()

    def _send(self, delivery: Delivery) -> Delivery:
        try:
            response = requests.post(
                delivery.url, headers=delivery.headers, data=delivery.body,
                timeout=self.timeout, allow_redirects=False,
            )
            delivery.status, delivery.text = response.status_code, response.text
            delivery.content_type = response.headers.get("Content-Type", "")
        except requests.RequestException as exc:
            log.info("push to %s failed: %s", delivery.url, exc)
        with self._lock:
            self.sent.append(delivery)
        return delivery
