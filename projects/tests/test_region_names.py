"""Regions by the names the Azure portal gives them, and Add tools' Geography choice."""

import pytest
from django.core.management import call_command
from django.template import Context, Template

from projects.forms import AddToolsForm
from projects.models import User
from projects.regions import region_display_name

CONTOSO = "11111111-1111-1111-1111-111111111111"


def test_a_region_id_reads_as_its_display_name():
    assert region_display_name("westeurope") == "West Europe"
    assert region_display_name("West Europe") == "West Europe"
    assert region_display_name("eastus2") == "East US 2"
    assert region_display_name("moon") == "moon", "an id Migrate Hub does not know stays as it is"
    assert region_display_name(None) == ""


def test_templates_name_regions():
    template = Template("{% load regions %}{{ location|region_name }}")
    assert template.render(Context({"location": "southeastasia"})) == "Southeast Asia"


@pytest.mark.django_db
def test_add_tools_offers_geographies_then_their_regions_by_name():
    call_command("seed_demo", verbosity=0)
    admin = User.objects.get(email="admin@contoso.com")
    empty = AddToolsForm(admin)
    assert [label for _, label in empty.fields["geography"].choices] == [
        "Select a geography",
        "Asia",
        "Europe",
        "United States",
    ]
    assert empty.fields["location"].choices == [("", "Select a geography first")]

    europe = AddToolsForm(admin, {"subscription": CONTOSO, "geography": "Europe"})
    assert europe.fields["location"].choices == [("northeurope", "North Europe"), ("westeurope", "West Europe")]
    assert europe["location"].value() == "northeurope", "the geography's first region is preselected"

    chosen = AddToolsForm(admin, {"subscription": CONTOSO, "geography": "United States", "location": "westcentralus"})
    assert chosen["location"].value() == "westcentralus"
    # A region of another geography (the geography changed): the new geography's first region.
    moved = AddToolsForm(admin, {"subscription": CONTOSO, "geography": "Asia", "location": "westeurope"})
    assert moved["location"].value() == "southeastasia"


@pytest.mark.django_db
def test_add_tools_asks_for_a_geography(client):
    call_command("seed_demo", verbosity=0)
    client.login(email="admin@contoso.com", password="migrate-demo")
    data = {
        "step": "0",
        "subscription": CONTOSO,
        "resource_group": "rg-migrate",
        "project_name": "geo-project",
        "assessment_tool": "skip",
        "migration_tool": "ServerMigration",
    }
    page = client.post("/migrate/add-tools/", data).content.decode()
    assert "Select the geography where the project&#x27;s metadata is stored." in page
    page = client.post(
        "/migrate/add-tools/", {**data, "geography": "Europe", "location": "westeurope"}
    ).content.decode()
    assert 'name="step" value="1"' in page and "field-error" not in page, "on to Select assessment tool"
