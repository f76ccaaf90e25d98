"""Schemathesis against the hub's OpenAPI document (/api/schema/): a bounded number of generated
requests per operation, authenticated with a real API token, and not one answer of 500 or more. Every
refusal is the ARM error envelope.

On a hub of its own (its database and Redis DB), since the generated requests create, change and
delete whatever the document allows."""

from __future__ import annotations

import collections
import os
import zlib

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests import hubs

pytestmark = pytest.mark.live

# Per operation: about 90 operations, so some 1,400 requests, which take under a minute here.
# FUZZ_EXAMPLES=200 runs a deeper search by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES") or 15)
ADMIN = "admin@contoso.com"


fuzz_hub = hubs.module_hub_fixture("fuzz", redis_db_offset=4)


def check_answer(case, hub: hubs.Hub, answers: collections.Counter) -> None:
    # Within the demo's subscription half the time (and its resource group two times in three), so
    # requests reach past the lookups; chosen from the case itself, so every run sends the same.
    parameters = case.path_parameters or {}
    pick = zlib.crc32(repr(sorted(parameters.items())).encode())
    if "subscription_id" in parameters and pick % 2:
        parameters["subscription_id"] = hubs.CONTOSO
        if "resource_group_name" in parameters and pick % 3:
            parameters["resource_group_name"] = "rg-migrate"
    # ARM requires an api-version on every request; any value is accepted.
    case.query = {**(case.query or {}), "api-version": "2024-01-01"}
    response = case.call(base_url=hub.url, headers={"Authorization": f"Bearer {hub.token(ADMIN)}"}, timeout=30)
    answers[response.status_code // 100 * 100] += 1
    described = f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    assert response.status_code < 500, described
    if response.status_code >= 400 and case.method.upper() != "HEAD":
        assert response.headers.get("content-type", [""])[0].startswith("application/json"), described
        assert isinstance(response.json().get("error", {}).get("code"), str), described
    # The document tells the truth: each answer's body has the shape it declares for that status (the
    # ARM error envelope for a refusal).
    try:
        case.validate_response(response, checks=[schemathesis.checks.response_schema_conformance])
    except Exception as failure:  # schemathesis reports a failed check as an exception group of its own
        raise AssertionError(f"{described} does not match the document: {failure}") from None


def test_no_generated_request_gets_a_server_error(fuzz_hub):
    # One test walking the operations (schemathesis's pytest plugin does not run on pytest 9 yet); each
    # operation's failure is kept, so one run reports them all.
    schema = schemathesis.openapi.from_url(f"{fuzz_hub.url}/api/schema/?format=json")
    failures, operations, answers = [], 0, collections.Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            derandomize=True,  # the same requests every run: a failure here is reproducible
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def run(case):
            check_answer(case, fuzz_hub, answers)

        try:
            run()
        except AssertionError as failure:
            failures.append(str(failure).splitlines()[0])
    assert operations > 80
    assert not failures, "\n".join(failures)
    # The requests reach the handlers, not only the lookups that refuse them: most operations answer
    # 200 at least once (refusals of generated bodies are most of the rest).
    assert answers[200] > operations // 2, answers
