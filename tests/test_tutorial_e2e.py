"""The whole tutorial ("Migrate physical or virtualized servers to Azure") in one browser session, as a
person clicks it, with a real replication appliance and a real Mobility service:

Add tools (Skip assessment, Server Migration) > Discover (not virtualized, target region, Create
resources) > download the appliance installer and key > run the appliance's setup with the key >
Finalize registration > install the Mobility service from the appliance's repository and register it
with the passphrase > the server is discovered > Replicate (every tab) > Ready to migrate > Test
migrate into the test network > Clean up test migration > Migrate with shutdown > Stop migration.

The server's disk is a disk image file the test keeps writing to while it replicates, as a running
server writes to its disk. It stops writing before clicking Migrate, so the image at that moment is
the source at shutdown: the migrated VM's disk must hold exactly those bytes."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import quote, unquote

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from tests.appliances import RunningAppliance, download_installer_and_key, launch_appliance
from tests.azure_clients import site_recovery_client
from tests.conftest import sign_in
from tests.disk_images import change_blocks, sha256_of, write_realistic_image
from tests.hubs import CONTOSO, free_port, unique
from tests.replication_rig import ImageWriter, Rig, job_input, profile_for, wait_for
from tests.test_arm_site_recovery import vault_name
from tests.test_discovery import fetch_installer, run
from tests.test_portal_add_tools import choose_server_migration_only, fill_project_tab, open_add_tools
from tests.test_portal_replicate import fill_source_settings, fill_target_settings, search

pytestmark = [pytest.mark.browser, pytest.mark.live]

MIB = 1024 * 1024
JOB_TIMEOUT_MS = 60_000
# Initial replication of a 12 MiB image, plus the first recovery point, on a loaded 2-core machine.
READY_TIMEOUT_MS = 90_000


def watch_live(page) -> None:
    """From here on the page must move on by itself: its socket is open, and a reload would be seen
    (assert_not_reloaded)."""
    expect(page.locator("body")).to_have_attribute("data-live", "connected")
    page.evaluate("window.notReloaded = true")


def assert_not_reloaded(page, what: str) -> None:
    assert page.evaluate("window.notReloaded") is True, f"{what}: the page was loaded again"


def choose_from_menu(row, server: str, command: str) -> None:
    """Opens the "..." menu of a server's row (Replicating machines, Test migrated servers) and follows
    one of its commands. Live updates redraw the row at every replication cycle; the menu stays open
    through them (static/hub/menus.js), so one try is enough."""
    row.get_by_role("button", name=f"More actions for {server}").click()
    menu = row.page.get_by_role("menu", name=f"Actions for {server}")
    menu.get_by_role("menuitem", name=command, exact=True).click()


def replicating_row(page, server: str):
    return page.locator("#replicating-servers tr.replicating-row").filter(has_text=server)


def back_on_replicating_machines(page) -> None:
    """A command's blade returns to the page its menu was opened on: here, Replicating machines."""
    expect(page.get_by_role("heading", name=re.compile("Replicating machines"))).to_be_visible()
    expect(page.locator("body")).to_have_attribute("data-live", "connected")


class LiveMessages:
    """What the page's websocket received: kept to say, when a page did not update live, whether the
    update never came or came and was not shown."""

    def __init__(self, page):
        self.started = time.monotonic()
        self.messages: list[tuple[float, str]] = []
        page.on("websocket", lambda socket: socket.on("framereceived", self._received))

    def _received(self, payload) -> None:
        self.messages.append((time.monotonic() - self.started, payload if isinstance(payload, str) else ""))

    def about(self, text: str) -> str:
        lines = [f"{len(self.messages)} live messages"]
        for at, html in self.messages:
            if text in html:
                state = re.search(r'class="replication-state">([^<]*)', html)
                lines.append(f"  {at:6.1f}s {state.group(1).strip() if state else html[:80]!r}")
        return "\n".join(lines[-15:])


def servers_page(hub, project_path: str) -> str:
    return f"{hub.url}/migrate/servers/?project={quote(project_path, safe='')}"


def test_the_tutorial_from_add_tools_to_complete_the_migration(live_hub, browser, tmp_path):
    hub = live_hub
    group, project = unique("rg-tut"), unique("tut")[:24]
    host = f"tut{unique('s')[-6:]}"  # the VM's name too: unique in rg-migrate, which other tests share
    image = tmp_path / "disk0.img"
    write_realistic_image(image, 12 * MIB, seed=11)

    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    live = LiveMessages(page)
    writer = ImageWriter(image)
    rig = None
    try:
        sign_in(page, hub)

        # Add the Azure Migrate Server Migration tool.
        open_add_tools(page)
        fill_project_tab(page, group=group, project=project)
        choose_server_migration_only(page)
        page.get_by_role("button", name="Add tools").click()
        expect(page.get_by_role("heading", name="Azure Migrate | Servers")).to_be_visible()
        watch_live(page)
        # The deployment job runs on the worker; the open blade shows the tool card when it ends.
        tool = page.locator("#tool-server-migration")
        expect(tool).to_be_visible(timeout=JOB_TIMEOUT_MS)
        expect(page.locator(".deployment")).to_have_count(0)
        expect(page.locator("#project-name")).to_have_text(project)
        assert_not_reloaded(page, "Servers after Add tools")
        project_path = unquote(re.search(r"project=([^&]+)", page.url).group(1))

        # Set up the replication appliance: Discover, Create resources, installer and key.
        tool.get_by_role("link", name="Discover").click()
        expect(page.get_by_role("heading", name="Discover machines").first).to_be_visible()
        page.get_by_label("Not virtualized/Other").check()
        page.get_by_label("Target region", exact=True).select_option(label="West Europe")
        page.get_by_label("Confirm that the target region for migration is West Europe").check()
        page.get_by_role("button", name="Create resources").click()
        expect(page.locator("#region-locked")).to_contain_text("All migrations from this project go to West Europe")
        watch_live(page)
        # The resources are created on the worker: each turns Created, then the appliance section appears.
        for resource in ("Recovery Services vault", "Key vault", "Storage account"):
            expect(page.locator("#migration-resources tr").filter(has_text=resource)).to_contain_text(
                "Created", timeout=JOB_TIMEOUT_MS
            )
        expect(page.locator("#install-appliance")).to_be_visible(timeout=JOB_TIMEOUT_MS)
        assert_not_reloaded(page, "Discover after Create resources")
        expect(page.get_by_label("Install a replication appliance")).to_be_checked()
        key_file = download_installer_and_key(page, tmp_path)

        # Run the appliance's setup with the key, then Finalize registration in the portal.
        folder, home, port, appliance_name = (
            tmp_path / "MigrateHubAppliance",
            tmp_path / "appliance-home",
            free_port(),
            unique("cs"),
        )
        process = launch_appliance(folder, key_file, home, port, appliance_name)
        rig = Rig(
            hub,
            RunningAppliance(project_path, folder, home, port, process),
            {},
            tmp_path / "asr",
            host,
            {"disk0": image},
        )
        assert f"Key for project {project}" in process.setup_output
        # The appliance registered: the open Discover blade lists it to finalize.
        configuration_server = page.get_by_label("Select Configuration Server")
        expect(configuration_server.locator("option").filter(has_text=appliance_name)).to_have_count(1)
        assert_not_reloaded(page, "Discover after the appliance's setup")
        configuration_server.select_option(label=appliance_name)
        page.get_by_role("button", name="Finalize registration").click()
        watch_live(page)
        expect(page.locator("#appliances tr").filter(has_text=appliance_name)).to_contain_text(
            "Connected", timeout=JOB_TIMEOUT_MS
        )
        assert_not_reloaded(page, "Discover after Finalize registration")

        # Install the Mobility service from the appliance's repository, register it with the passphrase.
        passphrase = rig.appliance.passphrase_file(tmp_path / "passphrase.txt")
        repository = f"http://127.0.0.1:{port}/pushinstallsvc/repository"
        installer_dir = fetch_installer(repository, "Linux", tmp_path / "MobSvcInstaller")
        installed = run(installer_dir / "install", "-r", "MS", "-q", "-d", rig.prefix)
        assert installed.returncode == 0, installed.stderr
        profile = tmp_path / f"{host}.json"
        profile.write_text(json.dumps(profile_for(host, {"disk0": image})))
        page.locator("nav.breadcrumb").get_by_role("link", name="Servers").click()
        watch_live(page)
        expect(page.locator("#discovered-count")).to_have_text("0")
        # Connected: Replicate is open now.
        expect(page.locator("#tool-server-migration a#replicate")).to_be_visible()
        configured = run(
            rig.prefix / "Vx" / "bin" / "UnifiedAgentConfigurator.sh",
            *("-i", f"127.0.0.1:{port}", "-P", passphrase, "-S", profile),
            *("--heartbeat-seconds", "1", "--cycle-seconds", "1"),
        )
        assert configured.returncode == 0, configured.stderr + configured.stdout
        writer.start()  # the server is in use: its disk keeps changing while it replicates

        # The server is discovered: the count rises in the open page.
        expect(page.locator("#discovered-count")).to_have_text("1", timeout=20_000)
        assert_not_reloaded(page, "Servers while the server is discovered")
        page.locator("#discovered-count").get_by_role("link", name="1").click()
        expect(page.locator("#discovered-servers")).to_contain_text(host)
        expect(page.locator("#discovered-servers")).to_contain_text("Connected")

        # Replicate machines, every tab.
        page.locator("nav.breadcrumb").get_by_role("link", name="Servers").click()
        page.locator("#tool-server-migration").get_by_role("link", name="Replicate").click()
        expect(page.get_by_role("heading", name="Source settings")).to_be_visible()
        fill_source_settings(page, "dummy")
        expect(page.get_by_label("No, I'll specify the migration settings manually")).to_be_checked()
        search(page, host)
        page.get_by_label(f"Select {host}").check()
        page.get_by_role("button", name="Next: Target settings").click()
        fill_target_settings(page)
        page.get_by_role("button", name="Next: Compute").click()
        expect(page.get_by_role("heading", name="Compute")).to_be_visible()
        expect(page.get_by_label(f"Azure VM name for {host}")).to_have_value(host)
        page.get_by_role("button", name="Next: Disks").click()
        expect(page.get_by_role("heading", name="Disks", exact=True)).to_be_visible()
        page.get_by_role("button", name="Next: Review and start replication").click()
        expect(page.get_by_role("heading", name="Review and start replication")).to_be_visible()
        expect(page.locator("#review-servers")).to_contain_text(host)
        page.get_by_role("button", name="Replicate", exact=True).click()
        expect(page.locator(".messages")).to_contain_text(f"1 Start replication job started ({host})")

        # Track and monitor: Replicating servers (from the tool card's count), until Ready to migrate.
        page.goto(servers_page(hub, project_path))
        page.locator("#replicating-count").get_by_role("link").click()
        expect(page.get_by_role("heading", name=re.compile("Replicating machines"))).to_be_visible()
        expect(page.locator("body")).to_have_attribute("data-live", "connected")
        row = replicating_row(page, host)
        expect(row).to_have_count(1, timeout=JOB_TIMEOUT_MS)
        watch_live(page)
        try:
            expect(row.locator(".replication-state")).to_have_text(
                re.compile("Ready to migrate"), timeout=READY_TIMEOUT_MS
            )
        except AssertionError as error:
            raise AssertionError(
                f"Replicating servers did not show Ready to migrate live. {live.about(host)}"
            ) from error
        expect(row).to_contain_text("Delta sync")
        assert_not_reloaded(page, "Replicating machines until Ready to migrate")

        # Run a test migration: Test migrated servers > Test migrate, into the test network.
        page.goto(servers_page(hub, project_path))
        page.locator("#test-migrated-count").get_by_role("link").click()
        expect(page.get_by_role("heading", name=re.compile("Test migrated servers"))).to_be_visible()
        test_row = page.locator("#test-migrated-servers tr").filter(has_text=host)
        choose_from_menu(test_row, host, "Test migrate")
        expect(page.get_by_role("heading", name="Test Migration")).to_be_visible()
        expect(page.locator("#test-vm-name")).to_have_text(f"{host}-Test")
        # A non-production network is preselected (the shared hub may hold other tests' ones); choose ours.
        expect(page.locator("input[name=network]:checked")).to_have_count(1)
        page.get_by_role("radio", name=re.compile("vnet-test")).check()
        expect(page.get_by_label("Subnet")).to_have_value("test")
        page.get_by_role("button", name="Test migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Test migration of {host} started")
        expect(test_row.locator(".test-state")).to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)
        expect(test_row).to_contain_text(f"{host}-Test")
        expect(test_row).to_contain_text("vnet-test / test")

        # After the test: in Replicating machines, the server's menu > Clean up test migration.
        page.locator("#menu-replicating-machines").click()
        expect(row).to_contain_text("Test clean up pending")
        choose_from_menu(row, host, "Clean up test migration")
        page.get_by_label("Comments").fill("The server answered on the test network.")
        page.get_by_role("button", name="Clean up test migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Test migration clean up of {host} started")
        back_on_replicating_machines(page)
        # Cleaned up: the row (live) no longer waits for the cleanup; its menu offers Migrate again.
        expect(row).not_to_contain_text("Test clean up pending", timeout=JOB_TIMEOUT_MS)

        # Migrate VMs: Replicating machines > Migrate, shutting down. The server stops writing first, so
        # the image now is the source at shutdown.
        writer.stop()
        # A last write just before shutdown: likely no regular cycle carries it, the final sync must.
        change_blocks(image, 8, seed=99)
        assert writer.writes >= 2, "the disk changed while it replicated"
        source_at_shutdown = sha256_of(image)
        choose_from_menu(row, host, "Migrate")
        expect(
            page.get_by_text("Shut down virtual machines and perform a planned migration with no data loss?")
        ).to_be_visible()
        expect(page.get_by_role("radio", name="Yes", exact=True)).to_be_checked()
        page.get_by_role("button", name="OK", exact=True).click()  # the tutorial: "select Yes > OK"
        expect(page.locator(".messages")).to_contain_text(f"Migration of {host} started")
        back_on_replicating_machines(page)
        expect(row.locator(".replication-state")).to_have_text("Migration Succeeded", timeout=JOB_TIMEOUT_MS)

        # Complete the migration: the tutorial's "right-click the VM > Stop migration".
        row.get_by_role("link", name=host, exact=True).click(button="right")
        page.get_by_role("menu", name=f"Actions for {host}").get_by_role("menuitem", name="Stop migration").click()
        expect(page.locator("#stop-explained")).to_contain_text("This completes the migration")
        page.get_by_role("button", name="Stop migration").click()
        expect(page.locator(".messages")).to_contain_text(f"Stop migration of {host} started")
        stop_filter = f"jobName eq 'DisableMigration' and targetObjectName eq '{host}'"
        asr = site_recovery_client(hub, "admin@contoso.com", CONTOSO)
        vault = vault_name(hub, project_path)
        wait_for(
            lambda: [job.properties.state for job in asr.replication_jobs.list(group, vault, filter=stop_filter)],
            lambda states: states == ["Succeeded"],
        )

        # The migrated VM under Virtual machines, with the source's bytes at shutdown.
        page.get_by_role("link", name="Virtual machines").first.click()
        page.locator("#virtual-machines").get_by_role("link", name=host, exact=True).click()
        expect(page.get_by_role("heading", name=host, exact=True)).to_be_visible()
        expect(page.locator("#disks")).to_contain_text(f"{host}-disk0")
        expect(page.locator("#disks code.digest")).to_have_text(source_at_shutdown)

        # The Migrate job recorded the source's SHA-256 (the agent's final sync) and the VM disk's.
        migrate_filter = f"jobName eq 'Migrate' and targetObjectName eq '{host}'"
        (migrate_job,) = asr.replication_jobs.list(group, vault, filter=migrate_filter)
        assert migrate_job.properties.state == "Succeeded"
        (disk,) = job_input(hub, migrate_job.name)["vm"]["disks"]
        assert disk["vmDiskSha256"] == disk["sourceSha256"] == source_at_shutdown
        agent_log = (rig.prefix / "Vx" / "var" / "svagents.log").read_text()
        assert f"sha256 {source_at_shutdown}" in agent_log, "the agent's final sync read the image at shutdown"

        # The server left Replicating servers and counts as migrated.
        page.goto(servers_page(hub, project_path))
        expect(page.locator("#replicating-count")).to_have_text("0")
        expect(page.locator("#tool-server-migration")).to_contain_text(re.compile(r"Migrated servers\s*1"))
        page.locator("#replicating-count").get_by_role("link").click()
        expect(page.get_by_role("heading", name=re.compile("Replicating machines"))).to_be_visible()
        listed = page.locator("#replicating-servers tbody").inner_text()
        assert host not in listed, (
            "Replicating machines still lists the server after Stop migration completed its migration, while "
            f"the tool card counts 0 replicating servers:\n{listed}"
        )
    except (AssertionError, PlaywrightError):
        page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
        raise
    finally:
        writer.stop()
        if rig is not None:
            rig.stop()
        context.close()
