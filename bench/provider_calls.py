"""How many provider HTTP calls a 200-person availability query makes, per provider.

Runs the real connectors against the loopback servers the tests use (Google and Graph
fakes, a real Radicale) and counts the requests those servers receive. Token and
discovery requests are counted apart: they are made once per process and cached.

    python -m bench.provider_calls [--people 200]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from calendars.base import CalendarIdentity
from calendars.caldav_provider import CalDAVConnector
from calendars.google import FREEBUSY_MAX_CALENDARS, GoogleConnector
from calendars.microsoft import SCHEDULE_BATCH, MicrosoftConnector
from freebusy.cache import BusyCache, CachedBusySource
from tests.fakes.dav_servers import radicale
from tests.fakes.google_server import google_server, make_service_account
from tests.fakes.graph_server import graph_server
from tests.fakes.throttle_proxy import throttle_proxy

START = datetime(2030, 1, 7, tzinfo=UTC)
END = START + timedelta(days=14)


def people(n: int, domain: str = "example.com") -> list[CalendarIdentity]:
    return [CalendarIdentity(f"p{i}@{domain}", f"p{i}@{domain}", email=f"p{i}@{domain}") for i in range(n)]


def cache_check(connector: Any, who: list[CalendarIdentity], count: Any) -> str:
    """Provider calls for the same query made through the real busy cache: first, then repeated.

    ``freebusy.cache.CachedBusySource`` in front of the connector, as the app installs it
    (``scheduling.tenants.install_calendar_busy``); the repeat must make no call.
    """
    cached = CachedBusySource(connector, BusyCache())
    before = count()
    first = cached.busy(who, START, END)
    after_first = count()
    again = cached.busy(who, START, END)
    repeat = count() - after_first
    assert again == first, "a cache hit answered differently"
    return f"{after_first - before} then {repeat}"


def bench_google(n: int) -> dict[str, Any]:
    with google_server() as fake:
        info, key = make_service_account(fake.token_uri)
        fake.register_service_account(info, key)
        who = people(n)
        for p in who:
            fake.store.add_calendar(p.external_id)
        connector = GoogleConnector(
            service_account_info=info, api_endpoint=fake.api_endpoint, freebusy_subject="admin@example.com"
        )
        t0 = time.perf_counter()
        busy = connector.busy(who, START, END)
        elapsed = time.perf_counter() - t0
        assert len(busy) == n
        return {
            "provider": "Google (freeBusy.query)",
            "api_calls": fake.store.count("POST", "/freeBusy"),
            "token_calls": fake.store.count("POST", "/token"),
            "target": math.ceil(n / FREEBUSY_MAX_CALENDARS),
            "seconds": elapsed,
            "cache_hit_calls": cache_check(connector, who, lambda: fake.store.count("POST", "/freeBusy")),
        }


def bench_graph(n: int, tmp: Path) -> dict[str, Any]:
    with graph_server(tmp) as fake:
        who = people(n)
        for p in who:
            fake.store.add_calendar(p.external_id)
        connector = MicrosoftConnector(
            tenant_id=fake.tenant_id,
            client_id=fake.client_id,
            client_secret=fake.client_secret,
            authority_host=fake.base_url,
            graph_url=fake.graph_url,
            verify=fake.ca_file,
        )
        t0 = time.perf_counter()
        busy = connector.busy(who, START, END)
        elapsed = time.perf_counter() - t0
        assert len(busy) == n
        token = fake.store.count(contains="/oauth2/") + fake.store.count(contains="openid-configuration")
        return {
            "provider": "Microsoft 365 (getSchedule)",
            "api_calls": fake.store.count("POST", "/getSchedule"),
            "token_calls": token,
            "target": math.ceil(n / SCHEDULE_BATCH),
            "seconds": elapsed,
            "cache_hit_calls": cache_check(connector, who, lambda: fake.store.count("POST", "/getSchedule")),
        }


def bench_caldav(n: int, tmp: Path) -> dict[str, Any]:
    with radicale(tmp) as server, throttle_proxy(server.base_url) as proxy:
        who = []
        for i in range(n):
            path = f"{server.username}/bench-{i}/"
            requests.request("MKCALENDAR", server.base_url + path, auth=(server.username, server.password))
            who.append(CalendarIdentity(f"c{i}", path, email=f"c{i}@example.com"))
        connector = CalDAVConnector(proxy.base_url, username=server.username, password=server.password)
        t0 = time.perf_counter()
        busy = connector.busy(who, START, END)
        elapsed = time.perf_counter() - t0
        assert len(busy) == n
        return {
            "provider": "CalDAV / Radicale (calendar-query)",
            "api_calls": proxy.requests,
            "token_calls": 0,
            "target": n,
            "seconds": elapsed,
            "cache_hit_calls": cache_check(connector, who, lambda: proxy.requests),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--people", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "graph").mkdir()
        (Path(tmp) / "dav").mkdir()
        rows = [
            bench_google(args.people),
            bench_graph(args.people, Path(tmp) / "graph"),
            bench_caldav(args.people, Path(tmp) / "dav"),
        ]
    print(f"Provider calls for one {args.people}-person availability query (14 days):")
    print(f"{'provider':38} {'API calls':>9} {'target':>6} {'token/discovery':>15} {'seconds':>8}"
          "  through the cache: first, repeat")
    for r in rows:
        print(
            f"{r['provider']:38} {r['api_calls']:>9} {r['target']:>6} {r['token_calls']:>15} "
            f"{r['seconds']:>8.2f}  {r['cache_hit_calls']}"
        )
    print(json.dumps(rows, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
