"""Jinja2 filters the templates share: times, durations, percentages, charts."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import jinja2

from federation.web import charts


def when(value: float | str | None) -> str:
    """An epoch time (or ISO string) as 'YYYY-MM-DD HH:MM UTC'; '—' when unknown."""
    if value in (None, "", 0):
        return "—"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(value: float | None) -> str:
    """Machine-readable time for <time datetime=...>."""
    if not value:
        return ""
    if isinstance(value, str):
        return value
    return datetime.fromtimestamp(float(value), UTC).isoformat(timespec="seconds")


def ago(value: float | None, now: float | None = None) -> str:
    """Seconds, minutes, hours or days since ``value``, compact ('42 s', '3 h')."""
    if not value:
        return "—"
    return duration((now or time.time()) - float(value))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0.0, float(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


#: ISO 639-2/B codes of the catalog → BCP 47 tags for ``lang`` attributes.
_LANG_TAGS = {
    "rus": "ru", "eng": "en", "ger": "de", "fre": "fr", "spa": "es", "ita": "it", "ukr": "uk",
    "bel": "be", "pol": "pl", "lat": "la", "chu": "cu", "heb": "he", "grc": "grc", "gre": "el",
    "tat": "tt", "kaz": "kk", "chi": "zh", "jpn": "ja", "ara": "ar", "dut": "nl", "swe": "sv",
}


def lang_attr(language: str | None) -> str:
    """The BCP 47 tag of a record's language, so screen readers voice its title right."""
    return _LANG_TAGS.get((language or "").lower(), "")


def install(env: jinja2.Environment) -> None:
    env.filters.update(
        when=when, iso=iso, ago=ago, duration=duration, percent=percent, lang_attr=lang_attr
    )
    env.globals.update(bar_chart=charts.bar_chart, paired_bar_chart=charts.paired_bar_chart)
