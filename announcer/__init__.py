"""announcer: the day's notices as short, clear spoken clips."""

__version__ = "0.1.0"
