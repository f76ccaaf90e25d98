"""The Entra ID endpoints in process: discovery, every grant and every sign-in error, and the tokens on
the ARM API and Graph."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.management import call_command
from django.test import Client

from entra import services
from entra.models import DeviceCode, RefreshToken
from entra.tests.conftest import application_with_role
from hub import access_tokens, clock
from hub.models import ApiToken, EmulatorClock, SigningKey
from projects.models import User

pytestmark = pytest.mark.django_db

CLI = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
ARM_SCOPE = "https://management.core.windows.net//.default"
CONTOSO_SUB = "11111111-1111-1111-1111-111111111111"
FABRIKAM_SUB = "22222222-2222-2222-2222-222222222222"
BASE = "http://testserver"


@pytest.fixture
def demo(settings):
    call_command("seed_demo", verbosity=0)
    admin = User.objects.get(email="admin@contoso.com")
    return {
        "admin": admin,
        "tenant": admin.tenant,
        "fabrikam": User.objects.get(email="admin@fabrikam.com"),
        "password": settings.DEMO_PASSWORD,
    }


@pytest.fixture
def app(demo):
    """A service principal with Contributor on Contoso Production, and its secret."""
    return application_with_role(demo["admin"], "ci-pipeline", "Contributor", CONTOSO_SUB)


def device_code_poll(flow: dict) -> dict:
    """What the CLI posts to the token endpoint while it waits for the person."""
    return {
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": CLI,
        "device_code": flow["device_code"],
    }


def post(path, data, **headers):
    return Client().post(path, data, headers=headers)


def password_token(demo, scope=ARM_SCOPE, tenant="organizations", **extra):
    data = {
        "grant_type": "password",
        "client_id": CLI,
        "username": "admin@contoso.com",
        "password": demo["password"],
        "scope": f"{scope} offline_access openid profile",
        "client_info": "1",
        **extra,
    }
    return post(f"/{tenant}/oauth2/v2.0/token", data)


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def arm_get(token, path=f"/subscriptions/{CONTOSO_SUB}/resourcegroups?api-version=2021-04-01"):
    return Client().get(path, headers={"Authorization": f"Bearer {token}"})


# -- discovery --------------------------------------------------------------------------------------


def test_openid_configuration_names_the_endpoints_by_tenant_id(demo):
    tenant = demo["tenant"]
    for segment in (str(tenant.pk), tenant.domain):
        config = Client().get(f"/{segment}/v2.0/.well-known/openid-configuration").json()
        assert config["token_endpoint"] == f"{BASE}/{tenant.pk}/oauth2/v2.0/token"
        assert config["device_authorization_endpoint"] == f"{BASE}/{tenant.pk}/oauth2/v2.0/devicecode"
        assert config["issuer"] == f"{BASE}/{tenant.pk}/v2.0"
        assert config["jwks_uri"] == f"{BASE}/{tenant.pk}/discovery/v2.0/keys"
    common = Client().get("/organizations/v2.0/.well-known/openid-configuration").json()
    assert common["token_endpoint"] == f"{BASE}/organizations/oauth2/v2.0/token"
    assert common["issuer"] == f"{BASE}/{{tenantid}}/v2.0"
    v1 = Client().get(f"/{tenant.domain}/.well-known/openid-configuration").json()
    assert v1["token_endpoint"] == f"{BASE}/{tenant.pk}/oauth2/token"


def test_an_unknown_tenant_is_refused_in_entras_shape(demo):
    response = Client().get("/nowhere.example/v2.0/.well-known/openid-configuration")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_request" and body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nowhere.example' not found.")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


def test_instance_discovery_points_at_the_tenants_configuration(demo):
    response = Client().get(
        "/common/discovery/instance",
        {"api-version": "1.1", "authorization_endpoint": f"{BASE}/contoso.onmicrosoft.com/oauth2/v2.0/authorize"},
    )
    body = response.json()
    assert body["tenant_discovery_endpoint"] == f"{BASE}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    assert body["metadata"][0]["aliases"] == ["testserver"]
    elsewhere = Client().get(
        "/common/discovery/instance", {"authorization_endpoint": "https://evil.example/x/oauth2/v2.0/authorize"}
    )
    assert elsewhere.status_code == 400 and elsewhere.json()["error"] == "invalid_instance"


def test_user_realm_says_managed_for_known_users_only(demo):
    known = Client().get("/common/userrealm/admin@contoso.com", {"api-version": "1.0"}).json()
    assert known["account_type"] == "Managed" and known["domain_name"] == "contoso.onmicrosoft.com"
    unknown = Client().get("/common/userrealm/nobody@contoso.com", {"api-version": "1.0"}).json()
    assert unknown["account_type"] == "Unknown"


def test_the_keys_verify_the_tokens_and_the_key_is_kept_encrypted(demo):
    token = password_token(demo).json()["access_token"]
    keys = Client().get(f"/{demo['tenant'].pk}/discovery/v2.0/keys").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(key for key in keys if key["kid"] == kid)
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(token, public_key, algorithms=["RS256"], audience="https://management.core.windows.net/")
    assert claims["tid"] == str(demo["tenant"].pk)
    stored = SigningKey.objects.get(kid=kid).private_key
    assert "PRIVATE KEY" not in stored and "PRIVATE KEY" not in base64.b64decode(stored).decode("latin-1")


# -- grants -----------------------------------------------------------------------------------------


def test_password_grant_gives_user_tokens_with_azures_claims(demo):
    response = password_token(demo)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and 3600 <= body["expires_in"] <= 5400
    assert body["refresh_token"] and body["id_token"] and body["client_info"]
    claims = claims_of(body["access_token"])
    admin = demo["admin"]
    assert claims["aud"] == "https://management.core.windows.net/"
    assert claims["iss"] == f"{BASE}/{admin.tenant_id}/v2.0"
    assert claims["oid"] == str(admin.object_id) and claims["tid"] == str(admin.tenant_id)
    assert claims["upn"] == "admin@contoso.com" and claims["idtyp"] == "user" and claims["appid"] == CLI
    assert 3600 <= claims["exp"] - claims["iat"] <= 5400
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert info == {"uid": str(admin.object_id), "utid": str(admin.tenant_id)}
    assert claims_of(body["id_token"])["preferred_username"] == "admin@contoso.com"


def test_password_grant_refuses_wrong_password_unknown_user_and_service_principals(demo, app):
    wrong = password_token(demo, password="nope")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant" and wrong.json()["error_codes"] == [50126]
    assert wrong.json()["error_description"].startswith("AADSTS50126: ")
    unknown = password_token(demo, username="ghost@contoso.com")
    assert unknown.json()["error"] == "invalid_grant" and unknown.json()["error_codes"] == [50034]
    principal = app[0].service_principal
    sp = password_token(demo, username=principal.email)
    assert sp.json()["error_codes"] == [50034]
    other_directory = password_token(demo, tenant="fabrikam.onmicrosoft.com")
    assert other_directory.json()["error"] == "invalid_grant"


def test_client_credentials_by_body_or_basic_auth(demo, app):
    application, secret = app
    path = f"/{demo['tenant'].pk}/oauth2/v2.0/token"
    by_body = post(
        path,
        {
            "grant_type": "client_credentials",
            "client_id": application.app_id,
            "client_secret": secret,
            "scope": ARM_SCOPE,
        },
    )
    assert by_body.status_code == 200, by_body.content
    claims = claims_of(by_body.json()["access_token"])
    principal = application.service_principal
    assert claims["oid"] == str(principal.object_id) and claims["idtyp"] == "app"
    assert claims["appid"] == str(application.app_id) and "upn" not in claims
    assert "refresh_token" not in by_body.json()
    basic = base64.b64encode(f"{application.app_id}:{secret}".encode()).decode()
    by_basic = post(path, {"grant_type": "client_credentials", "scope": ARM_SCOPE}, Authorization=f"Basic {basic}")
    assert by_basic.status_code == 200
    listed = arm_get(by_body.json()["access_token"])
    assert listed.status_code == 200 and any(g["name"] == "rg-migrate" for g in listed.json()["value"])


def test_a_wrong_secret_is_invalid_client_401(demo, app):
    application, _ = app
    response = post(
        f"/{demo['tenant'].domain}/oauth2/v2.0/token",
        {"grant_type": "client_credentials", "client_id": application.app_id, "client_secret": "x", "scope": ARM_SCOPE},
        **{"client-request-id": "5a5c5a5c-0000-4000-8000-000000000001"},
    )
    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215: Invalid client secret provided.")
    assert body["correlation_id"] == "5a5c5a5c-0000-4000-8000-000000000001"


def test_client_credentials_need_a_tenant_and_a_default_scope(demo, app):
    application, secret = app
    data = {"grant_type": "client_credentials", "client_id": application.app_id, "client_secret": secret}
    common = post("/organizations/oauth2/v2.0/token", {**data, "scope": ARM_SCOPE})
    assert common.status_code == 400 and common.json()["error_codes"] == [50059]
    delegated = post(f"/{demo['tenant'].pk}/oauth2/v2.0/token", {**data, "scope": "https://management.azure.com/x"})
    assert delegated.json()["error"] == "invalid_scope"
    unknown_resource = post(
        f"/{demo['tenant'].pk}/oauth2/v2.0/token", {**data, "scope": "https://vault.azure.net/.default"}
    )
    assert unknown_resource.json()["error"] == "invalid_resource"


def test_refresh_tokens_are_stored_hashed_and_bound_to_the_client(demo):
    first = password_token(demo).json()
    assert not RefreshToken.objects.filter(token_hash=first["refresh_token"]).exists()
    refreshed = post(
        f"/{demo['tenant'].pk}/oauth2/v2.0/token",
        {"grant_type": "refresh_token", "client_id": CLI, "refresh_token": first["refresh_token"], "scope": ARM_SCOPE},
    )
    assert refreshed.status_code == 200 and claims_of(refreshed.json()["access_token"])["upn"] == "admin@contoso.com"
    other_client = post(
        "/organizations/oauth2/v2.0/token",
        {
            "grant_type": "refresh_token",
            "client_id": "1950a258-227b-4e31-a9cf-717495945fc2",
            "refresh_token": first["refresh_token"],
            "scope": ARM_SCOPE,
        },
    )
    assert other_client.json()["error"] == "invalid_grant"
    forged = post(
        "/organizations/oauth2/v2.0/token",
        {"grant_type": "refresh_token", "client_id": CLI, "refresh_token": "0.forged", "scope": ARM_SCOPE},
    )
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_grant"


def test_graph_scope_gives_a_token_graph_accepts_and_arm_refuses(demo):
    graph = password_token(demo, scope="https://graph.microsoft.com/.default").json()["access_token"]
    assert claims_of(graph)["aud"] == "https://graph.microsoft.com"
    me = Client().get("/v1.0/me", headers={"Authorization": f"Bearer {graph}"})
    assert me.status_code == 200 and me.json()["userPrincipalName"] == "admin@contoso.com"
    refused = arm_get(graph)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationToken"
    hub_graph = password_token(demo, scope=f"{BASE}//.default").json()["access_token"]
    assert Client().get("/v1.0/me", headers={"Authorization": f"Bearer {hub_graph}"}).status_code == 200


def test_device_code_grant_waits_for_the_person_then_succeeds_once(demo):
    start = post("/organizations/oauth2/v2.0/devicecode", {"client_id": CLI, "scope": f"{ARM_SCOPE} offline_access"})
    assert start.status_code == 200
    flow = start.json()
    assert flow["verification_uri"] == f"{BASE}/devicelogin" and flow["interval"] == 5
    assert flow["user_code"] in flow["message"]
    poll = device_code_poll(flow)
    pending = post("/organizations/oauth2/v2.0/token", poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"

    browser = Client()
    browser.force_login(demo["admin"])
    typed = flow["user_code"].lower()[:4] + "-" + flow["user_code"][4:]
    confirm = browser.post("/devicelogin", {"code": typed})
    assert b"Are you trying to sign in to Microsoft Azure CLI?" in confirm.content
    done = browser.post("/devicelogin", {"code": flow["user_code"], "decision": "continue"})
    assert b"You have signed in" in done.content

    granted = post("/organizations/oauth2/v2.0/token", poll)
    assert granted.status_code == 200 and claims_of(granted.json()["access_token"])["upn"] == "admin@contoso.com"
    again = post("/organizations/oauth2/v2.0/token", poll)
    assert again.json()["error"] == "invalid_grant"


def test_an_expired_device_code_and_a_wrong_code(demo):
    flow = post("/organizations/oauth2/v2.0/devicecode", {"client_id": CLI, "scope": ARM_SCOPE}).json()
    browser = Client()
    browser.force_login(demo["admin"])
    wrong = browser.post("/devicelogin", {"code": "NOTACODE1"})
    assert wrong.status_code == 400 and b"wasn&#x27;t recognized" in wrong.content
    DeviceCode.objects.update(expires_at=clock.now() - timedelta(seconds=1))
    poll = device_code_poll(flow)
    expired = post("/organizations/oauth2/v2.0/token", poll)
    assert expired.status_code == 400 and expired.json()["error"] == "expired_token"


def test_device_login_needs_a_signed_in_user(demo):
    response = Client().get("/devicelogin")
    assert response.status_code == 302 and "/signin/" in response["Location"]


def test_bad_requests_are_entra_errors_never_5xx(demo):
    path = f"/{demo['tenant'].pk}/oauth2/v2.0/token"
    assert post(path, {"grant_type": "authorization_code"}).json()["error"] == "unsupported_grant_type"
    assert post(path, {}).json()["error_codes"] == [900144]
    huge = post(
        path, {"grant_type": "password", "client_id": CLI, "username": "a" * 5000, "password": "x", "scope": ARM_SCOPE}
    )
    assert huge.status_code == 400 and huge.json()["error"] == "invalid_request"
    bad_basic = post(path, {"grant_type": "client_credentials", "scope": ARM_SCOPE}, Authorization="Basic !!!")
    assert bad_basic.status_code == 401
    assert Client().get(path).status_code == 405
    json_body = Client().post(path, data="{}", content_type="application/json")
    assert json_body.status_code == 400
    broken_multipart = Client().post(path, data="--x\r\nnot a part", content_type="multipart/form-data; boundary=x")
    assert broken_multipart.status_code == 400 and broken_multipart.json()["error"] == "invalid_request"
    too_many = Client().post(
        path, data="&".join(f"f{i}=1" for i in range(2000)), content_type="application/x-www-form-urlencoded"
    )
    assert too_many.status_code == 400


# -- the ARM API with these tokens ------------------------------------------------------------------


def test_an_expired_token_is_expired_authentication_token(demo):
    token = password_token(demo).json()["access_token"]
    EmulatorClock.objects.update_or_create(pk=1, defaults={"offset_seconds": 2 * 3600})
    clock._cached = None
    response = arm_get(token)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "ExpiredAuthenticationToken"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_tampered_or_foreign_token_is_invalid_authentication_token(demo):
    token = password_token(demo).json()["access_token"]
    header, payload, signature = token.split(".")
    claims = claims_of(token)
    claims["upn"] = "someone@else.com"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = arm_get(f"{header}.{forged_payload}.{signature}")
    assert tampered.status_code == 401 and tampered.json()["error"]["code"] == "InvalidAuthenticationToken"
    foreign_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(token)["kid"]
    foreign = jwt.encode(claims_of(token), foreign_key, algorithm="RS256", headers={"kid": kid})
    assert arm_get(foreign).json()["error"]["code"] == "InvalidAuthenticationToken"
    wrong_issuer = access_tokens.sign({**claims_of(token), "iss": "https://elsewhere/other/v2.0"})
    assert arm_get(wrong_issuer).json()["error"]["code"] == "InvalidAuthenticationToken"


def test_another_tenants_token_on_a_subscription_is_invalid_authentication_token_tenant(demo):
    token = password_token(demo).json()["access_token"]
    response = arm_get(token, f"/subscriptions/{FABRIKAM_SUB}/resourcegroups?api-version=2021-04-01")
    assert response.status_code == 401
    error = response.json()["error"]
    fabrikam = demo["fabrikam"].tenant_id
    assert error["code"] == "InvalidAuthenticationTokenTenant"
    assert error["message"].startswith(f"The access token is from the wrong issuer '{BASE}/{demo['tenant'].pk}/v2.0'.")
    assert f"It must match the tenant '{BASE}/{fabrikam}/v2.0' associated with this subscription." in error["message"]
    assert f"Please use the authority (URL) '{BASE}/{fabrikam}' to get the token." in error["message"]
    # A personal API token keeps the 404 of a subscription its user cannot see.
    _, secret = ApiToken.issue(demo["admin"], "t")
    personal = arm_get(secret, f"/subscriptions/{FABRIKAM_SUB}/resourcegroups?api-version=2021-04-01")
    assert personal.status_code == 404


def test_a_readers_token_gets_the_readers_rights(demo):
    reader = password_token(demo, username="viewer@contoso.com").json()["access_token"]
    response = Client().put(
        f"/subscriptions/{CONTOSO_SUB}/resourcegroups/rg-new?api-version=2021-04-01",
        data={"location": "westeurope"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {reader}"},
    )
    assert response.status_code == 403 and response.json()["error"]["code"] == "AuthorizationFailed"


def test_deleting_the_application_voids_its_tokens(demo, app):
    application, secret = app
    token = post(
        f"/{demo['tenant'].pk}/oauth2/v2.0/token",
        {
            "grant_type": "client_credentials",
            "client_id": application.app_id,
            "client_secret": secret,
            "scope": ARM_SCOPE,
        },
    ).json()["access_token"]
    services.delete_application(demo["admin"], application)
    response = arm_get(token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"


@pytest.mark.parametrize(
    "token",
    [
        "eyJ.x.y",
        "eyJhbGciOiJub25lIn0.e30.",  # alg none
        "eyJhbGciOiJIUzI1NiJ9.e30.c2ln",  # HMAC, as if the public key were a secret
        "eyJbXQ.e30.c2ln",  # a header that is a list
        "eyJ" + "A" * 20_000 + ".e30.c2ln",
        "eyJraWQiOnsiYSI6MX0sImFsZyI6IlJTMjU2In0.e30.c2ln",  # kid is an object
    ],
)
def test_garbage_jwts_are_invalid_authentication_token(demo, token):
    response = arm_get(token)
    assert response.status_code == 401 and response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_device_code_of_one_directory_is_refused_to_another_and_cancel_declines(demo):
    flow = post(f"/{demo['tenant'].domain}/oauth2/v2.0/devicecode", {"client_id": CLI, "scope": ARM_SCOPE}).json()
    outsider = Client()
    outsider.force_login(demo["fabrikam"])
    refused = outsider.post("/devicelogin", {"code": flow["user_code"], "decision": "continue"})
    assert refused.status_code == 400 and b"another directory" in refused.content
    browser = Client()
    browser.force_login(demo["admin"])
    cancelled = browser.post("/devicelogin", {"code": flow["user_code"], "decision": "cancel"})
    assert b"Sign-in cancelled" in cancelled.content
    poll = device_code_poll(flow)
    declined = post(f"/{demo['tenant'].domain}/oauth2/v2.0/token", poll)
    assert declined.status_code == 400 and declined.json()["error"] == "authorization_declined"
