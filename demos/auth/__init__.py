"""Sign in with OpenID Connect: ``python -m demos.auth``."""
