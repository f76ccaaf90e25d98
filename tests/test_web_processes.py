"""Several web processes (`serve --web-processes 2`, the production topology): live pushes reach a
browser whichever process holds its websocket, a killed web process is replaced, each serves https and
wss too, and an oversized header gets 431 from every topology's server, over http and https."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import time
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from websockets.sync.client import connect

from tests import hubs

pytestmark = pytest.mark.live

WEB_PROCESSES = 2


hub = hubs.module_hub_fixture("webprocs", redis_db_offset=3, web_processes=WEB_PROCESSES)


def web_pids(hub: hubs.Hub) -> set[int]:
    """The supervisor's web processes: its children that are multiprocessing's spawned interpreters."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == hub.process.pid and b"spawn_main" in command:
            found.add(int(entry.name))
    return found


def wait_for_web_pids(hub: hubs.Hub, count: int, *, without: int | None = None, timeout: float = 60) -> set[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = web_pids(hub)
        if len(pids) == count and without not in pids:
            return pids
        time.sleep(0.2)
    raise AssertionError(f"Expected {count} web processes, found {web_pids(hub)}")


def serving_pid(hub_port: int, client_port: int, pids: set[int]) -> int:
    """Which process holds the server end of the loopback connection from client_port."""
    wanted = f"0100007F:{hub_port:04X} 0100007F:{client_port:04X}"
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if f"{fields[1]} {fields[2]}" == wanted:
            inode = fields[9]
    assert inode, f"no server socket for the connection from port {client_port}"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) == f"socket:[{inode}]":
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no web process holds socket {inode}")


def session_cookie(hub: hubs.Hub, email: str = "admin@contoso.com") -> str:
    session = requests.Session()
    session.get(hub.url + "/signin/", timeout=30)
    answer = session.post(
        hub.url + "/signin/",
        data={
            "username": email,
            "password": hubs.DEMO_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": hub.url + "/signin/"},
        timeout=30,
    )
    assert answer.ok and "sessionid" in session.cookies, answer.text[:300]
    return "; ".join(f"{name}={value}" for name, value in session.cookies.items())


def test_pushes_reach_websockets_on_every_web_process(hub):
    pids = wait_for_web_pids(hub, WEB_PROCESSES)
    port = int(hub.url.rsplit(":", 1)[1])
    cookie = session_cookie(hub)
    sockets_by_pid = {}
    opened = 0
    with ExitStack() as stack:
        deadline = time.monotonic() + 60  # a process still starting accepts nothing yet
        while len(sockets_by_pid) < WEB_PROCESSES and time.monotonic() < deadline:
            websocket = stack.enter_context(
                connect(
                    hub.url.replace("http", "ws") + "/ws/live/",
                    additional_headers={"Cookie": cookie, "Origin": hub.url},
                    open_timeout=30,
                )
            )
            opened += 1
            pid = serving_pid(port, websocket.socket.getsockname()[1], pids)
            if pid in sockets_by_pid:
                websocket.close()
                time.sleep(0.2)
            else:
                sockets_by_pid[pid] = websocket
        assert len(sockets_by_pid) == WEB_PROCESSES, f"all {opened} websockets landed on one process"

        # The web process that takes the DELETE pushes the new job's row: through Redis it reaches the
        # socket on the other process too. (Not waiting for the worker's later pushes keeps a slow
        # worker start from failing a test of the web processes.)
        group = delete_a_new_group(hub, "rg-procs")
        for pid, websocket in sockets_by_pid.items():
            wait_for_push(websocket, group, f"the websocket on web process {pid}")


def delete_a_new_group(hub: hubs.Hub, name: str) -> str:
    """A new resource group, deleted at once: its delete job's row is pushed to every open page."""
    group = hub.new_resource_group(name)
    assert hub.api("DELETE", f"/subscriptions/{hubs.CONTOSO}/resourcegroups/{group}").status_code == 202
    return group


def wait_for_push(websocket, group: str, which: str) -> None:
    deadline = time.monotonic() + 30
    seen = ""
    while group not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"{which} never saw the job of {group}"
        seen = websocket.recv(timeout=remaining)


def test_a_killed_web_process_is_replaced(hub):
    before = wait_for_web_pids(hub, WEB_PROCESSES)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    wait_for_web_pids(hub, WEB_PROCESSES, without=victim)
    # Every request is answered throughout, whichever process takes it.
    for _ in range(20):
        assert hub.api("GET", f"/subscriptions/{hubs.CONTOSO}/resourcegroups").status_code == 200


def oversized_header_answer(url: str) -> tuple[int, bytes]:
    """A raw request with a 100 KB header, sent whole as a client would: the status and body read back."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(
            b"GET /subscriptions?api-version=2022-12-01 HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
            b"X-Padding: " + b"a" * 100_000 + b"\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_every_web_process_serves_https_and_wss(hub):
    """Each web process serves the https socket beside the plain one: requests over https reach both, and
    a websocket over wss gets the push of a job."""
    pids = wait_for_web_pids(hub, WEB_PROCESSES)
    port = urlsplit(hub.https_url).port
    context = ssl.create_default_context(cafile=hub.ca_path)
    served_by = set()
    deadline = time.monotonic() + 60
    while served_by != pids and time.monotonic() < deadline:
        with context.wrap_socket(
            socket.create_connection(("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1"
        ) as connection:
            # The handshake is done: a web process has accepted the connection.
            served_by.add(serving_pid(port, connection.getsockname()[1], pids))
            connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
    assert served_by == pids, f"https reached only {served_by} of {pids}"

    with connect(
        hub.https_url.replace("https", "wss") + "/ws/live/",
        additional_headers={"Cookie": session_cookie(hub), "Origin": hub.https_url},
        ssl=context,
        open_timeout=30,
    ) as websocket:
        wait_for_push(websocket, delete_a_new_group(hub, "rg-wss-procs"), "the websocket over wss")


@pytest.mark.parametrize("topology", ["hub", "embedded_hub"])
def test_an_oversized_header_gets_431_over_https_too(request, topology):
    served = request.getfixturevalue(topology)
    answer = requests.get(
        served.https_url + "/signin/", headers={"X-Padding": "a" * 100_000}, verify=served.ca_path, timeout=30
    )
    assert answer.status_code == 431
    assert answer.json()["error"]["code"] == "RequestHeaderFieldsTooLarge"
    assert requests.get(served.https_url + "/signin/", verify=served.ca_path, timeout=30).status_code == 200


@pytest.mark.parametrize("topology", ["hub", "embedded_hub"])
def test_an_oversized_header_gets_431_with_an_arm_envelope(request, topology):
    served = request.getfixturevalue(topology)
    status, body = oversized_header_answer(served.url)
    assert status == 431
    assert b'"code": "RequestHeaderFieldsTooLarge"' in body
    # Through an ordinary client too, and a normal request still works afterwards.
    answer = requests.get(served.url + "/signin/", headers={"X-Padding": "a" * 100_000}, timeout=30)
    assert answer.status_code == 431
    assert answer.json()["error"]["code"] == "RequestHeaderFieldsTooLarge"
    assert requests.get(served.url + "/signin/", headers={"X-Padding": "a" * 16_000}, timeout=30).status_code == 200
