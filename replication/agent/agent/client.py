"""The agent's client of the appliance's configuration server."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_PORT = 9443


# A Retry-After the agent honours: at most this many seconds (a wrong header cannot stall a disk).
MAX_RETRY_AFTER_SECONDS = 60


class ApplianceError(Exception):
    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(f"{message} ({code})")
        self.status, self.code, self.message = status, code, message
        self.retry_after = retry_after  # the appliance is busy: send again after this many seconds


def retry_after(value) -> float | None:
    """A Retry-After header's seconds (the delay form; an HTTP date is not sent by the appliance)."""
    try:
        seconds = float(str(value).strip())
    except ValueError:
        return None
    return min(seconds, MAX_RETRY_AFTER_SECONDS) if seconds > 0 else None


def endpoint(address: str) -> str:
    """`10.0.0.5`, `10.0.0.5:9443` or `http://10.0.0.5:9443` -> the configuration server's URL."""
    address = address.strip().rstrip("/")
    if address.startswith(("http://", "https://")):
        return address
    return f"http://{address}" if ":" in address else f"http://{address}:{DEFAULT_PORT}"


def post(base_url: str, path: str, body: dict, timeout: float = 15) -> dict:
    request = urllib.request.Request(
        base_url + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read())["error"]
            raise ApplianceError(error.code, detail["code"], detail["message"]) from None
        except (ValueError, KeyError, TypeError):
            raise ApplianceError(error.code, "HttpError", f"The appliance answered {error.code}.") from None
    except urllib.error.URLError as error:
        raise ApplianceError(
            0, "ApplianceUnreachable", f"Cannot reach the appliance at {base_url}: {error.reason}"
        ) from None
    except (OSError, ValueError) as error:
        # A reset or timeout mid-answer, or an answer that is not JSON: the caller retries later.
        raise ApplianceError(
            0, "ApplianceUnreachable", f"No usable answer from the appliance at {base_url}: {error}"
        ) from None


class BatchConnection:
    """One kept-alive connection to the appliance's process server, for a stream of batch uploads
    (a new TCP connection per 4 MiB batch would cost more than the batch). Not thread-safe: one per
    sending thread."""

    def __init__(self, base_url: str, timeout: float = 120):
        self.base_url, self.timeout = base_url, timeout
        self._connection: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            parts = urllib.parse.urlsplit(self.base_url)
            kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
            self._connection = kind(parts.hostname, parts.port, timeout=self.timeout)
        return self._connection

    def post(self, path: str, parts: list) -> dict:
        """POST the concatenation of parts (bytes-like) as application/octet-stream; the JSON answer."""
        length = sum(len(part) for part in parts)
        try:
            connection = self._connect()
            connection.putrequest("POST", path, skip_accept_encoding=True)
            connection.putheader("Content-Type", "application/octet-stream")
            connection.putheader("Content-Length", str(length))
            connection.endheaders()
            for part in parts:
                connection.send(part)
            response = connection.getresponse()
            data = response.read()
            if response.will_close:
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ApplianceError(
                0, "ApplianceUnreachable", f"Cannot reach the appliance at {self.base_url}: {error}"
            ) from None
        try:
            answer = json.loads(data or b"{}")
        except ValueError:
            answer = None
        if response.status == 200 and isinstance(answer, dict):
            return answer
        detail = answer.get("error") if isinstance(answer, dict) else None
        wait = retry_after(response.getheader("Retry-After")) if response.status in (429, 503) else None
        if isinstance(detail, dict):
            raise ApplianceError(response.status, str(detail.get("code")), str(detail.get("message")), wait)
        raise ApplianceError(response.status, "HttpError", f"The appliance answered {response.status}.", wait)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
