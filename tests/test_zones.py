"""One place decides what a bad zone name means: UTC for showing, refused for computing."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from scheduling.errors import UnknownTimeZone
from scheduling.models import Person
from scheduling.zones import zone_named, zone_of

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out


def test_a_known_zone_and_an_empty_one() -> None:
    assert zone_named("Europe/Berlin") == ZoneInfo("Europe/Berlin")
    assert zone_named("") == zone_named(None) == ZoneInfo("UTC")


def test_a_bad_zone_shows_times_in_utc_but_is_refused_for_computing() -> None:
    person = Person(name="Zed Broken", email="zed@example.com", time_zone="Mars/Olympus")
    assert zone_of(person) == ZoneInfo("UTC")
    with pytest.raises(UnknownTimeZone, match="Zed Broken has an unknown time zone 'Mars/Olympus'") as err:
        zone_of(person, strict=True)
    assert err.value.field == "time_zone"
