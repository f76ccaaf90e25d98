from datetime import timedelta

from hub import clock


def emulated_time(request):
    """The portal says so when the emulator's clock runs ahead of real time."""
    if clock.offset() < timedelta(seconds=1):
        return {}
    return {"emulated_now": clock.now(), "emulated_offset": clock.offset()}
