"""The appliance's client of the hub's appliance API (outbound HTTP only, JSON both ways)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


class HubError(Exception):
    """The hub refused a request; `code` and `message` come from its error envelope."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} ({code})")
        self.status, self.code, self.message = status, code, message


class HubClient:
    def __init__(self, hub_url: str, credential: str | None = None, timeout: float = 15):
        self.hub_url = hub_url.rstrip("/")
        self.credential = credential
        self.timeout = timeout

    def post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(
            self.hub_url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        if self.credential:
            request.add_header("Authorization", f"Appliance {self.credential}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            try:
                detail = json.loads(error.read())["error"]
                raise HubError(error.code, detail.get("code", "Error"), detail.get("message", str(error))) from None
            except (ValueError, KeyError, TypeError):
                raise HubError(error.code, "HttpError", f"The hub answered {error.code}.") from None
        except urllib.error.URLError as error:
            raise HubError(0, "HubUnreachable", f"Cannot reach the hub at {self.hub_url}: {error.reason}") from None
        except (OSError, ValueError) as error:
            # A dropped connection mid-answer, a timeout, or an answer that is not JSON.
            raise HubError(0, "HubUnreachable", f"No usable answer from the hub at {self.hub_url}: {error}") from None
