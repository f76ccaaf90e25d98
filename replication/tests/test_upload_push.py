"""Which live push a stored batch sends (replication/uploads.py): at most one a second per item; the
whole push at a marker, at the first upload after a pause and every WHOLE_PUSH_SECONDS, the lighter
progress push between."""

from __future__ import annotations

from replication import push, uploads


def test_uploads_push_the_whole_now_and_then_and_only_progress_between(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(uploads.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(uploads, "_progress_pushed_at", {})
    monkeypatch.setattr(uploads, "_whole_pushed_at", {})

    def due(seconds_later, marker=False):
        now[0] += seconds_later
        return uploads._progress_push_due("item-1", marker)

    assert due(0) is push.item_changed, "the first push after a pause is whole"
    assert due(0.5) is None, "at most one a second"
    assert due(0.6) is push.item_progress
    assert due(0.1, marker=True) is push.item_changed, "a marker always pushes the whole"
    pushes = [due(1.0) for _ in range(int(uploads.WHOLE_PUSH_SECONDS))]
    assert pushes[-1] is push.item_changed and set(pushes[:-1]) == {push.item_progress}
    assert due(uploads.WHOLE_PUSH_SECONDS) is push.item_changed
