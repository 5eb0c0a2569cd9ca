"""Argument types the commands share (argparse `type=`): each refusal is one line in the user's language."""

from __future__ import annotations

import argparse
from datetime import date

from announcer.core.errors import tr


def day(text: str) -> date:
    """A --date: YYYY-MM-DD."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            tr(f"“{text}”不是日期，请写成 2026-11-30 这样", f"\"{text}\" is not a date; write it like 2026-11-30"))
