"""squall.locale: loading CSV and gettext translations, choosing a locale,
translating (plurals, contexts) and formatting dates, lists and numbers."""

from __future__ import annotations

import datetime

import pytest
from locale_helpers import ES_CSV, write_mo

from squall import locale
from squall.testing import ExpectLog

pytestmark = pytest.mark.usefixtures("clean_locale")

UTC = datetime.timezone.utc


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(UTC).replace(tzinfo=None)


def load_csv(tmp_path, files):
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    locale.load_translations(str(tmp_path))


def test_defaults_without_translations():
    assert set(locale.get_supported_locales()) == {"en_US"}
    english = locale.get()
    assert (english.code, english.name, english.rtl) == ("en_US", "English (US)", False)
    assert english.translate("Sign in") == "Sign in"
    assert locale.get("fr_FR", "de").code == "en_US"


def test_csv_translations_and_plurals(tmp_path):
    load_csv(tmp_path, {"es.csv": ES_CSV, "fr_CA.csv": '"Sign in","Connexion"\n'})
    assert set(locale.get_supported_locales()) == {"es", "fr_CA", "en_US"}
    es = locale.get("es")
    assert isinstance(es, locale.CSVLocale)
    assert es.translate("Sign in") == "Iniciar sesión"
    assert es.translate("Not translated") == "Not translated"
    one, many = "%(n)d person liked this", "%(n)d people liked this"
    assert es.translate(one, many, 1) % {"n": 1} == "A 1 persona le gustó esto"
    assert es.translate(one, many, 3) % {"n": 3} == "A 3 personas les gustó esto"
    # Untranslated plurals pick the English form by count.
    assert locale.get("fr_CA").translate(one, many, 2) == many
    assert es.pgettext("login", "Sign in") == "Iniciar sesión"
    with pytest.raises(ValueError, match="needs a count"):
        es.translate(one, many)


def test_get_closest(tmp_path):
    load_csv(tmp_path, {"es.csv": ES_CSV, "fr_CA.csv": "a,b\n", "pt_BR.csv": "a,b\n"})
    assert locale.get("es_GT").code == "es"  # the seeds' example
    assert locale.get("fr-ca").code == "fr_CA"
    assert locale.get("FR_ca").code == "fr_CA"
    assert locale.get("fr").code == "en_US"  # fr_CA does not serve plain fr
    assert locale.get("xx", "", "a_b_c", "pt_br").code == "pt_BR"
    assert locale.get("de").code == "en_US"
    locale.set_default_locale("pt_BR")
    assert locale.get("de").code == "pt_BR"
    assert "pt_BR" in locale.get_supported_locales()


def test_bad_csv_files_and_rows_are_logged_and_skipped(tmp_path):
    files = {
        "es.csv": "Yes,Sí\nMaybe,Quizás,sometimes\nonly one column\n\nNo,No,\n",
        "not-a-locale.csv": "a,b\n",
        "notes.txt": "ignored",
    }
    with ExpectLog("squall.general", r"Unrecognized (plural indicator 'sometimes'|locale)"):
        load_csv(tmp_path, files)
    assert set(locale.get_supported_locales()) == {"es", "en_US"}
    es = locale.get("es")
    assert es.translate("Yes") == "Sí"
    assert es.translate("Maybe") == "Maybe"
    assert es.translate("No") == "No"


def test_csv_encodings(tmp_path):
    (tmp_path / "de.csv").write_bytes('"Yes","Jä"\n'.encode("utf-16"))
    (tmp_path / "es.csv").write_bytes('"Yes","Sí"\n'.encode("utf-8-sig"))
    (tmp_path / "it.csv").write_bytes('"Yes","Sì"\n'.encode("latin-1"))
    with pytest.raises(UnicodeDecodeError):
        locale.load_translations(str(tmp_path))
    (tmp_path / "it.csv").unlink()
    locale.load_translations(str(tmp_path))
    assert locale.get("de").translate("Yes") == "Jä"
    assert locale.get("es").translate("Yes") == "Sí"
    (tmp_path / "de.csv").unlink()
    (tmp_path / "es.csv").write_bytes('"Yes","Sì"\n'.encode("latin-1"))
    locale.load_translations(str(tmp_path), encoding="latin-1")
    assert locale.get("es").translate("Yes") == "Sì"


def test_gettext_translations(tmp_path):
    write_mo(
        tmp_path / "es_ES" / "LC_MESSAGES" / "app.mo",
        {
            "Sign in": "Iniciar sesión",
            "%(n)d apple\0%(n)d apples": "%(n)d manzana\0%(n)d manzanas",
            "month\x04May": "mayo",
            "verb\x04May": "poder",
            "ctx\x04%(n)d pear\0%(n)d pears": "%(n)d pera\0%(n)d peras",
        },
    )
    (tmp_path / "fr_FR").mkdir()  # no catalog: logged and skipped
    (tmp_path / "README").write_text("not a language")
    with ExpectLog("squall.general", "Cannot load translation for 'fr_FR'"):
        locale.load_gettext_translations(str(tmp_path), "app")
    assert set(locale.get_supported_locales()) == {"es_ES", "en_US"}
    assert locale.get("es-es").code == "es_ES"
    assert locale.get("es").code == "en_US"  # a region does not serve its language
    es = locale.get("es_ES")
    assert isinstance(es, locale.GettextLocale)
    assert es.translate("Sign in") == "Iniciar sesión"
    assert es.translate("Other") == "Other"
    assert es.translate("%(n)d apple", "%(n)d apples", 1) == "%(n)d manzana"
    assert es.translate("%(n)d apple", "%(n)d apples", 5) == "%(n)d manzanas"
    assert es.pgettext("month", "May") == "mayo"
    assert es.pgettext("verb", "May") == "poder"
    assert es.pgettext("other", "May") == "May"
    assert es.pgettext("ctx", "%(n)d pear", "%(n)d pears", 2) == "%(n)d peras"
    assert es.pgettext("nope", "%(n)d apple", "%(n)d apples", 2) == "%(n)d manzanas"
    with pytest.raises(ValueError, match="needs a count"):
        es.pgettext("ctx", "a", "b")
    with pytest.raises(ValueError, match="needs a count"):
        es.translate("a", "b")


def test_locale_names_and_rtl():
    assert locale.LOCALE_NAMES["fa_IR"]["name_en"] == "Persian"
    assert len(locale.LOCALE_NAMES) == 62
    assert locale.Locale.get("fa_IR").rtl and locale.Locale.get("he_IL").rtl
    assert locale.Locale.get("xx_YY").name == "Unknown"
    assert locale.Locale.get("de_DE").name == "Deutsch"


# -- formatting --------------------------------------------------------------------


def test_format_date_relative():
    en = locale.get("en_US")
    now = utcnow()
    ago = {
        "30 seconds ago": datetime.timedelta(seconds=30),
        "1 second ago": datetime.timedelta(seconds=1),
        "5 minutes ago": datetime.timedelta(minutes=5),
        "1 minute ago": datetime.timedelta(seconds=65),
        "3 hours ago": datetime.timedelta(hours=3),
        "1 hour ago": datetime.timedelta(minutes=55),
    }
    for expected, delta in ago.items():
        assert en.format_date(now - delta) == expected
    # Up to a minute in the future is clock skew: "now".
    assert en.format_date(now + datetime.timedelta(seconds=10)) == "0 seconds ago"


def test_format_date_absolute_forms():
    en = locale.get("en_US")
    when = datetime.datetime(2020, 5, 17, 15, 4)
    assert en.format_date(when) == "May 17, 2020 at 3:04 pm"
    assert en.format_date(when, shorter=True) == "May 17, 2020"
    assert en.format_date(when, gmt_offset=120) == "May 17, 2020 at 1:04 pm"
    assert en.format_date(when.replace(hour=0, minute=7)) == "May 17, 2020 at 12:07 am"
    assert en.format_date(when.replace(tzinfo=UTC)) == "May 17, 2020 at 3:04 pm"
    assert en.format_date(when.replace(tzinfo=UTC).timestamp()) == "May 17, 2020 at 3:04 pm"
    assert en.format_date(0, relative=False) == "January 1, 1970 at 12:00 am"
    future = utcnow() + datetime.timedelta(days=3)
    assert str(future.year) in en.format_date(future)  # the future is always in full
    assert locale.Locale.get("de_DE").format_date(when) == "May 17, 2020 at 15:04"
    assert locale.Locale.get("zh_CN").format_date(when).endswith(" \u4e0b\u53483:04")


def test_format_date_recent_days():
    en = locale.get("en_US")
    now = utcnow()
    yesterday = now - datetime.timedelta(days=1, minutes=1)
    if yesterday.day == (now - datetime.timedelta(hours=24)).day:
        assert en.format_date(yesterday, shorter=True) == "yesterday"
        assert en.format_date(yesterday).startswith("yesterday at ")
    three_days = now - datetime.timedelta(days=3)
    weekday = three_days.strftime("%A")
    assert en.format_date(three_days, shorter=True) == weekday
    assert en.format_date(three_days).startswith(f"{weekday} at ")
    assert en.format_date(now - datetime.timedelta(hours=2), relative=False).endswith(("am", "pm"))
    hundred = now - datetime.timedelta(days=100)
    assert en.format_date(hundred, shorter=True) == f"{hundred:%B} {hundred.day}"
    full = en.format_date(three_days, full_format=True)
    assert full.startswith(f"{three_days:%B} {three_days.day}, {three_days.year} at ")


def test_format_day_list_and_numbers(tmp_path):
    en = locale.get("en_US")
    day = datetime.datetime(2020, 5, 18, 0, 30)
    assert en.format_day(day) == "Monday, May 18"
    assert en.format_day(day, dow=False) == "May 18"
    assert en.format_day(day, gmt_offset=60) == "Sunday, May 17"
    assert en.list([]) == ""
    assert en.list(["a"]) == "a"
    assert en.list(["a", "b"]) == "a and b"
    assert en.list(iter(["a", "b", "c"])) == "a, b and c"
    assert en.friendly_number(1234567) == "1,234,567"
    assert locale.Locale.get("de_DE").friendly_number(1234567) == "1234567"
    assert locale.Locale.get("fa_IR").list(["a", "b", "c"]) == "a \u0648 b and c"
    load_csv(tmp_path, {"es.csv": ES_CSV})
    es = locale.get("es")
    assert es.format_day(day) == "lunes 18 de mayo"
    assert es.list(["a", "b", "c"]) == "a, b y c"
