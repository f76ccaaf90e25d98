"""The appliance's client of the hub's appliance API (outbound HTTP only): JSON calls, and binary
uploads of replication batches on a kept-alive connection per thread."""

from __future__ import annotations

import http.client
import json
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request


class HubError(Exception):
    """The hub refused a request; `code` and `message` come from its error envelope."""

    def __init__(self, status: int, code: str, message: str, timed_out: bool = False):
        super().__init__(f"{message} ({code})")
        self.status, self.code, self.message = status, code, message
        # No answer in time: the hub is up but busy (a refused connection is not a timeout).
        self.timed_out = timed_out


def _error_from(status: int, data: bytes) -> HubError:
    try:
        detail = json.loads(data)["error"]
        return HubError(status, detail.get("code", "Error"), detail.get("message", f"The hub answered {status}."))
    except (ValueError, KeyError, TypeError, AttributeError):
        return HubError(status, "HttpError", f"The hub answered {status}.")


class HubClient:
    def __init__(
        self,
        hub_url: str,
        credential: str | None = None,
        timeout: float = 15,
        upload_timeout: float = 120,
        certificate_authority: str | None = None,
    ):
        """certificate_authority: the PEM of the hub's own authority (from the registration key), the
        only one trusted for an https hub; None: the system's authorities."""
        self.hub_url = hub_url.rstrip("/")
        self.credential = credential
        self.tls = ssl.create_default_context(cadata=certificate_authority) if certificate_authority else None
        self.timeout, self.upload_timeout = timeout, upload_timeout
        self._connections = threading.local()

    def post(self, path: str, body: dict, timeout: float | None = None) -> dict:
        """timeout: this call's, instead of the client's (the heartbeat waits longer than setup does)."""
        request = urllib.request.Request(
            self.hub_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        if self.credential:
            request.add_header("Authorization", f"Appliance {self.credential}")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout, context=self.tls) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            raise _error_from(error.code, error.read()) from None
        except urllib.error.URLError as error:
            raise HubError(
                0,
                "HubUnreachable",
                f"Cannot reach the hub at {self.hub_url}: {error.reason}",
                timed_out=isinstance(error.reason, TimeoutError),
            ) from None
        except (OSError, ValueError) as error:
            # A dropped connection mid-answer, a timeout, or an answer that is not JSON.
            raise HubError(
                0,
                "HubUnreachable",
                f"No usable answer from the hub at {self.hub_url}: {error}",
                timed_out=isinstance(error, TimeoutError),
            ) from None

    def post_bytes(self, path: str, parts: list) -> dict:
        """POST the concatenation of parts (bytes-like, sent as they are: no joined copy) as
        application/octet-stream; the JSON answer of a 200 or 201.

        Each thread keeps its connection to the hub alive between uploads. A kept connection the hub
        closed meanwhile fails on first use; the upload is then made once more on a new connection
        (batches are idempotent by sequence, so a repeat is answered as a duplicate)."""
        length = sum(len(part) for part in parts)
        for attempt in range(2):
            connection, reused = self._connection()
            try:
                connection.putrequest("POST", self._path_prefix() + path, skip_accept_encoding=True)
                connection.putheader("Content-Type", "application/octet-stream")
                connection.putheader("Accept", "application/json")
                connection.putheader("Content-Length", str(length))
                if self.credential:
                    connection.putheader("Authorization", f"Appliance {self.credential}")
                connection.endheaders()
                for part in parts:
                    connection.send(part)
                response = connection.getresponse()
                data = response.read()
            except (OSError, http.client.HTTPException) as error:
                self._close_connection()
                if reused and attempt == 0:
                    continue
                raise HubError(0, "HubUnreachable", f"Cannot reach the hub at {self.hub_url}: {error}") from None
            if response.will_close:
                self._close_connection()
            if response.status in (200, 201):
                try:
                    answer = json.loads(data or b"{}")
                except ValueError:
                    answer = None
                if not isinstance(answer, dict):
                    raise HubError(502, "HttpError", "The hub's answer to an upload is not a JSON object.")
                return answer
            raise _error_from(response.status, data)
        raise AssertionError("unreachable")

    def _path_prefix(self) -> str:
        return urllib.parse.urlsplit(self.hub_url).path.rstrip("/")

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        connection = getattr(self._connections, "connection", None)
        if connection is not None:
            return connection, True
        parts = urllib.parse.urlsplit(self.hub_url)
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.upload_timeout, context=self.tls
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.upload_timeout)
        self._connections.connection = connection
        return connection, False

    def _close_connection(self) -> None:
        connection = getattr(self._connections, "connection", None)
        if connection is not None:
            connection.close()
            self._connections.connection = None
