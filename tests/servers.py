"""The loopback calendar servers and the SMTP sink, one of each per test run
(loaded by ``tests/conftest.py``).

A fixture defined here is found by every module without an import. Importing a fixture
function into a module (``radicale_server = harness.radicale_server``) makes pytest treat
it as that module's own fixture and start another server for it, so modules never do.
Every test still gets fresh calendars: the harness creates new people per test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.dav_servers import DavServer, radicale, xandikos
from tests.fakes.google_server import GoogleFake, google_server
from tests.fakes.graph_server import GraphFake, graph_server
from tests.fakes.smtp_server import SmtpServer, smtp_server


@pytest.fixture(scope="session")
def radicale_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with radicale(Path(tmp_path_factory.mktemp("radicale"))) as server:
        yield server


@pytest.fixture(scope="session")
def xandikos_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    with xandikos(Path(tmp_path_factory.mktemp("xandikos"))) as server:
        yield server


@pytest.fixture(scope="session")
def google_fake() -> Iterator[GoogleFake]:
    with google_server() as fake:
        yield fake


@pytest.fixture(scope="session")
def graph_fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphFake]:
    with graph_server(Path(tmp_path_factory.mktemp("graph-tls"))) as fake:
        yield fake


@pytest.fixture(scope="session")
def smtp() -> Iterator[SmtpServer]:
    """The mail sink; a test that reads mail clears it first (``worker_harness.life`` does)."""
    with smtp_server() as server:
        yield server
