"""The settings as announcer uses them: typed, frozen, already checked (see config/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path

from announcer.core.config.choices import DEFAULT_ENGINES

PACE_PRESETS = {"slow": 0.85, "normal": 1.0, "fast": 1.15}
DEFAULT_PACE = {"zh": 3.5, "en": 145.0}  # syllables/s, words/min


@dataclass(frozen=True)
class SpeechConfig:
    engines: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ENGINES))  # language → engine name
    voices: dict[str, str] = field(default_factory=dict)   # language → voice; absent: the engine's own
    pace: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_PACE))  # resolved targets
    sentence_pause_s: float = 0.6
    comma_pause_s: float = 0.3


@dataclass(frozen=True)
class AudioConfig:
    loudness_lufs: float = -16.0
    true_peak_dbtp: float = -1.0
    highpass_hz: float = 120.0
    compress: bool = True
    chime: str = "two-tone"          # "two-tone", "none", or a sound file path (resolved absolute)
    repeat: int = 1
    repeat_gap_s: float = 2.0
    lead_in_s: float = 0.5
    lead_in_sound: str = "wake"      # "wake" (very quiet tone) or "silence"
    format: str = "mp3"              # "mp3" or "wav"
    bitrate_kbps: int = 128
    sample_rate: int = 44100


@dataclass(frozen=True)
class QuietHours:
    start: time                      # `from`: nothing plays from here...
    end: time                        # `to`: ...until here (may wrap past midnight)


@dataclass(frozen=True)
class Station:
    name: str = "announcer"
    timezone: str | None = None      # IANA name; None: the system's
    language: str = "zh"             # "zh" or "en": messages, reports, the web page
    quiet_hours: QuietHours | None = None
    holidays: tuple[date, ...] = ()  # extra days off, on top of the country calendar
    country: str | None = None       # a `holidays` calendar, e.g. "CN" (knows make-up workdays)
    player: str = "auto"             # "auto", "paplay", "pw-play", "aplay", "ffplay" or "null"
    device: str | None = None        # the player's output device (sink / ALSA device); None: default


@dataclass(frozen=True)
class Broadcast:
    """One [[broadcast]] entry. Exactly one kind of timing is set."""
    name: str
    line: int = 0                    # where it starts in schedule.toml, for messages
    at: tuple[time, ...] = ()        # times of day
    start: time | None = None        # `from` ... `until` (exclusive) every `every_s` seconds
    until: time | None = None
    every_s: float | None = None
    cron: str | None = None          # crontab(5) expression, five fields
    once: datetime | None = None     # `date`: one time only (local wall time, naive)
    days: str | tuple[str, ...] = "daily"   # "daily", "workdays", "weekends" or weekday names ("mon", ...)
    clips: tuple[str, ...] = ("all",)       # "all", or clip ids / tags
    repeat: int = 1
    gap_s: float = 3.0
    volume_db: float = 0.0
    priority: str = "normal"         # "normal" or "urgent"


MANUAL = ("手动播放：", "manual: ")   # how plays by hand are named in the play log (zh, en)


@dataclass(frozen=True)
class WebConfig:
    """[web]: the staff member's web page (`announcer serve`, `announcer run --web`)."""
    token: str | None = None         # required when the page listens beyond this computer
    upload_limit_mb: float = 50.0    # largest upload: notices or a recording


@dataclass(frozen=True)
class NetworkConfig:
    """[network]: this station's connection to its office's MQTT broker (checked, paths made absolute)."""
    broker: str                      # "mqtt://host:port" or "mqtts://host:port", the port always written
    host: str
    port: int                        # default 1883 for mqtt://, 8883 for mqtts://
    station_id: str                  # the station's id in the office's district.toml
    groups: tuple[str, ...] = ()     # the groups it belongs to (ids, same form)
    username: str = ""               # default: station_id
    password: str | None = field(default=None, repr=False)   # from `password` or `password_file`
    tls: bool = False                # default: true for mqtts://
    ca_file: Path | None = None      # the CA that signed the broker's certificate; None: the system's
    cert_file: Path | None = None    # the station's client certificate and its key (both or neither)
    key_file: Path | None = None


@dataclass(frozen=True)
class Config:
    path: Path | None
    speech: SpeechConfig
    audio: AudioConfig
    station: Station = field(default_factory=Station)
    broadcasts: tuple[Broadcast, ...] = ()
    web: WebConfig = field(default_factory=WebConfig)
    network: NetworkConfig | None = None   # None: no [network] section (a station on its own)

    @property
    def timezone(self) -> str | None:
        return self.station.timezone

    @property
    def language(self) -> str:
        return self.station.language
