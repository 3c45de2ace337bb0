"""The OpenID request and AX record helpers on their own (pure functions)."""

from __future__ import annotations

import pytest

from squall.auth._openid import (
    AX_NS,
    AX_TYPES,
    IDENTIFIER_SELECT,
    ax_fetch_fields,
    checkid_setup_fields,
    user_record_from_ax,
)


def test_checkid_setup_realm_is_the_site_root() -> None:
    fields = checkid_setup_fields("https://example.test:8443/auth/openid?next=%2F")
    assert fields["openid.mode"] == "checkid_setup"
    assert fields["openid.realm"] == "https://example.test:8443/"
    assert fields["openid.claimed_id"] == fields["openid.identity"] == IDENTIFIER_SELECT
    assert fields["openid.return_to"] == "https://example.test:8443/auth/openid?next=%2F"


def test_ax_name_stands_for_three_attributes_all_required() -> None:
    fields = ax_fetch_fields(["name", "email"])
    assert fields["openid.ns.ax"] == AX_NS
    assert fields["openid.ax.mode"] == "fetch_request"
    assert fields["openid.ax.required"] == "firstname,fullname,lastname,email"
    assert fields["openid.ax.type.lastname"] == AX_TYPES["lastname"]
    assert "openid.ax.type.name" not in fields


def test_no_ax_attributes_means_no_ax_fields() -> None:
    assert ax_fetch_fields([]) == {}


def test_unknown_ax_attribute_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown AX attribute 'shoe_size'"):
        ax_fetch_fields(["email", "shoe_size"])


def test_record_from_ax_composes_a_name_and_lowers_the_locale() -> None:
    record = user_record_from_ax(
        {"firstname": "Ada", "lastname": "Lovelace", "language": "EN-GB", "username": "ada"}
    )
    assert record == {
        "first_name": "Ada",
        "last_name": "Lovelace",
        "name": "Ada Lovelace",
        "locale": "en-gb",
        "username": "ada",
    }


def test_record_from_ax_prefers_the_full_name_and_skips_empty_parts() -> None:
    # Observed from Tornado 6's OpenIdMixin with the same AX values.
    assert user_record_from_ax({"fullname": "A. L.", "firstname": "Ada"})["name"] == "A. L."
    assert user_record_from_ax({"firstname": "", "lastname": "Lovelace"}) == {
        "last_name": "Lovelace",
        "name": "Lovelace",
    }


def test_record_from_ax_falls_back_to_the_email_local_part() -> None:
    assert user_record_from_ax({"email": "ada@example.test"}) == {
        "email": "ada@example.test",
        "name": "ada",
    }
    assert user_record_from_ax({"email": "no-at-sign"})["name"] == "no-at-sign"
