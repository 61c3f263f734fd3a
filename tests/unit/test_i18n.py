"""Languages and local time: formats for the viewer, the workspace's day across DST, language choice, plurals,
and complete catalogues (a message id used anywhere without a translation fails here)."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from app.lib import i18n
from app.lib.templates import environment

REPO = Path(__file__).resolve().parents[2]
SOFIA = zoneinfo.ZoneInfo("Europe/Sofia")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# -- local time ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "shown"), [
    (utc(2026, 1, 15, 13, 0), "15:00"),   # EET, UTC+2
    (utc(2026, 3, 28, 13, 0), "15:00"),   # the day before summer time
    (utc(2026, 3, 29, 13, 0), "16:00"),   # summer time began at 01:00Z that morning (EEST, UTC+3)
    (utc(2026, 10, 24, 13, 0), "16:00"),  # the day before it ends
    (utc(2026, 10, 25, 13, 0), "15:00"),  # back to UTC+2 at 01:00Z
])
def test_sofia_workspace_shows_local_wall_time_on_both_sides_of_dst(event: dt.datetime, shown: str) -> None:
    for language in ("ru", "bg"):
        with i18n.viewing(language, "Europe/Sofia"):
            assert i18n.format_time(event) == shown
            assert shown in i18n.format_datetime(event)
            rendered = environment().from_string("{{ at|datetime }}").render(at=event)
            assert shown in rendered
    with i18n.viewing("en", "Europe/Sofia"):
        hour = int(shown[:2]) - 12
        assert i18n.format_time(event) == f"{hour}:00\u202fPM"


def test_a_filter_over_a_literal_follows_each_viewer_not_the_first_render() -> None:
    """Jinja's optimizer folds a filter over a constant at compile time: a cached template would then show the first
    viewer's word to everyone (an English "available" in a Russian console)."""
    template = environment().from_string('{{ "available"|word }} {{ 1234567|number }}')
    with i18n.viewing("en"):
        assert template.render() == "available 1,234,567"
    with i18n.viewing("ru"):
        assert template.render() == "на месте 1\xa0234\xa0567"
    with i18n.viewing("bg"):
        assert template.render().startswith(i18n.translations("bg").gettext("available") + " ")


def test_without_a_viewer_times_are_utc() -> None:
    assert i18n.format_time(utc(2026, 1, 15, 13, 0)) == "1:00\u202fPM"


def test_the_workspace_day_starts_at_local_midnight_and_dst_days_are_23_and_25_hours() -> None:
    assert i18n.day_start(SOFIA, utc(2026, 1, 15, 21, 59)) == utc(2026, 1, 14, 22, 0)
    assert i18n.day_start(SOFIA, utc(2026, 1, 15, 22, 0)) == utc(2026, 1, 15, 22, 0)  # 00:00 on the 16th in Sofia
    spring = i18n.day_start(SOFIA, utc(2026, 3, 29, 12, 0))
    after = i18n.day_start(SOFIA, utc(2026, 3, 30, 12, 0))
    assert spring == utc(2026, 3, 28, 22, 0) and after - spring == dt.timedelta(hours=23)
    autumn = i18n.day_start(SOFIA, utc(2026, 10, 25, 12, 0))
    assert i18n.day_start(SOFIA, utc(2026, 10, 26, 12, 0)) - autumn == dt.timedelta(hours=25)
    assert i18n.day_start("UTC", utc(2026, 1, 15, 13, 0)) == utc(2026, 1, 15)


def test_relative_times_in_the_viewers_language() -> None:
    at = utc(2026, 1, 15, 13, 0)
    three_min = at - dt.timedelta(minutes=3)
    with i18n.viewing("en"):
        assert i18n.timeago(three_min, at=at) == "3 min. ago"
        assert i18n.timeago(at - dt.timedelta(seconds=10), at=at) == "just now"
    with i18n.viewing("ru"):
        assert i18n.timeago(three_min, at=at) == "3 мин. назад"
        assert i18n.timeago(at - dt.timedelta(seconds=10), at=at) == "только что"
    with i18n.viewing("bg"):
        assert i18n.timeago(three_min, at=at) == "преди 3 мин"


# -- numbers and money --------------------------------------------------------------------------------------------

def test_money_and_numbers_follow_the_viewers_locale() -> None:
    nbsp = "\xa0"
    with i18n.viewing("ru"):
        assert i18n.format_money(123456, "RUB") == f"1{nbsp}234,56{nbsp}₽"
        assert i18n.format_number(1234.5, 1) == f"1{nbsp}234,5"
    with i18n.viewing("en"):
        assert i18n.format_money(123456, "USD") == "$1,234.56"
        assert i18n.format_money(1000, "JPY") == "¥1,000"
        assert i18n.format_number(1234567) == "1,234,567"
    with i18n.viewing("bg"):
        assert i18n.format_money(123456, "EUR") == f"1{nbsp}234,56{nbsp}€"


# -- choosing the language ----------------------------------------------------------------------------------------

def test_language_choice_order() -> None:
    assert i18n.negotiate("bg-BG,bg;q=0.9,en;q=0.8") == "bg"
    assert i18n.negotiate("de-DE,de;q=0.9,ru;q=0.5,en;q=0.4") == "ru"
    assert i18n.negotiate("en;q=0.1, ru;q=0.9") == "ru"
    assert i18n.negotiate("de, fr") is None
    assert i18n.pick("", "bg", accept_language="ru") == "bg"       # the workspace's before the browser's
    assert i18n.pick("", "", accept_language="ru-RU") == "ru"      # then the browser's
    assert i18n.pick("xx", accept_language="de") == "en"            # then English
    assert i18n.pick_zone("", "Nowhere/City", "Europe/Sofia") == SOFIA
    assert i18n.negotiate(i18n.posix_languages({"LANG": "bg_BG.UTF-8"})) == "bg"
    assert i18n.negotiate(i18n.posix_languages({"LANGUAGE": "de:ru", "LANG": "en_US.UTF-8"})) == "ru"
    assert i18n.negotiate(i18n.posix_languages({"LANG": "C.UTF-8"})) is None


# -- plurals ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("language", "expected"), [
    ("ru", ["1 заказ", "2 заказа", "5 заказов", "21 заказ", "11 заказов", "22 заказа"]),
    ("bg", ["1 поръчка", "2 поръчки", "5 поръчки", "21 поръчки", "11 поръчки", "22 поръчки"]),
    ("en", ["1 order", "2 orders", "5 orders", "21 orders", "11 orders", "22 orders"]),
])
def test_plural_forms(language: str, expected: list[str]) -> None:
    with i18n.viewing(language):
        got = [i18n.ngettext("%(num)d order", "%(num)d orders", n) for n in (1, 2, 5, 21, 11, 22)]
        template = environment().from_string('{{ ngettext("%(num)d order", "%(num)d orders", n) }}')
        assert [template.render(n=n) for n in (1, 2, 5, 21, 11, 22)] == expected
    assert got == expected


def test_script_catalogue_carries_the_plural_rule_and_script_strings() -> None:
    js = i18n.js_runtime("ru")
    assert '"Chat with us": "Напишите нам"' in js
    assert "n % 10 == 1" in js  # Russian's three forms
    assert '"Home"' not in js   # page strings stay on the server


# -- catalogues are complete --------------------------------------------------------------------------------------

def _used_message_ids() -> dict[object, str]:
    """Every message id in templates, scripts and Python, as `make messages` extracts them."""
    with (REPO / "babel.cfg").open() as fh:
        method_map, options = parse_mapping_cfg(fh)
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found: dict[object, str] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options, keywords=keywords, strip_comment_tags=True,
            directory_filter=lambda d: not Path(d).name.startswith(".") and Path(d).name != "__pycache__"):
        found.setdefault(message, filename)
    return found


PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\{ ?[\w.]+ ?\}\}")


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT_LANGUAGE])
def test_every_message_id_has_a_translation_in_every_catalogue(language: str) -> None:
    catalogue = i18n.catalogue(language)
    assert catalogue is not None, f"no catalogue for {language}: app/locale/{language}/LC_MESSAGES/messages.po"
    used = _used_message_ids()
    assert len(used) > 200  # the extraction itself works (templates, scripts and Python all read)
    nplurals = catalogue.num_plurals
    problems = []
    for msgid, where in used.items():
        key = msgid[0] if isinstance(msgid, tuple) else msgid
        entry = catalogue.get(key)
        if entry is None or entry.fuzzy:
            problems.append(f"{where}: {msgid!r} is missing")
            continue
        forms = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        if isinstance(msgid, tuple) and len(forms) != nplurals:
            problems.append(f"{where}: {msgid!r} needs {nplurals} plural forms")
        if not all(forms):
            problems.append(f"{where}: {msgid!r} is not translated")
            continue
        wanted = set(PLACEHOLDER.findall(msgid[-1] if isinstance(msgid, tuple) else msgid))
        for form in forms:
            have = set(PLACEHOLDER.findall(form))
            if have - wanted or (not isinstance(msgid, tuple) and wanted - have):
                problems.append(f"{where}: {msgid!r} translation {form!r} does not keep the placeholders {wanted}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("language", [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT_LANGUAGE])
def test_no_message_is_defined_twice(language: str) -> None:
    """Babel keeps the last of two entries with one msgid where msgfmt refuses the file: a catalogue that entries were
    appended to from several branches must not carry one twice."""
    text = i18n.catalogue_path(language).read_text(encoding="utf-8")
    keys = re.findall(r'^(?:msgctxt "(?:[^"\\]|\\.)*"\n)?msgid "(?:[^"\\]|\\.)*"\n(?:"(?:[^"\\]|\\.)*"\n)*', text,
                      re.MULTILINE)
    repeated = sorted({k for k in keys if keys.count(k) > 1 and k != 'msgid ""\n'})
    assert not repeated, f"defined twice in {language}: {repeated[:5]}"


def test_the_catalogue_plural_rules_are_right() -> None:
    ru, bg = i18n.catalogue("ru"), i18n.catalogue("bg")
    assert ru.num_plurals == 3 and bg.num_plurals == 2


def test_domain_error_messages_are_catalogue_templates_not_f_strings() -> None:
    """`raise Invalid(f"No queue {key}.")` would stay English (its text is in no catalogue): the message is a constant
    with `%(name)s` placeholders and the values are keyword arguments, filled after translation."""
    import ast

    from app.lib.i18n_extract import ERROR_CLASSES

    built = []
    for root in ("app", "tenants", "telephony", "realtime"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call) or not node.args:
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                first = node.args[0]
                options = (first.body, first.orelse) if isinstance(first, ast.IfExp) else (first,)
                if name in ERROR_CLASSES and any(isinstance(o, (ast.JoinedStr, ast.BinOp)) for o in options):
                    built.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not built, "messages built at runtime, not translatable: " + ", ".join(built)


def test_a_domain_error_is_translated_when_shown_with_its_values() -> None:
    from app.lib.errors import Conflict, NotFound

    err = NotFound("No queue %(key)s.", key="'vip'")
    assert err.message == str(err) == "No queue 'vip'."  # English for logs, whoever raised it
    with i18n.viewing("ru"):
        assert err.detail == "Нет очереди 'vip'." and err.to_dict()["detail"] == "Нет очереди 'vip'."
    with i18n.viewing("bg"):
        assert err.detail == "Няма опашка 'vip'."
    assert err.detail == "No queue 'vip'."
    plain = Conflict("A value 100% taken.")  # no values: a % in the text stays as written
    assert plain.detail == "A value 100% taken."


@pytest.mark.parametrize(("lang", "expected"), [
    ("ru_RU.UTF-8", ["Создать демо-магазин", "Язык и страна клиентов демо"]),
    ("bg_BG.UTF-8", ["Създава демо магазина", "Език и държава на клиентите"]),
    ("C.UTF-8", ["Create the demo shop", "Language and country of the demo's customers"]),
])
def test_cli_help_speaks_the_terminals_language(lang: str, expected: list[str]) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES")}
    done = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--help"], env={**env, "LANG": lang,
                          "COLUMNS": "200"}, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    for text in expected:
        assert text in done.stdout


# -- stored texts (timeline summaries) are shown in the reader's language -------------------------------------------

def test_a_stored_text_is_shown_in_the_readers_language_and_old_rows_as_stored() -> None:
    spec = i18n.stored_text("Deal “%(title)s” opened in %(stage)s (%(value)s)",
                            {"title": "Kia 50%", "stage": "Lead", "value": "$5.00"}, ("stage",))
    english = "Deal “Kia 50%” opened in Lead ($5.00)"
    assert i18n.fill(spec["t"], spec["p"]) == english
    assert i18n.show_stored(spec, english) == english
    with i18n.viewing("ru"):
        assert i18n.show_stored(spec, english) == "Сделка «Kia 50%» открыта на этапе «Лид» ($5.00)"
    with i18n.viewing("bg"):
        assert i18n.show_stored(spec, english).startswith("Сделка „Kia 50%“ е открита на етап")  # noqa: RUF001
        assert i18n.show_stored(None, "Old text") == "Old text"  # written before templates were kept
        assert i18n.show_stored({"t": "Order %(number)s placed: %(total)s", "p": {}}, "kept") == "kept"
        assert i18n.show_stored({"t": "Contact created", "p": {}}, "x") == "Контактът е създаден"  # noqa: RUF001


def test_timeline_summaries_the_product_writes_are_catalogue_templates() -> None:
    """`timeline.record(c, "order", "in", f"Order {n} placed")` would be stored and shown in English only: a summary
    the product writes is a constant template with `params=`; only someone's own words go without."""
    import ast

    from app.lib.i18n_extract import STORED_SUMMARIES

    wrong = []
    for root in ("app", "tenants", "telephony", "realtime"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                owner = getattr(getattr(node.func, "value", None), "id", "")
                if name not in STORED_SUMMARIES or owner not in ("timeline", "self", "w"):
                    continue
                index = STORED_SUMMARIES[name]
                if len(node.args) <= index:
                    continue
                summary = node.args[index]
                parts = [summary.body, summary.orelse] if isinstance(summary, ast.IfExp) else (
                    summary.values if isinstance(summary, ast.BoolOp) else [summary])
                has_params = any(k.arg == "params" for k in node.keywords)
                if any(isinstance(p, (ast.JoinedStr, ast.BinOp)) for p in parts) or (
                        not has_params and any(isinstance(p, ast.Constant) for p in parts)):
                    wrong.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not wrong, "timeline summaries stored in English only: " + ", ".join(wrong)


def test_every_audit_action_has_a_description_in_every_language() -> None:
    import ast

    from app.audit.services import ACTIONS, describe

    missing = []
    for root in ("app", "tenants", "telephony"):
        for path in sorted((REPO / root).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "record"
                        and getattr(getattr(node.func, "value", None), "id", "") == "audit" and node.args
                        and isinstance(node.args[0], ast.Constant) and node.args[0].value not in ACTIONS):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {node.args[0].value}")
    assert not missing, "audit actions without a description: " + ", ".join(missing)
    with i18n.viewing("ru"):
        assert describe("order.created") == "Заказ создан" and describe("some.new_thing") == "some.new_thing"
    with i18n.viewing("bg"):
        assert describe("contact.merged") == "Контактите са обединени"  # noqa: RUF001
