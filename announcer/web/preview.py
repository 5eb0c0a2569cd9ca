"""Hear it on this computer first: GET /listen/broadcast?date=…&name=… is a broadcast of a day exactly as the
station will play it, GET /listen/chime the chime alone. Both play in the page (not on the loudspeaker).

A broadcast is put together the way the station plays it (announcer/station/playqueue.py): the day's clips it
selects, in the day's order, each file as it is (the chime and the lead-in are inside each notice's clip, see
announcer/build/day.py), its `gap` of silence between clips, the whole list `repeat` times (with the gap
between rounds too) and `volume` dB louder. It is made once per version of the day and settings, and kept as
an MP3 in <out>/.listen (written whole or not at all; the oldest are removed).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, Response
from starlette.concurrency import run_in_threadpool

from announcer.core.config import Broadcast, Config
from announcer.core.errors import AnnouncerError, shorten
from announcer.core.library import MANIFEST, Library, atomic_write
from announcer.core.plan import air_seconds, select_clips
from announcer.web.site import Site, WebError, check_csrf, parse_day

router = APIRouter(dependencies=[Depends(check_csrf)])
log = logging.getLogger("announcer.web")

CACHE = ".listen"          # under the output folder
KEEP = 12                  # rendered broadcasts kept
LONGEST_S = 60 * 60        # a broadcast longer than this is not put together
BITRATE = 128


@router.get("/listen/broadcast")
async def listen_broadcast(request: Request, name: str = "", date: str = ""):
    site: Site = request.app.state.site
    day = parse_day(date or None, site)
    config = await run_in_threadpool(site.config)        # it may read schedule.toml
    broadcast = find_broadcast(config, name)
    path = await run_in_threadpool(broadcast_audio, site.out, day, broadcast, config)
    return FileResponse(path, media_type="audio/mpeg", headers={"Cache-Control": "no-store"})


@router.get("/listen/chime")
async def listen_chime(request: Request):
    site: Site = request.app.state.site
    config = await run_in_threadpool(site.config)
    data = await run_in_threadpool(chime_audio, config)
    return Response(data, media_type="audio/wav", headers={"Cache-Control": "no-store"})


def find_broadcast(config: Config, name: str) -> Broadcast:
    found = next((b for b in config.broadcasts if b.name == name), None)
    if found is not None:
        return found
    names = "、".join(b.name for b in config.broadcasts)
    shown = shorten(name, 40)
    if not name:
        raise WebError("请先选择要试听的广播。", "choose the broadcast to hear first", status=400)
    raise WebError(f"播放计划里没有叫「{shown}」的广播" + (f"（有：{names}）。" if names else "。请先在“播放计划”里添加广播。"),
                   f"there is no broadcast called \"{shown}\" in the schedule"
                   + (f" (there are: {', '.join(b.name for b in config.broadcasts)})" if names
                      else "; add one on the Schedule page first"), status=404)


def broadcast_audio(out: Path, day, broadcast: Broadcast, config: Config) -> Path:
    """The MP3 of `broadcast` on `day` as the station plays it, made once and kept in <out>/.listen."""
    found = Library(out).held_day(day)
    if found is None:
        raise WebError(f"{day} 还没有生成音频，没有可以试听的。请先在“今日通知”里生成。",
                       f"no clips are built for {day}, so there is nothing to hear; build them on the Today page first",
                       status=404)
    folder, manifest, hold = found
    try:
        clips = select_clips(broadcast, manifest)
        if not clips:
            wanted = "、".join(broadcast.clips)
            raise WebError(f"「{broadcast.name}」在 {day} 没有要播的片段（它播放：{wanted}），所以到点什么也不会播。"
                           "请在“播放计划”里改它的片段，或生成含有这些片段的通知。",
                           f"\"{broadcast.name}\" has no clips to play on {day} (it plays: "
                           f"{', '.join(broadcast.clips)}), so nothing will sound; change its clips on the Schedule "
                           "page, or build notices with them",
                           status=404)
        seconds = air_seconds(broadcast, clips) or 0.0
        if seconds > LONGEST_S:
            raise WebError(f"「{broadcast.name}」一次要播 {seconds / 60:.0f} 分钟，太长了，不能试听。",
                           f"\"{broadcast.name}\" would take {seconds / 60:.0f} minutes, too long to hear here",
                           status=413)
        recipe = {"manifest": hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest(), "folder": folder.name,
                  "clips": [c.get("file") for c in clips], "repeat": broadcast.repeat, "gap": broadcast.gap_s,
                  "volume": broadcast.volume_db, "rate": config.audio.sample_rate, "bitrate": BITRATE}
        key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:24]
        cache = Path(out) / CACHE
        path = cache / f"{day.isoformat()}-{key}.mp3"
        if path.is_file():
            os.utime(path)
            return path
        data = _put_together(folder, clips, broadcast, config.audio.sample_rate)
    finally:
        hold.release()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data)
    except (OSError, AnnouncerError) as e:
        raise WebError(f"无法保存试听音频（{e}）。请检查磁盘空间。", f"cannot keep the audio to hear ({e}); "
                       "check the disk space", status=500) from None
    _tidy(cache, keep=path)
    return path


def _put_together(folder: Path, clips: list[dict], broadcast: Broadcast, rate: int) -> bytes:
    from announcer.build import effects

    sounds = []
    for clip in clips:
        sound = effects.load_sound(folder / str(clip.get("file", "")), rate)
        sounds.append(sound.apply_gain(broadcast.volume_db) if broadcast.volume_db else sound)
    whole = effects.join(sounds * broadcast.repeat, gap_s=broadcast.gap_s, sample_rate=rate)
    return effects.encode(whole, "mp3", BITRATE, rate)


def chime_audio(config: Config) -> bytes:
    """The chime [audio] asks for, as a WAV."""
    from announcer.build import effects
    from announcer.build.day import chime_for

    chime = chime_for(config.audio)
    if chime is None:
        raise WebError("没有设置提示音：schedule.toml 的 [audio] 里 chime = \"none\"。要提示音，请改成 \"two-tone\" "
                       "或一个声音文件。",
                       "there is no chime: [audio] chime = \"none\" in schedule.toml; set it to \"two-tone\" or a "
                       "sound file to have one", status=404)
    return effects.encode(chime, "wav", BITRATE, config.audio.sample_rate)


def _tidy(cache: Path, keep: Path) -> None:
    """Keep the KEEP most recently used; drop leftovers of interrupted writes an hour old."""
    try:
        entries = [(e.stat().st_mtime, e) for e in cache.iterdir()]
    except OSError:
        return
    old = time.time() - 3600
    done = sorted((e for e in entries if e[1].suffix == ".mp3"), reverse=True)
    for _, entry in done[KEEP:]:
        if entry != keep:
            entry.unlink(missing_ok=True)
    for mtime, entry in entries:
        if entry.name.startswith(".") and mtime < old:
            entry.unlink(missing_ok=True)
