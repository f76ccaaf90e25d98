"""/healthz and /readyz in process (the live hubs' answers, with a worker and with Redis down, are in
tests/test_reliability.py)."""

import pytest

from hub import health


@pytest.mark.django_db
def test_healthz_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


@pytest.mark.django_db
def test_readyz_names_the_failing_check_and_reveals_no_setting(client, settings, monkeypatch):
    def refuse():
        raise ConnectionError(f"cannot reach {settings.DATABASES['default']['HOST']} with {settings.SECRET_KEY}")

    monkeypatch.setitem(health._checks, "broker", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["broker"] == {"status": "fail", "reason": "ConnectionError"}
    assert body["checks"]["database"] == {"status": "ok"}
    assert set(body["checks"]) == {"database", "broker", "channelLayer", "worker"}
    text = response.content.decode()
    assert settings.SECRET_KEY not in text and "127.0.0.1" not in text and "redis://" not in text


@pytest.mark.django_db
def test_health_answers_over_plain_http_when_https_is_enforced(client, settings):
    """A container's healthcheck asks http://127.0.0.1 from inside; it must not be sent to HTTPS."""
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/signin/").status_code == 301
