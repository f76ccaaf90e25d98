from django.db.models import Count, Q, Window
from django.utils.functional import SimpleLazyObject

from jobs.models import Notification

BELL_SHOWN = 10


class _Bell:
    """The bell's ten latest notifications and the unread count, read in one query (the count as a
    window over all of the user's notifications, beside the ten rows) and only when a template shows
    them: a page's live parts, rendered without the base template, read neither."""

    def __init__(self, user):
        self.user = user
        self._read = None

    def _rows(self) -> tuple[list[Notification], int]:
        if self._read is None:
            recent = list(
                Notification.objects.filter(user=self.user).annotate(
                    unread_total=Window(Count("pk", filter=Q(read=False)))
                )[:BELL_SHOWN]
            )
            # No notification at all: none unread either.
            self._read = (recent, recent[0].unread_total if recent else 0)
        return self._read

    def recent(self) -> list[Notification]:
        return self._rows()[0]

    def unread(self) -> int:
        return self._rows()[1]


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    bell = _Bell(user)
    return {
        "recent_notifications": SimpleLazyObject(bell.recent),
        "unread_count": SimpleLazyObject(bell.unread),
    }
