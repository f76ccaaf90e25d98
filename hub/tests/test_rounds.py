import uuid

import pytest
from django.conf import settings
from django.test import override_settings

from hub import rounds


def test_one_claim_per_window_in_the_embedded_topology():
    name = f"test-{uuid.uuid4()}"
    with override_settings(REDIS_URL=""):
        assert rounds.claim_round(name, 60)
        assert not rounds.claim_round(name, 60)
        assert rounds.claim_round(f"{name}-other", 60)


@pytest.mark.skipif(not settings.REDIS_URL, reason="needs the suite's Redis (REDIS_URL)")
def test_one_claim_per_window_across_processes_through_redis():
    name = f"test-{uuid.uuid4()}"
    assert rounds.claim_round(name, 0.05)
    assert not rounds.claim_round(name, 0.05)
    import time

    time.sleep(0.1)
    assert rounds.claim_round(name, 0.05)
