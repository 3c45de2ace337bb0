from locale_helpers import clean_locale  # noqa: F401
