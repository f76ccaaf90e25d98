"""The cloud metadata document, in the shapes the tools read."""

from __future__ import annotations

from django.test import Client
from django.urls import resolve

from hub import cloud_metadata

ARM = "https://management.core.windows.net/"


def test_2022_09_01_is_one_cloud_built_from_the_request():
    response = Client().get("/metadata/endpoints", {"api-version": "2022-09-01"}, secure=True)
    cloud = response.json()
    assert cloud["name"] == "MigrateHub"
    assert cloud["resourceManager"] == "https://testserver/"
    assert cloud["authentication"]["loginEndpoint"] == "https://testserver/"
    assert cloud["authentication"]["audiences"][0] == ARM
    assert cloud["microsoftGraphResourceId"] == "https://testserver/"
    assert cloud["portal"] == "https://testserver"
    assert cloud["suffixes"]["keyVaultDns"] == "vault.azure.net" and cloud["suffixes"]["storage"] == "core.windows.net"


def test_2019_05_01_is_a_list_of_clouds_as_az_reads_arm_cloud_metadata_url():
    clouds = Client().get("/metadata/endpoints", {"api-version": "2019-05-01"}).json()
    assert isinstance(clouds, list) and clouds[0]["resourceManager"] == "http://testserver/"
    # What azure-cli-core's _arm_to_cli_mapper reads unconditionally.
    for key in ("name", "resourceManager", "authentication", "suffixes"):
        assert key in clouds[0]


def test_az_cloud_register_asks_with_a_double_slash_and_the_stack_shape():
    # az builds "<--endpoint-resource-manager>" + "/metadata/endpoints?api-version=2015-01-01". (The test
    # client would read "//metadata" as a host, so the route is checked by the resolver.)
    assert resolve("//metadata/endpoints").func is cloud_metadata.endpoints
    cloud = Client().get("/metadata/endpoints", {"api-version": "2015-01-01"}, secure=True).json()
    assert cloud["authentication"]["loginEndpoint"] == "https://testserver/"
    assert cloud["authentication"]["audiences"][0] == ARM
    assert cloud["graphEndpoint"] and cloud["galleryEndpoint"]


def test_no_api_version_is_refused():
    response = Client().get("/metadata/endpoints")
    assert response.status_code == 400 and response.json()["error"]["code"] == "MissingApiVersionParameter"
