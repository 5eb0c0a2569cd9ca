"""Playing a sound file on this machine's speaker through a system player."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from announcer.errors import AnnouncerError

# Command lines for WAV files; the file path is appended. No shell is involved.
PLAYERS = {
    "paplay": ["paplay"],
    "pw-play": ["pw-play"],
    "aplay": ["aplay", "-q"],
    "ffplay": ["ffplay", "-nodisp", "-autoexit", "-loglevel", "error"],
}


class PlayerError(AnnouncerError):
    """No player, or the player failed."""


def find_player(name: str = "auto") -> list[str]:
    names = list(PLAYERS) if name == "auto" else [name]
    if name != "auto" and name not in PLAYERS:
        raise PlayerError(f"不认识播放器“{name}”。可用：{', '.join(PLAYERS)} 或 auto。",
                          f"unknown player \"{name}\"; use one of {', '.join(PLAYERS)} or auto")
    for candidate in names:
        if shutil.which(PLAYERS[candidate][0]):
            return PLAYERS[candidate]
    raise PlayerError(
        "找不到可用的播放程序。请安装：sudo apt-get install pulseaudio-utils（或 alsa-utils），或用 -o 文件名 保存音频。",
        "no audio player found; install one (sudo apt-get install pulseaudio-utils, or alsa-utils), "
        "or save the audio with -o FILE")


def play(path: Path, player: str = "auto") -> None:
    """Play a WAV file and wait until it has finished."""
    command = find_player(player) + [str(path)]
    result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        detail = detail[-1] if detail else f"exit {result.returncode}"
        raise PlayerError(f"播放失败（{command[0]}：{detail}）。请检查喇叭是否连接、音量是否打开。",
                          f"playback failed ({command[0]}: {detail}); check that the speaker is connected and on")
