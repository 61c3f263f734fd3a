"""Languages and local time: who is looking (language + time zone), the gettext catalogues, Babel's formatters.

The viewer lives in a context variable: the tenant middleware sets it per request from the signed-in user's
profile, the workspace and the browser's `Accept-Language`; live renderers, jobs and mail set it for whoever
will read what they render (an operator, a contact). Catalogues are the `.po` files under `app/locale/`, read and
compiled in memory on first use, so nothing has to be compiled before `make run`.

Adding a language: `pybabel init -i app/locale/messages.pot -d app/locale -l xx`, translate, and add one line to
LANGUAGES below (see the README).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import gettext as _gettext
import io
import json
import zoneinfo
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel import Locale, dates, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from app.lib.clock import now

LANGUAGES: dict[str, str] = {
    "en": "English",
    "ru": "Русский",
    "bg": "Български",
}
"""The languages we ship, by code, each named in itself. A new language is a catalogue plus one line here."""

DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "locale"
UTC = zoneinfo.ZoneInfo("UTC")


@dataclasses.dataclass(frozen=True)
class Viewer:
    """Whoever reads what is being rendered: the language strings and formats follow, the zone times follow."""

    language: str = DEFAULT_LANGUAGE
    zone: zoneinfo.ZoneInfo = UTC

    @property
    def locale(self) -> Locale:
        return babel_locale(self.language)

    @property
    def translations(self) -> _gettext.NullTranslations:
        return translations(self.language)


_DEFAULT = Viewer()
_viewer: contextvars.ContextVar[Viewer] = contextvars.ContextVar("sb_viewer", default=_DEFAULT)


def current() -> Viewer:
    return _viewer.get()


def chosen() -> bool:
    """Whether anyone chose the viewer (a middleware, a job, a mail): false where a request never reached the
    tenant middleware (e.g. a path no route matches)."""
    return _viewer.get() is not _DEFAULT


@contextlib.contextmanager
def viewing(language: str | None = None, zone: str | zoneinfo.ZoneInfo | None = None) -> Iterator[Viewer]:
    """Render for this language and zone inside the block (unknown values fall back to the current viewer's)."""
    now = current()
    viewer = Viewer(language if language in LANGUAGES else now.language,
                    zone if isinstance(zone, zoneinfo.ZoneInfo) else (to_zone(zone) or now.zone))
    token = _viewer.set(viewer)
    try:
        yield viewer
    finally:
        _viewer.reset(token)


def switch(language: str | None, zone: str | None = None) -> None:
    """For handlers: render the rest of this request in `language` (a customer's) and `zone` (theirs, when they
    have one); an unknown or empty one keeps the current."""
    now = current()
    _viewer.set(Viewer(language if language in LANGUAGES else now.language, to_zone(zone) or now.zone))


def activate(viewer: Viewer) -> contextvars.Token[Viewer]:
    """For middlewares: set the viewer until `deactivate(token)`."""
    return _viewer.set(viewer)


def deactivate(token: contextvars.Token[Viewer]) -> None:
    _viewer.reset(token)


# -- choosing ----------------------------------------------------------------------------------------------------

def to_zone(name: str | None) -> zoneinfo.ZoneInfo | None:
    if not name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def check_zone(name: str) -> bool:
    return to_zone(name) is not None


@functools.lru_cache(maxsize=1024)
def negotiate(accept_language: str) -> str | None:
    """The best of our languages for an `Accept-Language` header (`bg-BG,bg;q=0.9,en;q=0.8`), or None. Remembered
    per header text (bounded): every request asks, and browsers send a handful of distinct headers."""
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and q > 0:
            wanted.append((-q, i, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        base = tag.replace("_", "-").split("-")[0]
        if base in LANGUAGES:
            return base
    return None


def posix_languages(environ: Any) -> str:
    """The terminal's languages (`LANGUAGE=ru:en`, `LANG=bg_BG.UTF-8`) as an Accept-Language list for `negotiate`."""
    raw = environ.get("LANGUAGE") or environ.get("LC_ALL") or environ.get("LC_MESSAGES") or environ.get("LANG") or ""
    return ",".join(part.split(".")[0].replace("_", "-") for part in raw.split(":") if part and part not in ("C",
                                                                                                        "POSIX"))


def pick(*languages: str | None, accept_language: str = "") -> str:
    """The first of `languages` we ship, else the browser's best, else English."""
    for lang in languages:
        if lang and lang in LANGUAGES:
            return lang
    return negotiate(accept_language) or DEFAULT_LANGUAGE


def pick_zone(*zones: str | None) -> zoneinfo.ZoneInfo:
    for name in zones:
        zone = to_zone(name)
        if zone is not None:
            return zone
    return UTC


# -- catalogues --------------------------------------------------------------------------------------------------

@functools.cache
def babel_locale(language: str) -> Locale:
    return Locale.parse(language)


def catalogue_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"


@functools.cache
def catalogue(language: str) -> Any:
    """The parsed `.po` of a language (None for English, the language of the source)."""
    path = catalogue_path(language)
    if language == DEFAULT_LANGUAGE or not path.exists():
        return None
    with path.open("rb") as fh:
        return read_po(fh, locale=language)


@functools.cache
def translations(language: str) -> _gettext.NullTranslations:
    cat = catalogue(language)
    if cat is None:
        return _gettext.NullTranslations()
    buf = io.BytesIO()
    write_mo(buf, cat)  # fuzzy entries are left out: an unreviewed guess shows the English original
    buf.seek(0)
    return Translations(fp=buf)


def gettext(message: str, **variables: Any) -> str:
    text = current().translations.gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    text = current().translations.ngettext(singular, plural, n)
    return text % {"num": n, **variables}


_ = gettext


def N_(message: str) -> str:
    """Marks a string for the catalogue (`make messages`); it is translated where it is shown."""
    return message


def shipped(defaults: dict[str, str], key: str, name: str) -> str:
    """A stored name as the viewer reads it: the name a workspace was given by default (`defaults[key]`, English,
    marked N_) in the viewer's language; a name the shop typed itself, as typed. Stored keys never change."""
    default = defaults.get(key)
    return gettext(default) if default is not None and name == default else name


def unshipped(defaults: dict[str, str], key: str, typed: str) -> str:
    """What to store for a name a form sends back: the default's own translation (left as shown) stays the
    default, so it goes on following each reader's language; anything else is the shop's own name."""
    default = defaults.get(key)
    return default if default is not None and typed in (default, gettext(default)) else typed


STORED_TEXT = "_text"
"""The reserved key under which a stored record (a timeline item's payload) keeps the catalogue template its English
text was filled from, so it can be shown in each reader's language: {"t": template, "p": params, "tr": [keys]}."""


def fill(template: str, params: dict[str, Any] | None) -> str:
    """A catalogue template with its `%(name)s` placeholders filled (English when the template is)."""
    return template % params if params else template


def stored_text(template: str, params: dict[str, Any] | None = None,
                translated: tuple[str, ...] = ()) -> dict[str, Any]:
    """What to keep next to a stored English text so it can be shown translated (see `show_stored`). `translated`
    names the params that are themselves shipped English words (a default stage's name) to translate on display."""
    spec: dict[str, Any] = {"t": template, "p": dict(params or {})}
    if translated:
        spec["tr"] = list(translated)
    return spec


def money_param(amount: int | None, currency: str) -> dict[str, Any]:
    """A stored text's money value (minor units): shown as each reader's locale writes money (`format_money`)."""
    return {"money": [int(amount or 0), currency]}


def _shown_param(value: Any) -> Any:
    money = value.get("money") if isinstance(value, dict) else None
    if isinstance(money, list) and len(money) == 2:
        return format_money(money[0], str(money[1]))
    return value


def show_stored(spec: Any, fallback: str) -> str:
    """A stored text in the viewer's language from its `stored_text` spec; a row written before (no spec) or a
    spec that does not fit shows `fallback`, the text as stored."""
    if not isinstance(spec, dict) or not isinstance(spec.get("t"), str):
        return fallback
    tr = current().translations
    params = spec.get("p") if isinstance(spec.get("p"), dict) else {}
    keys = set(spec.get("tr") or ())
    params = {k: (tr.gettext(v) if k in keys and isinstance(v, str) and v else _shown_param(v))
              for k, v in params.items()}
    for template in (tr.gettext(spec["t"]), spec["t"]):  # a translation that lost a placeholder: the English
        try:
            return template % params if params or "%(" in template else template
        except (KeyError, ValueError, TypeError):
            continue
    return fallback


JS_RUNTIME = """{
  language: CAT.data.language,
  gettext: function (s) { var t = CAT.data.messages[s]; return typeof t === "string" ? t : s; },
  ngettext: function (s, p, n) {
    var t = CAT.data.messages[s], text = n === 1 ? s : p;
    if (Array.isArray(t)) text = t[CAT.plural(n)] || t[t.length - 1];
    return text.replace(/%\\(num\\)[ds]/g, String(n));
  }
}"""
"""What scripts call: `sbI18n.gettext(s)` and `sbI18n.ngettext(one, many, n)` (`%(num)d` is replaced by n)."""


def js_runtime(language: str) -> str:
    """A JavaScript expression: the gettext object for `language` (embedded in a script or set on window)."""
    return f"(function () {{ var CAT = {js_catalogue(language)}; return {JS_RUNTIME}; }})()"


def js_messages(language: str) -> dict[str, Any]:
    """The strings of our scripts in `language` (msgid -> translation; plural ones as lists)."""
    cat = catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    messages: dict[str, Any] = {}
    if cat is not None:
        for m in cat:
            if not m.id or m.fuzzy or not any(str(loc[0]).endswith(".js") for loc in m.locations):
                continue
            if isinstance(m.id, tuple):
                if all(m.string):
                    messages[m.id[0]] = list(m.string)
            elif m.string:
                messages[m.id] = m.string
    return messages


def js_catalogue(language: str) -> str:
    """`window.SB_I18N`: the strings of our scripts in `language`, and its plural rule (from the catalogue)."""
    cat = catalogue(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    plural_expr = cat.plural_expr if cat is not None else "n != 1"
    messages = js_messages(language)
    data = json.dumps({"language": language, "messages": messages}, ensure_ascii=False)
    # The plural expression is gettext's C syntax, which is also JavaScript; it comes from our own catalogue.
    return f"{{data: {data}, plural: function (n) {{ return +({plural_expr}); }}}}"


# -- formatting for the viewer -----------------------------------------------------------------------------------

def local(value: dt.datetime) -> dt.datetime:
    """An aware moment in the viewer's zone (naive values are taken as UTC, as the database stores them)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(current().zone)


def format_datetime(value: dt.datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    return dates.format_datetime(local(value), format=format, locale=current().locale)


def format_date(value: dt.date | dt.datetime | None, format: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = local(value).date()
    return dates.format_date(value, format=format, locale=current().locale)


def format_time(value: dt.datetime | None, format: str = "short") -> str:
    if value is None:
        return ""
    return dates.format_time(local(value), format=format, locale=current().locale)


def timeago(value: dt.datetime | None, *, at: dt.datetime | None = None) -> str:
    """"3 min ago" in the viewer's language (future moments: "in 3 min")."""
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    delta = value - (at or now())
    if abs(delta.total_seconds()) < 45:
        return gettext("just now")
    return dates.format_timedelta(delta, add_direction=True, format="short", threshold=1.0,
                                  locale=current().locale)


def format_number(value: int | float | Decimal | None, decimals: int | None = None) -> str:
    if value is None:
        return ""
    if decimals is not None:
        return numbers.format_decimal(value, format=f"#,##0.{'0' * decimals}" if decimals else "#,##0",
                                      locale=current().locale)
    return numbers.format_decimal(value, locale=current().locale)


_currency_digits: Callable[[str], int] = numbers.get_currency_precision


def use_currency_digits(digits: Callable[[str], int]) -> None:
    """How many minor-unit digits a currency has, as the orders domain counts them (set when it is imported)."""
    global _currency_digits
    _currency_digits = digits


def format_money(amount: int | None, currency: str) -> str:
    """Minor units (1999, "USD") as the viewer's locale writes money: `$19.99`, `19,99 $`, `1 234,56 ₽`."""
    digits = _currency_digits(currency)
    value = Decimal(int(amount or 0)).scaleb(-digits)
    if digits == numbers.get_currency_precision(currency):
        return numbers.format_currency(value, currency, locale=current().locale)
    return numbers.format_currency(value, currency, locale=current().locale, currency_digits=False,
                                   decimal_quantization=False)


# -- the workspace's day -----------------------------------------------------------------------------------------

def day_start(zone: zoneinfo.ZoneInfo | str | None, at: dt.datetime | None = None) -> dt.datetime:
    """The UTC moment the day containing `at` (default: now) began in `zone`; DST days are 23 or 25 hours."""
    tz = zone if isinstance(zone, zoneinfo.ZoneInfo) else pick_zone(zone)
    moment = (at or now()).astimezone(tz)
    midnight = dt.datetime.combine(moment.date(), dt.time(), tzinfo=tz)
    return midnight.astimezone(dt.UTC)


def zone_names() -> list[str]:
    """Every IANA zone name, sorted, for the profile, workspace and contact pickers."""
    return list(_zone_names())


@functools.cache
def _zone_names() -> tuple[str, ...]:
    return tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/",
                                                                                                    "SystemV/"))))
