"""Russian and English for every page: choosing the language and the words.

Russian comes first: it is the language of the libraries, and of every reader
whose browser does not ask for English. A reader's choice (the switch on every
page) is kept in the session and wins over the browser's Accept-Language.
"""

from __future__ import annotations

from aiohttp import web

from federation.web.messages import MESSAGES, STATUS_NAMES
from federation.web.session import SESSION

LANGUAGES = ("ru", "en")
#: Where a request keeps its language.
LANG = web.RequestKey("lang", str) if hasattr(web, "RequestKey") else "lang"
DEFAULT = "ru"


def preferred(accept_language: str) -> str:
    """The first of our languages the Accept-Language header ranks highest."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, index, primary))
    return min(ranked)[2] if ranked else DEFAULT


def language_of(request: web.Request) -> str:
    """The session's choice, else the browser's preference, else Russian."""
    chosen = request[SESSION].get("lang")
    if chosen in LANGUAGES:
        return chosen
    return preferred(request.headers.get("Accept-Language", ""))


class Translator:
    """``t("key", name=...)`` in templates; unknown keys show themselves, never crash."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._table = MESSAGES[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self._table.get(key) or MESSAGES["en"].get(key) or key
        return text.format(**values) if values else text

    def status(self, status: object) -> str:
        """An ISO 18626 status for people; the ISO name stays visible to staff in titles."""
        name = str(status)
        return STATUS_NAMES[self.lang].get(name, name)

    def language(self, code: str | None) -> str:
        """A record's ISO 639-2 language code as a name, or the code when we lack one."""
        if not code:
            return ""
        key = f"lang_{code.lower()}"
        return self._table.get(key) or code

    def duration(self, seconds: float | None) -> str:
        """A span of time in the reader's units ('3 ч', '42 s')."""
        if seconds is None:
            return "—"
        seconds = max(0.0, float(seconds))
        for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
            if seconds >= size:
                return f"{seconds / size:.0f} {self('unit_' + unit)}"
        return f"{seconds:.0f} {self('unit_s')}"

    def ago(self, when: float | None, now: float) -> str:
        return "—" if not when else self("ago", span=self.duration(now - float(when)))

    def plural(self, count: int, key: str) -> str:
        """Russian has three plural forms (1 книга, 2 книги, 5 книг)."""
        forms = self(key).split("|")
        if self.lang == "ru" and len(forms) == 3:
            tail, tens = count % 10, count % 100
            form = forms[0] if tail == 1 and tens != 11 else (
                forms[1] if 2 <= tail <= 4 and not 12 <= tens <= 14 else forms[2])
        else:
            form = forms[0] if count == 1 else forms[-1]
        return f"{count} {form}"
