"""One loudspeaker, one queue: broadcasts play one at a time, in the order they came due.

An urgent broadcast cuts in: the playing clip stops, the urgent one plays, and
the interrupted broadcast then restarts the clip it was cut off in. A broadcast
waits in the queue at most once: when its next occurrence comes due while the
previous one is still waiting, the newer one takes its place (no backlog).

The queue resolves a day's version folder once, when a broadcast starts, reads
the manifest there and holds the folder until the broadcast ends, so a day
rebuilt while the station runs is used from the next broadcast on, and any
number of rebuilds during a broadcast cannot break it.

Played by hand ("play now" on the page): a turn may name its day and its exact
clips. `stop_all` stops what is on air and drops what waits (both recorded).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from announcer.core.errors import AnnouncerError, LibraryError, tr
from announcer.core.library import Hold, Library
from announcer.core.plan import Occurrence, select_clips

log = logging.getLogger("announcer.station")

STALL_S = 30.0     # a player still busy this long after its clip should have ended has hung


@dataclass
class Turn:
    """One occurrence on its way through the queue, and how far it has got."""
    occurrence: Occurrence
    folder: Path | None = None
    clips: list[dict] | None = None
    hold: Hold | None = None         # keeps `folder` until the turn ends
    repeat: int = 0                  # the repeat in progress
    index: int = 0                   # the clip in progress
    started: datetime | None = None
    played: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    interruptions: int = 0
    day: date | None = None          # the day whose clips play (default: the occurrence's day)
    clip_ids: tuple[str, ...] | None = None   # exactly these clips, in this order (default: the broadcast's)
    halted: str | None = None        # stopped by hand: the reason it is recorded with

    @property
    def name(self) -> str:
        return self.occurrence.broadcast.name

    @property
    def urgent(self) -> bool:
        return self.occurrence.broadcast.priority == "urgent"


# finished(turn, result, reason): the turn is over; result is played / failed / missed
Finished = Callable[[Turn, str, "str | None"], None]


class PlayQueue:
    def __init__(self, library: Library, player: Callable[[], object], finished: Finished,
                 clock: Callable[[], datetime], player_failed: Callable[[], None] = lambda: None,
                 began: Callable[[Turn], None] = lambda turn: None):
        self.library = library
        self._began = began                 # began(turn): a turn is on air (recorded "playing" before it sounds)
        self._player = player               # returns a players.Player; may raise PlayerError
        self._player_failed = player_failed
        self._finished = finished
        self._clock = clock
        self._cond = threading.Condition()
        self._waiting: list[Turn] = []
        self._turn: Turn | None = None      # the one on air
        self._playback = None               # its current players.Playback
        self._cut_in = False                # an urgent broadcast wants the speaker
        self._closing = False
        self._thread: threading.Thread | None = None

    # --- the scheduler's side -------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="announcer-player", daemon=True)
        self._thread.start()

    def submit(self, occurrence: Occurrence, day: date | None = None,
               clip_ids: tuple[str, ...] | None = None) -> None:
        turn, replaced = Turn(occurrence, day=day, clip_ids=clip_ids), None
        with self._cond:
            if self._closing:
                return
            for i, waiting in enumerate(self._waiting):
                if waiting.name == turn.name and waiting.started is None:
                    replaced = self._waiting.pop(i)
                    break
            cut = None
            if turn.urgent:
                self._waiting.insert(self._urgent_waiting(), turn)
                if self._turn is not None and not self._turn.urgent:
                    self._cut_in = True
                    cut = self._playback
            else:
                self._waiting.append(turn)
            self._cond.notify_all()
        if cut is not None:
            cut.stop()
        if replaced is not None:
            when = f"{occurrence.time:%H:%M:%S}"
            log.info(tr(f"「{turn.name}」{replaced.occurrence.time:%H:%M:%S} 那次还在排队，由 {when} 这次代替",
                        f"\"{turn.name}\" of {replaced.occurrence.time:%H:%M:%S} was still waiting; "
                        f"the {when} one takes its place"))
            self._finished(replaced, "missed", tr(f"还在排队时被 {when} 的同一广播代替",
                                                  f"still waiting when the {when} occurrence replaced it"))

    def stop_all(self, reason: str) -> tuple[Turn | None, list[Turn]]:
        """Stop the broadcast on air and drop those waiting, each recorded with `reason`; returns them."""
        with self._cond:
            waiting, self._waiting = self._waiting, []
            turn = self._turn
            if turn is not None:
                turn.halted = reason
            playing = self._playback
            self._cond.notify_all()
        if playing is not None:
            playing.stop()
        for dropped in waiting:
            self._finish(dropped, "failed" if dropped.started else "missed", reason)
        return turn, waiting

    def snapshot(self) -> tuple[Turn | None, list[Turn]]:
        """The turn on air and those waiting, in order."""
        with self._cond:
            return self._turn, list(self._waiting)

    def busy(self) -> bool:
        with self._cond:
            return self._turn is not None or bool(self._waiting)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """True once nothing plays or waits (for tests and benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._turn is None and not self._waiting, timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Stop what is playing and end the worker; what played and what waited are recorded."""
        with self._cond:
            self._closing = True
            playing = self._playback
            self._cond.notify_all()
        if playing is not None:
            playing.stop()
        if self._thread is not None:
            self._thread.join(timeout)
        with self._cond:
            waiting, self._waiting = self._waiting, []
        for turn in waiting:
            self._finish(turn, "failed" if turn.started else "missed",
                         tr("电台在轮到它之前停止了", "the station stopped before its turn"))

    def _urgent_waiting(self) -> int:
        return next((i for i, t in enumerate(self._waiting) if not t.urgent), len(self._waiting))

    # --- the worker -----------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._waiting or self._closing)
                if self._closing:
                    return
                turn = self._turn = self._waiting.pop(0)
                self._cut_in = False
            try:
                self._perform(turn)
            except Exception as e:        # a bug must not silence the station: record it, go on
                log.error(tr(f"内部错误（「{turn.name}」）：{type(e).__name__}: {e}",
                             f"internal error (\"{turn.name}\"): {type(e).__name__}: {e}"),
                          exc_info=bool(os.environ.get("ANNOUNCER_DEBUG")))
                self._finish(turn, "failed", tr(f"内部错误：{type(e).__name__}: {e}",
                                                f"internal error: {type(e).__name__}: {e}"))
            with self._cond:
                self._turn = None
                self._cond.notify_all()

    def _perform(self, turn: Turn) -> None:
        broadcast = turn.occurrence.broadcast
        if turn.clips is None:
            turn.started = self._clock()
            if not self._open(turn):
                return
            self._began(turn)
            log.info(tr(f"播放「{turn.name}」（{turn.occurrence.time:%H:%M:%S}）：{len(turn.clips)} 段"
                        + (f"，重复 {broadcast.repeat} 遍" if broadcast.repeat > 1 else ""),
                        f"playing \"{turn.name}\" ({turn.occurrence.time:%H:%M:%S}): {len(turn.clips)} clip(s)"
                        + (f" x{broadcast.repeat}" if broadcast.repeat > 1 else "")))
        else:
            clip = turn.clips[turn.index]["id"] if turn.index < len(turn.clips) else "-"
            log.info(tr(f"继续播放「{turn.name}」，从 {clip} 重新开始", f"resuming \"{turn.name}\" at {clip}"))
        sounded = False
        while turn.repeat < broadcast.repeat:
            while turn.index < len(turn.clips):
                clip = turn.clips[turn.index]
                if sounded and broadcast.gap_s > 0:
                    with self._cond:
                        self._cond.wait_for(lambda: self._cut_in or self._closing or turn.halted, broadcast.gap_s)
                if self._stopped(turn):
                    return
                outcome = self._play_clip(turn, clip)
                if outcome == "stopped":
                    return
                if outcome == "hung":
                    self._finish(turn, "failed", _joined(turn.problems))
                    return
                sounded = sounded or outcome == "played"
                turn.index += 1
            turn.repeat, turn.index = turn.repeat + 1, 0
        self._finish(turn, "failed" if turn.problems else "played", _joined(turn.problems) or None)

    def _open(self, turn: Turn) -> bool:
        """Resolve the day's version folder and the broadcast's clips in it; False (recorded) when there are none."""
        try:
            turn.folder, turn.clips, turn.hold = held_day_clips(self.library, turn.occurrence, turn.day, turn.clip_ids)
        except AnnouncerError as e:
            self._finish(turn, "failed", str(e))
            return False
        if turn.clip_ids is not None:
            gone = [i for i in turn.clip_ids if i not in {c.get("id") for c in turn.clips}]
            if gone:
                turn.problems.append(tr(f"这一天的音频里已没有 {', '.join(gone)}",
                                        f"{', '.join(gone)} no longer in the day's clips"))
        return True

    def _play_clip(self, turn: Turn, clip: dict) -> str:
        """'played'; 'failed' (this clip, go on with the next); 'hung' (give up the turn); 'stopped'."""
        path = turn.folder / str(clip.get("file", ""))
        if not path.is_file():
            return self._clip_failed(turn, tr(f"找不到音频文件 {path.name}", f"clip file {path.name} is missing"),
                                     player=False)
        try:
            playback = self._player().play(path, turn.occurrence.broadcast.volume_db)
        except (AnnouncerError, OSError) as e:      # no player at all
            return self._clip_failed(turn, str(e))
        with self._cond:
            self._playback = playback
            cut = self._cut_in or self._closing or turn.halted
        if cut:
            playback.stop()
        limit = float(clip.get("duration_s") or 0) + STALL_S
        finished = playback.wait(limit)
        if not finished:
            playback.stop()
        with self._cond:
            self._playback = None
        if self._stopped(turn):
            return "stopped"
        if not finished:
            self._clip_failed(turn, tr(f"播放 {path.name} 超过 {limit:.0f} 秒仍未结束，放弃这次广播",
                                       f"{path.name} still playing after {limit:.0f} s; giving up this broadcast"))
            return "hung"
        if not playback.ok:
            problem = getattr(playback, "problem", None)
            if isinstance(problem, AnnouncerError) and problem.where:     # name the clip, not its long path
                return self._clip_failed(turn, f"{path.name}: {tr(problem.zh, problem.en)}")
            return self._clip_failed(turn, playback.error or tr("播放器出错", "the player failed"))
        turn.played.append(str(clip.get("id", path.stem)))
        return "played"

    def _clip_failed(self, turn: Turn, problem: str, player: bool = True) -> str:
        if problem not in turn.problems:
            log.error(tr(f"「{turn.name}」：{problem}", f"\"{turn.name}\": {problem}"))
            turn.problems.append(problem)
        if player:
            self._player_failed()
        return "failed"

    def _stopped(self, turn: Turn) -> bool:
        """After a clip or gap: put the turn back if an urgent broadcast cut in, record it if the station stops
        or somebody stopped it by hand."""
        with self._cond:
            if turn.halted:
                reason = turn.halted
            elif self._closing:
                reason = tr("电台停止，播放中断", "the station stopped during playback")
            elif self._cut_in and not turn.urgent:
                turn.interruptions += 1
                self._waiting.insert(self._urgent_waiting(), turn)
                reason = None
            else:
                return False
        if reason is not None:
            self._finish(turn, "failed", reason)
        else:
            log.info(tr(f"「{turn.name}」被紧急广播打断，稍后从当前这段重新开始",
                        f"\"{turn.name}\" interrupted by an urgent broadcast; it will restart its current clip"))
        return True

    def _finish(self, turn: Turn, result: str, reason: str | None) -> None:
        if turn.hold is not None:
            turn.hold.release()
        if turn.interruptions and result == "played":
            reason = tr(f"被紧急广播打断 {turn.interruptions} 次，已从中断处重播",
                        f"interrupted {turn.interruptions} time(s) by an urgent broadcast; the clip was restarted")
        self._finished(turn, result, reason)


def _joined(problems: list[str]) -> str:
    return tr("；", "; ").join(p.rstrip("。.") for p in problems)


def day_clips(library: Library, occurrence: Occurrence, day: date | None = None,
              clip_ids: tuple[str, ...] | None = None) -> tuple[Path, list[dict]]:
    """The version folder of the day (default: the occurrence's) and the clips it plays there: the broadcast's,
    or exactly `clip_ids` (those still in the day); LibraryError when there are none."""
    day = day or occurrence.time.date()
    folder, manifest = _built(library.day(day), day)
    return folder, _clips(manifest, occurrence, day, clip_ids)


def held_day_clips(library: Library, occurrence: Occurrence, day: date | None = None,
                   clip_ids: tuple[str, ...] | None = None) -> tuple[Path, list[dict], Hold]:
    """day_clips, with the version folder held (kept whatever is rebuilt) until the Hold is released."""
    day = day or occurrence.time.date()
    folder, manifest, hold = _built(library.held_day(day), day)
    try:
        return folder, _clips(manifest, occurrence, day, clip_ids), hold
    except LibraryError:
        hold.release()
        raise


def _built(found, day: date):
    if found is None:
        raise LibraryError(f"{day} 还没有生成音频；请运行 announcer build，或在网页的“今日通知”里生成",
                           f"no clips for {day}; run announcer build, or build them on the web page's Today page")
    return found


def _clips(manifest: dict, occurrence: Occurrence, day: date, clip_ids: tuple[str, ...] | None) -> list[dict]:
    if clip_ids is not None:
        by_id = {c.get("id"): c for c in manifest.get("clips", [])}
        clips = [by_id[i] for i in clip_ids if i in by_id]
        wanted = ", ".join(clip_ids)
    else:
        clips = select_clips(occurrence.broadcast, manifest)
        wanted = ", ".join(occurrence.broadcast.clips)
    if not clips:
        raise LibraryError(f"{day} 的音频里没有要播的段落（{wanted}）",
                           f"none of the clips it plays ({wanted}) are in {day}'s clips")
    return clips
