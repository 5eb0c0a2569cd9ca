"""Where announcer's log lines go: standard error, stamped in the station's time zone.

Used by `announcer run` and `announcer serve`, whose plays are logged alike.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime


class ZoneFormatter(logging.Formatter):
    def __init__(self, zone):
        super().__init__("%(asctime)s %(message)s")
        self.zone = zone

    def formatTime(self, record, datefmt=None):
        return datetime.fromtimestamp(record.created, self.zone).strftime("%m-%d %H:%M:%S")


def log_to_stderr(zone) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ZoneFormatter(zone))
    station = logging.getLogger("announcer")
    station.handlers[:] = [handler]
    station.setLevel(logging.INFO)
    station.propagate = False
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)   # its events are ours to report


def use_zone(zone) -> None:
    """Stamp log lines in `zone` from now on (the station's zone changed in schedule.toml)."""
    for handler in logging.getLogger("announcer").handlers:
        if isinstance(handler.formatter, ZoneFormatter):
            handler.formatter.zone = zone
