"""Test support for squall applications (filled in by the foundation issue)."""
