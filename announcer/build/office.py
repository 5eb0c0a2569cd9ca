"""The office's day notices: the notices read with read_notices (from files, or pasted on the District page)
made into the one DayNotices message every station gets, shared by `announcer office publish` and the page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from announcer.build.notices import MAX_A_DAY, Notice, too_many_error
from announcer.core.district import DayNotice, DayNotices, new_message_id
from announcer.core.districtfile import OFFICE_USER
from announcer.core.errors import AnnouncerError


def day_message(notices: Sequence[Notice], day: date) -> DayNotices:
    """The notices valid on `day`, as the message to publish. AnnouncerError when none is valid on it, or more than
    a day holds."""
    valid = [n for n in notices if n.valid_on(day)]
    if len(valid) > MAX_A_DAY:
        raise too_many_error(len(valid), day)
    if not valid:
        raise AnnouncerError(f"{day} 没有有效的通知（看看 valid_from / valid_until），什么也没有发送；请检查日期",
                             f"no notice is valid on {day} (see valid_from / valid_until), so nothing was sent; "
                             "check the date")
    return DayNotices(new_message_id(), OFFICE_USER, day, datetime.now().astimezone(),
                      tuple(DayNotice(n.id, n.title, n.text, n.language, n.repeat) for n in valid))
