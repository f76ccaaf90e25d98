from datetime import timedelta

import pytest

from faults import services
from faults.models import FaultState
from hub import clock

pytestmark = pytest.mark.django_db
APPLIANCE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Migrate/migrateProjects/p/appliances/a1"


def inject(operator, **overrides):
    fields = {"kind": "applianceOffline", "scope": APPLIANCE, "scope_kind": "appliance"} | overrides
    return services.inject(tenant=operator.tenant, injected_by=operator, **fields)


def test_an_injected_fault_is_active_on_its_scope_until_cleared(operator):
    fault = inject(operator)
    assert services.active("applianceOffline", [APPLIANCE.upper()]) == fault
    assert services.active("applianceOffline", ["/subscriptions/other"]) is None
    assert services.active("uploadBandwidthCap", [APPLIANCE]) is None
    assert services.clear(fault, cleared_by=operator)
    assert not services.clear(fault, cleared_by=operator)
    assert services.active("applianceOffline", [APPLIANCE]) is None
    fault.refresh_from_db()
    assert fault.state(clock.now()) == FaultState.CLEARED


def test_a_fault_with_a_duration_ends_by_the_emulated_clock(operator):
    fault = inject(operator, duration=timedelta(minutes=10))
    assert fault.state(clock.now()) == FaultState.ACTIVE
    clock.advance(timedelta(minutes=11))
    clock._cached = None
    assert services.active("applianceOffline", [APPLIANCE]) is None
    assert fault.state(clock.now()) == FaultState.ENDED


def test_parameters_get_their_defaults_and_bounds(operator):
    fault = inject(operator, kind="uploadBandwidthCap")
    assert fault.parameters == {"mbps": 10.0}
    with pytest.raises(services.FaultRejected, match="from 0.1 to 100000"):
        inject(operator, kind="uploadBandwidthCap", parameters={"mbps": 0})
    with pytest.raises(services.FaultRejected, match="takes no parameter speed"):
        inject(operator, kind="uploadBandwidthCap", parameters={"speed": 3})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kind": "gremlins"}, "Unknown fault kind"),
        ({"scope_kind": "server"}, "scoped to appliance"),
        ({"kind": "agentVersionMismatch", "scope_kind": "server", "probability": 0.5}, "takes no probability"),
        ({"kind": "targetQuotaExceeded", "scope_kind": "targetRegion", "probability": 0.2}, "takes no probability"),
        ({"scope": "appliance-1"}, "starts with '/'"),
        ({"probability": 0}, "Probability"),
        ({"duration": timedelta(days=31)}, "at most 30 days"),
    ],
)
def test_bad_input_says_what_to_do(operator, overrides, message):
    with pytest.raises(services.FaultRejected, match=message):
        inject(operator, **overrides)


def test_the_faults_tab_lists_them_for_staff_only(operator, client):
    inject(operator)
    client.login(email="viewer@contoso.com", password="migrate-demo")
    assert client.get("/emulator/portal/faults/").status_code == 302
    client.login(email="admin@contoso.com", password="migrate-demo")
    page = client.get("/emulator/portal/", follow=True).content.decode()
    assert "Appliance offline (heartbeat lost)" in page and APPLIANCE.lower() in page
    assert 'id="nav-emulator"' in page
    clock_tab = client.get("/emulator/portal/clock/").content.decode()
    assert "Emulated time" in clock_tab


def test_faults_in_force_are_read_once_a_second_and_a_change_here_at_once(operator, django_assert_num_queries):
    fault = inject(operator)
    services.forget_in_force()
    with django_assert_num_queries(1):
        for _ in range(20):  # twenty uploads in the same second ask once
            assert services.in_force_on(APPLIANCE.lower(), ["applianceOffline"]) == [fault]
    services.clear(fault, cleared_by=operator)
    assert services.in_force_on(APPLIANCE.lower(), ["applianceOffline"]) == []
    services._in_force_seen[None] = (0.0, {})  # read long ago: read again
    with django_assert_num_queries(1):
        services.in_force_by_kind()


def test_the_probability_of_a_state_fault_is_refused_in_the_form_too(operator):
    from faults.forms import InjectFaultForm

    form = InjectFaultForm(
        {"kind": "agentOtherConfigurationServer", "scope": "/x", "start": "now", "probability": "0.5"},
        tenant=operator.tenant,
    )
    assert not form.is_valid()
    assert "leave the probability empty" in form.errors["probability"][0]
