"""Who may list whose notifications: the rule the ListNotifications handler applies."""

from __future__ import annotations

import pytest

from labs_core.errors import PermissionDenied
from services.tools.service_layer.notifications import visible_recipient


def test_non_admins_see_only_their_own() -> None:
    for role in ("viewer", "operator"):
        assert visible_recipient("", "dana", role) == "dana"
        assert visible_recipient("dana", "dana", role) == "dana"
        with pytest.raises(PermissionDenied, match="'erin'"):
            visible_recipient("erin", "dana", role)
    with pytest.raises(PermissionDenied):
        visible_recipient("", "", "viewer")


def test_admins_see_anyone() -> None:
    assert visible_recipient("", "root", "admin") == ""  # everyone's
    assert visible_recipient("erin", "root", "admin") == "erin"


def test_no_role_is_no_authority() -> None:
    """Issue 12 finding 5: a caller without a role was treated as admin."""
    for recipient in ("", "erin"):
        with pytest.raises(PermissionDenied, match="role"):
            visible_recipient(recipient, "", "")
        with pytest.raises(PermissionDenied, match="role"):
            visible_recipient(recipient, "root", "")
