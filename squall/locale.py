"""Translations and locale-aware formatting (Tornado 6's ``tornado.locale``).

Load translations once at startup, from CSV files (``load_translations``)
or gettext ``.mo`` catalogs (``load_gettext_translations``), then pick a
locale per user::

    squall.locale.load_translations("translations")  # es_GT.csv, fr_CA.csv
    user_locale = squall.locale.get("es_GT", "en_US")
    user_locale.translate("Sign out")
    user_locale.translate("%(n)d person", "%(n)d people", n) % {"n": n}

A CSV row is ``english,translation[,plural]`` where plural is ``plural``,
``singular`` or empty: plural-aware calls (``translate(msg, plural, n)``)
look in the rows marked singular/plural, plain calls in unmarked rows.

Errors: a CSV file whose name is not a locale code, or a row with an
unknown plural marker, is skipped and logged (``squall.general``, ERROR);
so is a gettext language directory that cannot be loaded.
"""

from __future__ import annotations

import csv
import datetime
import gettext
import os
import re
from codecs import BOM_UTF16_BE, BOM_UTF16_LE
from collections.abc import Iterable
from typing import Any

from squall.log import gen_log

__all__ = [
    "CONTEXT_SEPARATOR",
    "LOCALE_NAMES",
    "CSVLocale",
    "GettextLocale",
    "Locale",
    "get",
    "get_supported_locales",
    "load_gettext_translations",
    "load_translations",
    "set_default_locale",
]

# Tornado's default locale.
_default_locale = "en_US"
_translations: dict[str, Any] = {}
_supported_locales: frozenset[str] = frozenset([_default_locale])
_use_gettext = False

# gettext's convention for a message with a context: "context\x04message".
_CONTEXT_SEPARATOR = "\x04"
# Public under Tornado's name, for code that builds its own context keys.
CONTEXT_SEPARATOR = _CONTEXT_SEPARATOR
# A CSV file must be named like "es" or "es_GT".
_CSV_LOCALE_NAME = re.compile(r"[a-z]+(_[A-Z]+)?\Z")
_PLURAL_MARKERS = ("plural", "singular", "unknown")
# Scripts written right to left (Arabic, Persian, Hebrew).
_RTL_LANGUAGES = ("fa", "ar", "he")
# Relative dates: "N seconds ago" below this many seconds, then minutes...
_SECONDS_SHOWN_BELOW = 50
_MINUTES_SHOWN_BELOW = 50 * 60
# Future timestamps this close to now are clock skew: shown as "now".
_CLOCK_SKEW_SECONDS = 60
# Dates within this many days show a weekday; within _SAME_YEAR_DAYS,
# month and day without the year.
_WEEKDAY_DAYS = 5
_SAME_YEAR_DAYS = 334
# English month and weekday names; each locale keeps its translations.
_ENGLISH_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_ENGLISH_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# "... ago" phrases: (below this many seconds, seconds per unit, singular,
# plural, placeholder); the last row has no upper bound.
_AGO_STEPS: tuple[tuple[float, float, str, str, str], ...] = (
    (_SECONDS_SHOWN_BELOW, 1.0, "1 second ago", "%(seconds)d seconds ago", "seconds"),
    (_MINUTES_SHOWN_BELOW, 60.0, "1 minute ago", "%(minutes)d minutes ago", "minutes"),
    (float("inf"), 3600.0, "1 hour ago", "%(hours)d hours ago", "hours"),
)


def get(*locale_codes: str) -> Locale:
    """The closest supported locale to the given codes (the default if none)."""
    best_match = Locale.get_closest(*locale_codes)
    return best_match


def set_default_locale(code: str) -> None:
    """Make ``code`` the fallback locale (it is then always supported)."""
    global _supported_locales, _default_locale
    # Locales built so far may have been built as fallbacks: start afresh.
    Locale._cache.clear()
    _supported_locales = frozenset(_translations).union((code,))
    _default_locale = code


def get_supported_locales() -> Iterable[str]:
    """The codes with translations, plus the default locale."""
    return _supported_locales


def load_translations(directory: str, encoding: str | None = None) -> None:
    """Load every ``<locale>.csv`` in ``directory`` (replacing earlier loads).

    Without ``encoding``, files starting with a UTF-16 byte-order mark are
    read as UTF-16 and others as UTF-8 (a UTF-8 BOM is skipped).
    """
    global _translations, _supported_locales, _use_gettext
    translations: dict[str, dict[str, dict[str, str]]] = {}
    for filename in sorted(os.listdir(directory)):
        if not filename.endswith(".csv"):
            continue
        code = filename[: -len(".csv")]
        path = os.path.join(directory, filename)
        if not _CSV_LOCALE_NAME.match(code):
            gen_log.error("Unrecognized locale %r (path: %s)", code, path)
            continue
        file_encoding = encoding or _sniff_encoding(path)
        with open(path, encoding=file_encoding, newline="") as f:
            table: dict[str, dict[str, str]] = {}
            for lineno, row in enumerate(csv.reader(f), 1):
                if not row or len(row) < 2:
                    continue
                cells = [cell.strip() for cell in row]
                english, translation = cells[0], cells[1]
                plural = (cells[2] if len(cells) > 2 else "") or "unknown"
                if plural not in _PLURAL_MARKERS:
                    gen_log.error(
                        "Unrecognized plural indicator %r in %s line %d", plural, path, lineno
                    )
                    continue
                table.setdefault(plural, {})[english] = translation
        translations[code] = table
    _translations = translations
    _use_gettext = False
    _supported_locales = frozenset([*_translations, _default_locale])
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def _sniff_encoding(path: str) -> str:
    with open(path, "rb") as f:
        head = f.read(2)
    if head in (BOM_UTF16_LE, BOM_UTF16_BE):
        return "utf-16"
    return "utf-8-sig"


def load_gettext_translations(directory: str, domain: str) -> None:
    """Load ``directory/<lang>/LC_MESSAGES/<domain>.mo`` for every language."""
    global _translations, _supported_locales, _use_gettext
    translations: dict[str, gettext.NullTranslations] = {}
    for lang in sorted(os.listdir(directory)):
        if lang.startswith(".") or os.path.isfile(os.path.join(directory, lang)):
            continue
        try:
            translations[lang] = gettext.translation(domain, directory, languages=[lang])
        except Exception as e:
            gen_log.error("Cannot load translation for '%s': %s", lang, e)
    _translations = translations
    _use_gettext = True
    _supported_locales = frozenset([*_translations, _default_locale])
    Locale._cache.clear()
    gen_log.debug("Supported locales: %s", sorted(_supported_locales))


def _lookup_candidates(requested: str) -> list[str]:
    """Codes to try for one requested code, most specific first.

    Dashes and underscores both separate language from region, and case is
    normalised (``es-gt`` → ``es_GT``). Empty codes and codes with more than
    two parts yield nothing.
    """
    pieces = requested.replace("-", "_").split("_") if requested else []
    if not pieces or len(pieces) > 2:
        return []
    language = pieces[0].lower()
    if len(pieces) == 1:
        return [language]
    return [language + "_" + pieces[1].upper(), language]


def _build_locale(code: str) -> Locale:
    """A fresh Locale for ``code`` backed by whichever catalogue was loaded."""
    catalogue = _translations.get(code)
    if catalogue is not None and _use_gettext:
        return GettextLocale(code, catalogue)
    # CSV catalogues, and codes with no catalogue at all (untranslated).
    return CSVLocale(code, catalogue or {})


def _english_name(code: str) -> str:
    entry = LOCALE_NAMES.get(code)
    return "Unknown" if entry is None else entry.get("name", "Unknown")


class Locale:
    """A language: translation plus date, list and number formatting."""

    @classmethod
    def get_closest(cls, *locale_codes: str) -> Locale:
        """The first supported match among ``locale_codes``.

        ``es-gt`` and ``es_GT`` are the same code; a code whose region is
        not supported falls back to its language (``es_GT`` → ``es``);
        nothing supported gives the default locale.
        """
        supported = (
            candidate
            for requested in locale_codes
            for candidate in _lookup_candidates(requested)
            if candidate in _supported_locales
        )
        return cls.get(next(supported, _default_locale))

    @classmethod
    def get(cls, code: str) -> Locale:
        """The locale for exactly ``code`` (cached)."""
        known = cls._cache.get(code)
        if known is None:
            known = cls._cache.setdefault(code, _build_locale(code))
        return known

    # One instance per code; emptied whenever the supported set changes.
    _cache: dict[str, Locale] = {}

    def __init__(self, code: str) -> None:
        language = code[:2]
        self.rtl = language in _RTL_LANGUAGES
        self.name = _english_name(code)
        self.code = code
        # Translated once here; the date helpers index into these lists.
        self._months = [self.translate(month) for month in _ENGLISH_MONTHS]
        self._weekdays = [self.translate(weekday) for weekday in _ENGLISH_WEEKDAYS]

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        """Render ``message`` in this locale's language.

        When ``plural_message`` is given, ``count`` is required and decides
        between the singular and the plural wording.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement translate()")

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        """As ``translate``, but looks ``message`` up under ``context`` first."""
        raise NotImplementedError(f"{type(self).__name__} does not implement pgettext()")

    def format_date(
        self,
        date: int | float | datetime.datetime,
        gmt_offset: int = 0,
        relative: bool = True,
        shorter: bool = False,
        full_format: bool = False,
    ) -> str:
        """Describe a UTC moment (a datetime or a POSIX timestamp) in words.

        With ``relative`` recent moments read "5 minutes ago" or "yesterday
        at 1:30 pm"; ``shorter`` leaves out the time of day whenever a day is
        named; ``full_format`` forces "Month day, year at time".
        ``gmt_offset`` is the reader's distance from UTC in minutes, positive
        west of Greenwich (the sign JavaScript's ``getTimezoneOffset`` uses).
        """
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        moment = _naive_utc(date)
        if moment > now:
            # A moment slightly ahead is taken as clock skew; further ahead,
            # only the absolute form makes sense.
            ahead = (moment - now).total_seconds()
            if relative and ahead < _CLOCK_SKEW_SECONDS:
                moment = now
            else:
                full_format = True
        shift = datetime.timedelta(minutes=gmt_offset)
        local = moment - shift
        elapsed = now - moment

        pattern: str | None = None
        if not full_format:
            if relative and elapsed.days == 0:
                return self._ago(elapsed.seconds)
            day_before = now - shift - datetime.timedelta(days=1)
            pattern = self._recent_pattern(
                elapsed.days, relative and local.day == day_before.day, shorter
            )
        if pattern is None:
            pattern = self._choose(
                shorter,
                "%(month_name)s %(day)s, %(year)s",
                "%(month_name)s %(day)s, %(year)s at %(time)s",
            )
        fields = {
            "month_name": self._months[local.month - 1],
            "weekday": self._weekdays[local.weekday()],
            "day": str(local.day),
            "year": str(local.year),
            "time": self._format_time(local),
        }
        return pattern % fields

    def _ago(self, seconds: int) -> str:
        """ "N seconds/minutes/hours ago" for less than a day."""
        for limit, unit, singular, plural, field in _AGO_STEPS:
            if seconds < limit:
                amount = round(seconds / unit)
                return self.translate(singular, plural, amount) % {field: amount}
        raise AssertionError("unreachable: the last step has no limit")

    def _choose(self, shorter: bool, short_form: str, long_form: str) -> str:
        return self.translate(short_form if shorter else long_form)

    def _recent_pattern(self, days: int, yesterday: bool, shorter: bool) -> str | None:
        """The pattern for a moment ``days`` back, or None when it is too old."""
        if days == 0:
            return self.translate("%(time)s")
        if days == 1 and yesterday:
            return self._choose(shorter, "yesterday", "yesterday at %(time)s")
        if days < _WEEKDAY_DAYS:
            return self._choose(shorter, "%(weekday)s", "%(weekday)s at %(time)s")
        if days < _SAME_YEAR_DAYS:
            return self._choose(
                shorter, "%(month_name)s %(day)s", "%(month_name)s %(day)s at %(time)s"
            )
        return None

    def _format_time(self, moment: datetime.datetime) -> str:
        hour, minute = moment.hour, moment.minute
        if self.code in ("en", "en_US"):
            return "%d:%02d %s" % (hour % 12 or 12, minute, ("am", "pm")[hour >= 12])
        if self.code == "zh_CN":
            return "%s%d:%02d" % (
                ("\u4e0a\u5348", "\u4e0b\u5348")[hour >= 12],
                hour % 12 or 12,
                minute,
            )
        return "%d:%02d" % (hour, minute)

    def format_day(self, date: datetime.datetime, gmt_offset: int = 0, dow: bool = True) -> str:
        """ "Monday, January 22" (or "January 22" without ``dow``)."""
        shown = date - datetime.timedelta(minutes=gmt_offset)
        pattern = "%(weekday)s, %(month_name)s %(day)s" if dow else "%(month_name)s %(day)s"
        return self.translate(pattern) % {
            "day": str(shown.day),
            "weekday": self._weekdays[shown.weekday()],
            "month_name": self._months[shown.month - 1],
        }

    def list(self, parts: Any) -> str:
        """ "A, B and C" in this language."""
        _ = self.translate
        parts = [*parts]
        if not parts:
            return ""
        if len(parts) == 1:
            return str(parts[0])
        comma = " \u0648 " if self.code.startswith("fa") else ", "
        return _("%(commas)s and %(last)s") % {
            "commas": comma.join(parts[:-1]),
            "last": parts[-1],
        }

    def friendly_number(self, value: int) -> str:
        """``value`` with thousands separators (English only, else as is)."""
        # Other languages group digits differently; no table of them is kept.
        grouped = self.code in ("en", "en_US")
        return f"{value:,}" if grouped else str(value)


class CSVLocale(Locale):
    """A locale whose translations came from a CSV file."""

    def __init__(self, code: str, translations: dict[str, dict[str, str]]) -> None:
        # Set before the base initialiser, which already translates month names.
        self.translations: dict[str, dict[str, str]] = translations
        Locale.__init__(self, code)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            return self._lookup("unknown", message)
        _require_count("translate", count)
        if count == 1:
            return self._lookup("singular", message)
        return self._lookup("plural", plural_message)

    def _lookup(self, section: str, text: str) -> str:
        """``text`` translated from one section of the CSV, or ``text`` itself."""
        return self.translations.get(section, {}).get(text, text)

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        del context  # CSV files have no contexts: the message alone is looked up
        return self.translate(message, plural_message=plural_message, count=count)


class GettextLocale(Locale):
    """A locale whose translations came from a gettext catalog."""

    def __init__(self, code: str, translations: gettext.NullTranslations) -> None:
        # As for CSV: the catalog must be in place before month names are translated.
        self._catalog: gettext.NullTranslations = translations
        Locale.__init__(self, code)

    def gettext(self, message: str) -> str:
        """The catalog's translation of ``message``."""
        return self._catalog.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The catalog's singular or plural translation, for ``n``."""
        return self._catalog.ngettext(singular, plural, n)

    def translate(
        self, message: str, plural_message: str | None = None, count: int | None = None
    ) -> str:
        if plural_message is None:
            return self.gettext(message)
        return self.ngettext(message, plural_message, _require_count("translate", count))

    def pgettext(
        self,
        context: str,
        message: str,
        plural_message: str | None = None,
        count: int | None = None,
    ) -> str:
        # A catalog without the contextual entry hands the key back, still
        # holding the separator: then the context-free lookup applies.
        if plural_message is None:
            found = self.gettext(_with_context(context, message))
            return message if _CONTEXT_SEPARATOR in found else found
        n = _require_count("pgettext", count)
        found = self.ngettext(
            _with_context(context, message), _with_context(context, plural_message), n
        )
        if _CONTEXT_SEPARATOR not in found:
            return found
        return self.ngettext(message, plural_message, n)


def _with_context(context: str, message: str) -> str:
    """The catalog key gettext uses for ``message`` under ``context``."""
    return context + _CONTEXT_SEPARATOR + message


def _require_count(method: str, count: int | None) -> int:
    """``count``, or ValueError when a plural lookup came without one."""
    if count is None:
        raise ValueError(f"{method}() with a plural message needs a count")
    return count


def _naive_utc(when: int | float | datetime.datetime) -> datetime.datetime:
    """``when`` as a naive datetime in UTC (timestamps and aware values converted)."""
    if isinstance(when, datetime.datetime):
        if when.tzinfo is None:
            return when
        return when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc).replace(tzinfo=None)


def _names(table: str) -> dict[str, dict[str, str]]:
    """Parse ``code|English name|native name`` lines."""
    names = {}
    for line in table.strip().splitlines():
        code, english, native = line.strip().split("|")
        names[code] = {"name_en": english, "name": native}
    return names


# Every locale squall knows by name: its English and native names.
LOCALE_NAMES: dict[str, dict[str, str]] = _names(
    """
    af_ZA|Afrikaans|Afrikaans
    am_ET|Amharic|አማርኛ
    ar_AR|Arabic|العربية
    bg_BG|Bulgarian|Български
    bn_IN|Bengali|বাংলা
    bs_BA|Bosnian|Bosanski
    ca_ES|Catalan|Català
    cs_CZ|Czech|Čeština
    cy_GB|Welsh|Cymraeg
    da_DK|Danish|Dansk
    de_DE|German|Deutsch
    el_GR|Greek|Ελληνικά
    en_GB|English (UK)|English (UK)
    en_US|English (US)|English (US)
    es_ES|Spanish (Spain)|Español (España)
    es_LA|Spanish|Español
    et_EE|Estonian|Eesti
    eu_ES|Basque|Euskara
    fa_IR|Persian|فارسی
    fi_FI|Finnish|Suomi
    fr_CA|French (Canada)|Français (Canada)
    fr_FR|French|Français
    ga_IE|Irish|Gaeilge
    gl_ES|Galician|Galego
    he_IL|Hebrew|עברית
    hi_IN|Hindi|हिन्दी
    hr_HR|Croatian|Hrvatski
    hu_HU|Hungarian|Magyar
    id_ID|Indonesian|Bahasa Indonesia
    is_IS|Icelandic|Íslenska
    it_IT|Italian|Italiano
    ja_JP|Japanese|日本語
    ko_KR|Korean|한국어
    lt_LT|Lithuanian|Lietuvių
    lv_LV|Latvian|Latviešu
    mk_MK|Macedonian|Македонски
    ml_IN|Malayalam|മലയാളം
    ms_MY|Malay|Bahasa Melayu
    nb_NO|Norwegian (bokmal)|Norsk (bokmål)
    nl_NL|Dutch|Nederlands
    nn_NO|Norwegian (nynorsk)|Norsk (nynorsk)
    pa_IN|Punjabi|ਪੰਜਾਬੀ
    pl_PL|Polish|Polski
    pt_BR|Portuguese (Brazil)|Português (Brasil)
    pt_PT|Portuguese (Portugal)|Português (Portugal)
    ro_RO|Romanian|Română
    ru_RU|Russian|Русский
    sk_SK|Slovak|Slovenčina
    sl_SI|Slovenian|Slovenščina
    sq_AL|Albanian|Shqip
    sr_RS|Serbian|Српски
    sv_SE|Swedish|Svenska
    sw_KE|Swahili|Kiswahili
    ta_IN|Tamil|தமிழ்
    te_IN|Telugu|తెలుగు
    th_TH|Thai|ภาษาไทย
    tl_PH|Filipino|Filipino
    tr_TR|Turkish|Türkçe
    uk_UA|Ukrainian|Українська
    vi_VN|Vietnamese|Tiếng Việt
    zh_CN|Chinese (Simplified)|中文(简体)
    zh_TW|Chinese (Traditional)|中文(繁體)
    """
)
