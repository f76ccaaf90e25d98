"""The agent's client of the appliance's configuration server."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

DEFAULT_PORT = 9443


class ApplianceError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{message} ({code})")
        self.status, self.code, self.message = status, code, message


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
