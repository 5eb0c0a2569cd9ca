"""schedule.toml → typed, validated settings.

- settings.py   the dataclasses the rest of announcer reads (frozen, already checked)
- schema.py     the checker: Field / Table / check, every problem bilingual with its key and line
- timing.py     the rules for when a broadcast plays (times, days, every, cron, quiet hours)
- sections.py   each section's fields and rules; reading and checking the file ([network]: the station's
                connection to its office's MQTT broker)
- choices.py    the engine, voice and player names a setting may use
"""

from announcer.core.config.sections import (CHIME_PRESETS, EXAMPLE_TOKENS, STATION_ID, broker_address, config_schema,
                                            find_config, load_config, parse_config)
from announcer.core.config.settings import (DEFAULT_PACE, MANUAL, AudioConfig, Broadcast, Config, NetworkConfig,
                                            QuietHours, SpeechConfig, Station, WebConfig)
from announcer.core.config.timing import WEEKDAYS

__all__ = ["AudioConfig", "Broadcast", "CHIME_PRESETS", "Config", "DEFAULT_PACE", "EXAMPLE_TOKENS", "MANUAL",
           "NetworkConfig", "QuietHours", "STATION_ID", "SpeechConfig", "Station", "WEEKDAYS", "WebConfig",
           "broker_address", "config_schema", "find_config", "load_config", "parse_config"]
