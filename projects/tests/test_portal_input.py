"""Odd portal input gets an answer, never a 500."""

import pytest

pytestmark = pytest.mark.django_db
CONTOSO = "11111111-1111-1111-1111-111111111111"


def test_a_non_numeric_user_on_a_directory_role_is_a_message(admin_client):
    response = admin_client.post("/aad/roles/global-administrator/", {"user": "abc"}, follow=True)
    assert response.status_code == 200
    assert "Select a user of this directory." in response.content.decode()


def test_refreshing_the_review_tab_of_an_empty_wizard_works(admin_client):
    data = {
        "action": "refresh",
        "step": "3",
        "subscription": CONTOSO,
        "assessment_tool": "skip",
        "migration_tool": "skip",
    }
    assert admin_client.post("/migrate/add-tools/", data).status_code == 200


def test_the_clock_refuses_to_run_off_the_calendar(admin_client):
    response = admin_client.post("/emulator/clock", {"action": "advance", "duration": "3000000d"})
    assert response.status_code == 400 and "at most 3650 days" in response.json()["error"]["message"]
    assert admin_client.get("/").status_code == 200
