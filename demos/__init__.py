"""Runnable demo applications, built only on squall's public API."""
