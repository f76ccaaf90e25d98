"""Replicating machines, a replicating server's blade, Manage > Replicating machines and the Server
Migration overview, through the portal as each demo persona sees them.

Over 500 lines on purpose: one fleet fixture in every state serves all four screens, and the
screens share their filters and health rules, so splitting the module would split that fixture."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse

from hub import clock
from jobs.consumers import LiveConsumer, _visible_scopes
from jobs.models import Job, State
from jobs.services import job_run
from projects import push as project_push
from projects.models import User, VirtualNetwork
from replication import monitoring as monitor
from replication import push, services
from replication.models import (
    DiscoveredServer,
    MigrationItem,
    MigrationState,
    ProtectedDisk,
    RecoveryPoint,
    TransferSample,
)
from replication.replicate import replication_enable, replication_policy
from replication.status import item_status
from replication.tests.conftest import finalized_appliance, migration_project, start_replication_job
from replication.tests.plans import plan_into_vnet_prod

pytestmark = pytest.mark.django_db

GIB = 1024**3
LIST_URL = reverse("replication:replicating-servers")


@pytest.fixture
def project(django_capture_on_commit_callbacks):
    """A Contoso project migrating to West Europe, with a finalized appliance."""
    project = migration_project(django_capture_on_commit_callbacks, "monitor")
    finalized_appliance(project)
    return project


def client_for(client, email: str):
    client.force_login(User.objects.get(email=email))
    return client


def list_url(project, **params) -> str:
    return LIST_URL + "?" + urlencode({"project": project.arm_id, **params})


def item_job(item, scenario_name: str, friendly_name: str, state: str) -> Job:
    """A job on the item's server, in `state`, recorded as the job engine records one."""
    return Job.objects.create(
        subscription=item.project.subscription,
        resource_group_name="rg-migrate",
        scenario_name=scenario_name,
        friendly_name=friendly_name,
        state=state,
        target_object_id=str(item.pk),
        target_object_name=item.server.name,
        target_instance_type="ProtectionEntity",
    )


def make_item(project, name: str, *, state=MigrationState.REPLICATING, agent_connected=True, disks=None, **fields):
    """A replicating server written directly: the list's rules need many states quickly."""
    now = clock.now()
    appliance = project.appliances.get()
    disks = disks or [{"diskId": "disk0", "sizeBytes": 4 * GIB, "isOsDisk": True}]
    server = DiscoveredServer.objects.create(
        project=project,
        appliance=appliance,
        machine_id=f"m-{name}",
        name=name,
        os_type="Linux",
        os_name="Ubuntu",
        cores=2,
        memory_mb=4096,
        disks=[
            {key: value for key, value in disk.items() if key in ("diskId", "sizeBytes", "isOsDisk")} for disk in disks
        ],
        agent_connected=agent_connected,
        agent_last_heartbeat_at=now,
        discovered_at=now,
    )
    item = MigrationItem.objects.create(
        project=project,
        server=server,
        appliance=appliance,
        policy=replication_policy(project),
        target_resource_group=project.resource_group,
        target_vm_name=name,
        target_vm_size="Standard_D2s_v3",
        target_network=VirtualNetwork.objects.get(name="vnet-prod"),
        target_subnet_name="default",
        migration_state=state,
        created_at=now,
        **fields,
    )
    for disk in disks:
        ProtectedDisk.objects.create(
            item=item,
            disk_id=disk["diskId"],
            is_os_disk=disk.get("isOsDisk", False),
            size_bytes=disk["sizeBytes"],
            included=disk.get("included", True),
            scanned_bytes=disk.get("scanned", 0),
            transferred_bytes=disk.get("transferred", 0),
            resync_required=disk.get("resync", False),
        )
    return item


@pytest.fixture
def fleet(project):
    """One server in each state the list distinguishes."""
    now = clock.now()
    started = {"replication_started_at": now - timedelta(hours=3)}
    return {
        "web01": make_item(
            project,
            "web01",
            last_recovery_point_at=now - timedelta(minutes=5),
            initial_replication_completed_at=now - timedelta(hours=1),
            disks=[{"diskId": "disk0", "sizeBytes": 4 * GIB, "isOsDisk": True, "transferred": 3 * GIB}],
            **started,
        ),
        "db01": make_item(
            project,
            "db01",
            state=MigrationState.INITIAL_SEEDING_IN_PROGRESS,
            last_upload_at=now,
            throughput_bytes_per_second=2 * 1024**2,
            disks=[
                {"diskId": "disk0", "sizeBytes": 4 * GIB, "isOsDisk": True, "scanned": 2 * GIB, "transferred": GIB},
                {"diskId": "disk1", "sizeBytes": 8 * GIB, "included": False},
            ],
            **started,
        ),
        # No recovery point for 30 minutes: a warning (153007); an hour would make it critical.
        "app01": make_item(project, "app01", last_recovery_point_at=now - timedelta(minutes=30), **started),
        "file01": make_item(
            project, "file01", state=MigrationState.INITIAL_SEEDING_IN_PROGRESS, agent_connected=False, **started
        ),
        "cache01": make_item(
            project,
            "cache01",
            last_recovery_point_at=now - timedelta(minutes=1),
            disks=[{"diskId": "disk0", "sizeBytes": GIB, "isOsDisk": True, "resync": True, "transferred": 5 * GIB}],
            **started,
        ),
        "new01": make_item(project, "new01", state=MigrationState.ENABLE_MIGRATION_IN_PROGRESS),
    }


def row_names(response) -> list[str]:
    return [item.server.name for item in response.context["items"]]


class TestReplicatingServersList:
    def test_it_shows_one_row_per_server_with_status_health_and_rpo(self, client, fleet):
        response = client_for(client, "admin@contoso.com").get(list_url(fleet["web01"].project))
        assert response.status_code == 200
        assert sorted(row_names(response)) == sorted(fleet)
        html = response.content.decode()
        assert f'id="replicating-{fleet["db01"].pk}"' in html
        assert f'data-live-insert="#replicating-rows-{fleet["db01"].project_id}"' in html
        assert "Initial replication 50%" in html, "db01 read 2 of its 4 included GiB"
        assert "Ready to migrate" in html and "Delta sync" in html
        assert "Enabling replication" in html
        assert "5 min" in html, "web01's RPO"
        assert "2.1 MB/s" in html, "db01's throughput (2 MiB/s, in decimal units)"

    def test_the_health_filter_agrees_with_item_status(self, client, fleet):
        now = clock.now()
        project = fleet["web01"].project
        ranks = dict(monitor.with_health(project.migration_items.all(), project, now).values_list("pk", "health_rank"))
        for item in monitor.rows(project.migration_items.all()):
            assert monitor.HEALTH_BY_RANK[ranks[item.pk]] == item_status(item, now).health, item.target_vm_name
        admin = client_for(client, "admin@contoso.com")
        assert sorted(row_names(admin.get(list_url(project, health="Warning")))) == ["app01", "cache01"]
        assert row_names(admin.get(list_url(project, health="Critical"))) == ["file01"]
        assert sorted(row_names(admin.get(list_url(project, health="Normal")))) == ["db01", "web01"]

    def test_it_filters_by_status_and_searches_by_name(self, client, fleet):
        admin = client_for(client, "admin@contoso.com")
        project = fleet["web01"].project
        assert sorted(row_names(admin.get(list_url(project, status="initial")))) == ["db01", "file01"]
        assert sorted(row_names(admin.get(list_url(project, status="ready")))) == ["app01", "cache01", "web01"]
        assert row_names(admin.get(list_url(project, q="DB"))) == ["db01"]
        both = admin.get(list_url(project, q="01", status="initial", health="Critical"))
        assert row_names(both) == ["file01"]
        assert (
            "No replicating server matches these filters." in admin.get(list_url(project, q="nothing")).content.decode()
        )
        filtered = admin.get(list_url(project, q="db")).content.decode()
        assert f'id="replicating-rows-{project.pk}-filtered"' in filtered, "a filtered list takes no live inserts"

    def test_it_sorts_by_columns_both_ways(self, client, fleet):
        admin = client_for(client, "admin@contoso.com")
        project = fleet["web01"].project
        assert row_names(admin.get(list_url(project))) == ["app01", "cache01", "db01", "file01", "new01", "web01"]
        assert row_names(admin.get(list_url(project, sort="-name")))[0] == "web01"
        assert row_names(admin.get(list_url(project, sort="health")))[:3] == ["file01", "app01", "cache01"]
        assert row_names(admin.get(list_url(project, sort="rpo")))[:3] == ["cache01", "web01", "app01"]
        assert row_names(admin.get(list_url(project, sort="-rpo")))[:3] == ["app01", "web01", "cache01"]
        assert row_names(admin.get(list_url(project, sort="-transferred")))[:3] == ["cache01", "web01", "db01"]
        assert row_names(admin.get(list_url(project, sort="-throughput")))[0] == "db01"
        assert row_names(admin.get(list_url(project, sort="status")))[:3] == ["new01", "db01", "file01"]
        page = admin.get(list_url(project, sort="-health")).content.decode()
        assert 'aria-sort="descending"' in page

    def test_it_pages_on_the_server(self, client, fleet, monkeypatch):
        monkeypatch.setattr(monitor, "PAGE_SIZE", 4)
        admin = client_for(client, "admin@contoso.com")
        project = fleet["web01"].project
        first = admin.get(list_url(project))
        assert row_names(first) == ["app01", "cache01", "db01", "file01"]
        assert "Showing 1 to 4 of 6 replicating servers" in first.content.decode()
        second = admin.get(list_url(project, page=2))
        assert row_names(second) == ["new01", "web01"]
        assert f'id="replicating-rows-{project.pk}-filtered"' in second.content.decode(), "new rows go on page 1"
        assert row_names(admin.get(list_url(project, page="junk"))) == row_names(first)

    def test_nonsense_parameters_are_ignored_not_errors(self, client, fleet):
        admin = client_for(client, "admin@contoso.com")
        project = fleet["web01"].project
        response = admin.get(list_url(project, sort="-password", health="Purple", status="x", page="999"))
        assert response.status_code == 200 and len(row_names(response)) == 6

    def test_a_page_reads_a_fixed_number_of_queries_whatever_its_rows(
        self, client, fleet, django_assert_max_num_queries
    ):
        project = fleet["web01"].project
        admin = client_for(client, "admin@contoso.com")
        admin.get(list_url(project))  # warm the session
        for index in range(10):
            make_item(project, f"extra{index:02}")
        # 16: the project selector's list of the user's projects is one of them, the injected faults in
        # force (replication.health's fault rules, one query for every kind) another.
        with django_assert_max_num_queries(16):
            admin.get(list_url(project, sort="-transferred"))

    def test_htmx_asks_for_the_table_only(self, client, fleet):
        admin = client_for(client, "admin@contoso.com")
        response = admin.get(list_url(fleet["web01"].project, q="web"), headers={"HX-Request": "true"})
        html = response.content.decode()
        assert html.lstrip().startswith('<div id="replicating-table"') and "<html" not in html

    def test_without_a_project_it_opens_the_newest(self, client, fleet):
        response = client_for(client, "admin@contoso.com").get(LIST_URL)
        assert response.context["project"].name == "monitor"

    def test_the_tool_card_counts_link_to_it(self, client, fleet):
        project = fleet["web01"].project
        servers = client_for(client, "admin@contoso.com").get(
            reverse("projects:migrate-servers") + "?" + urlencode({"project": project.arm_id})
        )
        assert f'id="replicating-count"><a href="{LIST_URL}?project=' in servers.content.decode()
        assert 'id="menu-replicating-machines"' in servers.content.decode()


class TestReplicatingServerBlade:
    def test_it_shows_target_settings_disks_progress_and_health_errors(self, client, fleet):
        item = fleet["db01"]
        item_job(item, "EnableMigration", "Start replication", State.SUCCEEDED)
        response = client_for(client, "admin@contoso.com").get(
            reverse("replication:replicating-server", args=[item.pk])
        )
        html = response.content.decode()
        assert response.status_code == 200
        assert "vnet-prod / default" in html and "Standard_D2s_v3" in html
        assert "Excluded: this disk won't be present on the Azure VM after migration." in html
        assert "50%" in html
        assert "Start replication" in html, "the item's jobs"
        for part in ("commands", "summary", "health", "disks", "target", "points", "jobs"):
            assert f'id="replicating-{part}-{item.pk}"' in html

        silent = client.get(reverse("replication:replicating-server", args=[fleet["file01"].pk])).content.decode()
        assert "is not sending heartbeats" in silent
        assert "Possible causes" in silent and "Recommended action" in silent
        assert "Start the server and its Mobility service" in silent

    def test_it_lists_recovery_points_newest_first(self, client, fleet):
        item = fleet["web01"]
        now = clock.now()
        for cycle in range(1, 4):
            RecoveryPoint.objects.create(
                item=item, cycle=cycle, recorded_at=now - timedelta(minutes=10 - cycle), captured_at=now
            )
        response = client_for(client, "admin@contoso.com").get(
            reverse("replication:replicating-server", args=[item.pk])
        )
        assert [point.cycle for point in response.context["recovery_points"]] == [3, 2, 1]

    def test_operations_are_disabled_with_the_reason(self, client, fleet):
        # The blade's command bar is pushed to every viewer: it reads the viewer's commands on load.
        html = (
            client_for(client, "admin@contoso.com")
            .get(reverse("replication:item-commands", args=[fleet["db01"].pk]))
            .content.decode()
        )
        assert "Available after initial replication completes." in html

    def test_a_live_part_can_be_asked_for_alone(self, client, fleet):
        url = reverse("replication:replicating-server", args=[fleet["web01"].pk]) + "?part=summary"
        html = client_for(client, "admin@contoso.com").get(url, headers={"HX-Request": "true"}).content.decode()
        assert html.lstrip().startswith(f'<section class="card wide" id="replicating-summary-{fleet["web01"].pk}"')


class TestOverview:
    def test_it_counts_servers_health_and_jobs(self, client, fleet):
        project = fleet["web01"].project
        start_replication_job(project, State.FAILED, "gone", "old01")
        TransferSample.objects.create(
            project=project, minute=clock.now().replace(second=0, microsecond=0), bytes=3 * 1024**2
        )
        url = reverse("replication:server-migration-overview") + "?" + urlencode({"project": project.arm_id})
        response = client_for(client, "admin@contoso.com").get(url)
        assert response.status_code == 200
        context = response.context
        assert context["counts"]["replicating"] == 6
        assert context["health"] == {"Normal": 2, "Warning": 2, "Critical": 1}
        assert context["jobs"]["failed_count"] == 1
        assert context["transfer"]["total"] == 3 * 1024**2
        html = response.content.decode()
        assert f'{LIST_URL}?project={quote(project.arm_id)}&amp;health=Critical"' in html
        assert "<rect" in html and "3.1 MB" in html

    def test_the_tool_cards_overview_button_opens_it(self, client, fleet):
        project = fleet["web01"].project
        html = (
            client_for(client, "admin@contoso.com")
            .get(reverse("projects:migrate-servers") + "?" + urlencode({"project": project.arm_id}))
            .content.decode()
        )
        assert reverse("replication:server-migration-overview") in html


def enabled_item(project, django_capture_on_commit_callbacks, *, os_type="Linux"):
    """A server replicated through replication_enable: its Start replication job ran, and it waits for
    the Mobility service's first data (so its settings can still change)."""
    admin = User.objects.get(email="admin@contoso.com")
    appliance = project.appliances.get()
    with django_capture_on_commit_callbacks():
        server = services.server_report(
            appliance=appliance,
            machine_id="m-erp01",
            agent_version="9.60",
            machine={
                "hostName": "erp01",
                "osType": os_type,
                "osName": "Ubuntu" if os_type == "Linux" else "Windows Server 2019",
                "cores": 2,
                "memoryMB": 4096,
                "disks": [
                    {"diskId": "disk0", "sizeBytes": 64 * GIB, "isOsDisk": True},
                    {"diskId": "disk1", "sizeBytes": 128 * GIB},
                ],
                "nics": [{"nicId": "nic0", "ipAddresses": ["10.0.0.9"], "isPrimary": True}],
            },
        )
    services.server_discover(server.pk)
    plan = plan_into_vnet_prod(appliance, project, [DiscoveredServer.objects.get(pk=server.pk)])
    with django_capture_on_commit_callbacks():
        (job,) = replication_enable(admin, project, plan)
    job_run(job.pk)
    return MigrationItem.objects.get(server=server)


def settings_data(item, **changes) -> dict:
    network = VirtualNetwork.objects.get(name="vnet-prod")
    data = {
        "target_resource_group": str(item.target_resource_group_id),
        "vm_name": item.target_vm_name,
        "vm_size": "",
        "target_network": f"{network.pk}/default",
        "test_network": "",
        "hybrid_benefit": "no",
        "availability_set": "",
        "os_disk": "disk0",
        "disk-0-include": "on",
        "disk-0-type": "StandardSSD_LRS",
        "disk-1-include": "on",
        "disk-1-type": "StandardSSD_LRS",
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


class TestManageReplicatingMachines:
    def test_before_replication_starts_the_settings_save(self, client, project, django_capture_on_commit_callbacks):
        item = enabled_item(project, django_capture_on_commit_callbacks)
        url = reverse("replication:replication-settings", args=[item.pk])
        admin = client_for(client, "admin@contoso.com")
        page = admin.get(url).content.decode()
        assert "disabled" not in page.split('id="replication-settings-form"')[1].split("</form>")[0]
        test_network = VirtualNetwork.objects.get(name="vnet-test")
        saved = admin.post(
            url,
            settings_data(
                item,
                vm_name="erp01-azure",
                vm_size="Standard_D4s_v3",
                test_network=f"{test_network.pk}/test",
                **{"disk-1-include": None, "disk-0-type": "Premium_LRS"},
            ),
        )
        assert saved.status_code == 302
        item.refresh_from_db()
        assert (item.target_vm_name, item.target_vm_size, item.target_vm_size_auto) == (
            "erp01-azure",
            "Standard_D4s_v3",
            False,
        )
        assert item.test_network == test_network
        disks = {disk.disk_id: disk for disk in item.disks.all()}
        assert not disks["disk1"].included and disks["disk0"].disk_type == "Premium_LRS"
        assert "Saved the replication settings of erp01-azure." in admin.get(url).content.decode()

    def test_a_refused_setting_is_shown_on_its_field_and_nothing_typed_is_lost(
        self, client, project, django_capture_on_commit_callbacks
    ):
        item = enabled_item(project, django_capture_on_commit_callbacks)
        admin = client_for(client, "admin@contoso.com")
        response = admin.post(
            reverse("replication:replication-settings", args=[item.pk]),
            settings_data(item, vm_name="erp_01!", vm_size="Standard_D4s_v3", hybrid_benefit="yes"),
        )
        assert response.status_code == 200
        form = response.context["form"]
        assert form.errors["vm_name"] and form.errors["hybrid_benefit"]
        html = response.content.decode()
        assert 'value="erp_01!"' in html and '<option value="Standard_D4s_v3" selected>' in html
        item.refresh_from_db()
        assert item.target_vm_name == "erp01"

    def test_excluding_the_os_disk_is_refused_above_the_disks(
        self, client, project, django_capture_on_commit_callbacks
    ):
        item = enabled_item(project, django_capture_on_commit_callbacks)
        response = client_for(client, "admin@contoso.com").post(
            reverse("replication:replication-settings", args=[item.pk]), settings_data(item, **{"disk-0-include": None})
        )
        assert "can&#x27;t be excluded: the VM boots from it" in response.content.decode()

    def test_after_replication_starts_every_input_is_disabled_and_says_why(
        self, client, project, django_capture_on_commit_callbacks
    ):
        item = enabled_item(project, django_capture_on_commit_callbacks)
        MigrationItem.objects.filter(pk=item.pk).update(replication_started_at=clock.now())
        url = reverse("replication:replication-settings", args=[item.pk])
        admin = client_for(client, "admin@contoso.com")
        response = admin.get(url)
        form = response.context["form"]
        assert all(field.disabled for field in form.fields.values())
        assert "Settings can't be changed after replication starts." in response.content.decode()
        refused = admin.post(url, settings_data(item, vm_name="other"))
        assert "settings can&#x27;t be changed after replication starts" in refused.content.decode()
        item.refresh_from_db()
        assert item.target_vm_name == "erp01"
        blade = admin.get(reverse("replication:replicating-server", args=[item.pk])).content.decode()
        assert 'id="settings-locked-note"' in blade

    def test_a_reader_sees_the_settings_but_cannot_change_them(
        self, client, project, django_capture_on_commit_callbacks
    ):
        item = enabled_item(project, django_capture_on_commit_callbacks)
        url = reverse("replication:replication-settings", args=[item.pk])
        viewer = client_for(client, "viewer@contoso.com")
        page = viewer.get(url)
        assert page.status_code == 200
        assert "You need Contributor or Owner on resource group rg-migrate to replicate servers." in (
            page.content.decode()
        )
        refused = viewer.post(url, settings_data(item, vm_name="viewer-was-here"))
        assert refused.status_code == 200
        item.refresh_from_db()
        assert item.target_vm_name == "erp01"
        assert viewer.get(list_url(project)).status_code == 200
        assert viewer.get(reverse("replication:replicating-server", args=[item.pk])).status_code == 200


class TestIsolation:
    def test_another_tenant_finds_nothing(self, client, fleet):
        item = fleet["web01"]
        fabrikam = client_for(client, "admin@fabrikam.com")
        assert fabrikam.get(list_url(item.project)).status_code == 404
        for name in ("replicating-server", "replicating-row", "replication-settings"):
            assert fabrikam.get(reverse(f"replication:{name}", args=[item.pk])).status_code == 404, name
        assert fabrikam.post(reverse("replication:replication-settings", args=[item.pk])).status_code == 404
        overview = reverse("replication:server-migration-overview") + "?" + urlencode({"project": item.project.arm_id})
        assert fabrikam.get(overview).status_code == 404
        # Without a project, Fabrikam's own (none) is chosen, never Contoso's.
        assert fabrikam.get(LIST_URL).context["project"] is None

    def test_the_push_carries_contosos_scope_which_fabrikams_socket_refuses(self, fleet, monkeypatch):
        sent = []
        monkeypatch.setattr(project_push, "_send", lambda group, html, **scope: sent.append((group, html, scope)))
        item = fleet["db01"]
        push.replicating_servers_changed(item.project, [item])
        (group, parts, scope), (_, rows, _) = sent
        assert f'id="replicating-summary-{item.pk}"' in parts and f'id="overview-health-{item.project_id}"' in parts
        # Rows travel alone: after a <section>, a browser would drop a <tr>.
        assert rows.lstrip().startswith(f'<tr id="replicating-{item.pk}"')
        assert scope == {"subscription_id": item.project.subscription.pk, "resource_group_name": "rg-migrate"}

        # A stored batch's progress push: the row, the blade's moving parts and the transfer chart, in
        # the same scope; not the project's counts and health summary, nor the points and jobs.
        sent.clear()
        push.item_progress(item.pk)
        (group_again, parts, scope_again), (_, rows, _) = sent
        assert (group_again, scope_again) == (group, scope)
        for part in ("summary", "health", "disks"):
            assert f'id="replicating-{part}-{item.pk}"' in parts
        assert (
            f'id="replicating-jobs-{item.pk}"' not in parts and f'id="overview-health-{item.project_id}"' not in parts
        )
        assert f'id="overview-transfer-{item.project_id}"' in parts
        assert rows.lstrip().startswith(f'<tr id="replicating-{item.pk}"')

        def socket_of(email):
            consumer = LiveConsumer()
            consumer.visible = _visible_scopes(User.objects.get(email=email))
            return consumer

        subscription = str(scope["subscription_id"])
        assert not socket_of("admin@fabrikam.com")._may_see(subscription, "rg-migrate")
        assert group not in {f"subscription.{sub}" for sub, _ in socket_of("admin@fabrikam.com").visible}
        assert socket_of("viewer@contoso.com")._may_see(subscription, "rg-migrate")
