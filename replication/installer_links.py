"""Download links of the appliance installer that the API hands out (the Server Migration solution's
getConfig): signed with HMAC (of SECRET_KEY) over the project and an expiry, and valid for an hour, as
an Azure Storage SAS URL is. A link that is changed, unsigned or expired is refused as Azure Storage
refuses a bad SAS: 403 AuthenticationFailed in Storage's XML error."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpResponse
from django.utils.xmlutils import SimplerXMLGenerator

from hub import clock

INSTALLER_LINK_VALIDITY = timedelta(hours=1)
DOWNLOAD_PATH = "/downloads/appliance-installer"
_HTTP_DATE = "%a, %d %b %Y %H:%M:%S GMT"


def _signature(project_id: str, expires: str) -> str:
    key = hashlib.sha256(f"installer-links:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{project_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def installer_link(project) -> tuple[str, datetime]:
    """The path and query of a signed download link for `project`'s installer, and when it expires."""
    expires_at = (clock.now() + INSTALLER_LINK_VALIDITY).replace(microsecond=0)
    expires = expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    query = {"project": str(project.pk), "se": expires, "sig": _signature(str(project.pk), expires)}
    return f"{DOWNLOAD_PATH}?{urlencode(query)}", expires_at


def installer_link_problem(project_id: str, expires: str, signature: str) -> str | None:
    """Why a download link is refused (Storage's AuthenticationErrorDetail), or None when it is good."""
    if not project_id or not expires or not signature:
        return "The download link lacks its signature: ask for a new one (the solution's getConfig)."
    if not hmac.compare_digest(signature.encode("utf-8", "surrogatepass"), _signature(project_id, expires).encode()):
        return "Signature did not match: the download link was changed. Ask for a new one (the solution's getConfig)."
    try:
        expires_at = datetime.strptime(expires, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "Signature fields not well formed: se is not a time. Ask for a new link (the solution's getConfig)."
    now = clock.now()
    if now >= expires_at:
        return (
            f"Signature not valid in the specified time frame: Expiry [{expires_at.strftime(_HTTP_DATE)}] - "
            f"Current [{now.strftime(_HTTP_DATE)}]. Links are valid for an hour: ask for a new one."
        )
    return None


def storage_error(status: int, code: str, message: str, detail: str | None = None) -> HttpResponse:
    """An error in Azure Storage's XML shape (what a SAS download answers)."""
    response = HttpResponse(status=status, content_type="application/xml")
    xml = SimplerXMLGenerator(response, "utf-8")
    xml.startDocument()
    xml.startElement("Error", {})
    xml.addQuickElement("Code", code)
    xml.addQuickElement("Message", f"{message}\nRequestId:{uuid.uuid4()}\nTime:{clock.now().isoformat()}")
    if detail:
        xml.addQuickElement("AuthenticationErrorDetail", detail)
    xml.endElement("Error")
    xml.endDocument()
    response["x-ms-error-code"] = code
    return response


def storage_authentication_failed(detail: str) -> HttpResponse:
    """Azure Storage's 403 for a SAS it does not accept."""
    return storage_error(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is formed "
        "correctly including the signature.",
        detail,
    )
