"""jobs.webserver's choices that need no running server (the live ones are in tests/test_web_processes.py)."""

from __future__ import annotations

import json

import pytest
from django.test import override_settings

from jobs import webserver


@override_settings(EMBEDDED=True)
def test_the_embedded_hub_serves_from_one_process():
    assert webserver.web_processes(None) == 1
    assert webserver.web_processes(1) == 1
    with pytest.raises(ValueError, match="one process"):
        webserver.web_processes(2)


@override_settings(EMBEDDED=False)
@pytest.mark.parametrize("count", [0, -1, webserver.MAX_WEB_PROCESSES + 1])
def test_a_web_process_count_out_of_range_is_refused(count):
    with pytest.raises(ValueError, match="between 1 and"):
        webserver.web_processes(count)


def test_the_431_answer_is_an_arm_envelope_naming_the_limit():
    error = json.loads(webserver.headers_too_large_body())["error"]
    assert error["code"] == "RequestHeaderFieldsTooLarge"
    assert "32 KB" in error["message"]


def test_https_on_the_plain_port_is_refused_before_serving():
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="other than --port"):
        call_command("serve", "--port", "8000", "--https-port", "8000", "--no-worker")
