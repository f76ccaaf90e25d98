from jobs.models import Notification


def notifications(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    mine = Notification.objects.filter(user=user)
    return {
        "recent_notifications": mine[:10],
        "unread_count": mine.filter(read=False).count(),
    }
