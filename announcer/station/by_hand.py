"""Play now and stop for the web page, with or without a station.

`Controls` goes through the socket when a station runs (its `.station.lock` is
held), else on a play queue of its own with the configured player, so "play now"
works without a station too. While that queue has something on air or waiting,
the page holds `.by-hand.lock` (shared). The page looks for a station every half
second; when one has started it stops its own playback (two players must not
sound at once), records why and lets go. A starting station waits for that (up
to 3 s) before it plays anything, and leaves the page's "playing" records for
the page to end. The web page gets a Controls from the command that serves it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from announcer.core.control import (HANDOVER_S, Reply, StationClient, ask, check_request, hold_by_hand, let_go,
                                    reply_of, station_running)
from announcer.core.errors import tr
from announcer.station.control import carry_out

log = logging.getLogger("announcer.station")


class Controls(StationClient):
    """Play now / stop for the web page: through the running station, else on a play queue of its own.

    `config` is called for the current settings on each request (schedule.toml may change). Without a
    station, plays go through one queue (one at a time, recorded in the play log like the station's),
    made on the first request and closed once it is idle, or when a station starts; `close` stops it.
    """

    def __init__(self, out: Path, config: Callable[[], object], player: str | None = None, *,
                 get_player: Callable[..., object] | None = None, clock: Callable[[], object] | None = None,
                 watch_s: float = HANDOVER_S):
        super().__init__(out)
        self._config = config
        self._player = player
        self._get_player = get_player
        self._clock = clock
        self._watch_s = watch_s
        self._local = None                   # the local daemon, while it plays
        self._held: int | None = None        # its hold on .by-hand.lock
        self._quit: threading.Event | None = None
        self._lock = threading.Lock()

    def stop(self) -> Reply:
        """Stop what plays here and at the station."""
        local = self._local
        replies = [] if local is None else [carry_out(local, {"do": "stop"})]
        if self.station_running() or not replies:
            replies.append(super().stop())
        return next((r for r in replies if r.data.get("stopped")), replies[-1])

    def status(self) -> Reply:
        if self.station_running():
            self._close(handover=True)
        local = self._local
        if local is None:
            return super().status()
        reply = carry_out(local, {"do": "status"})
        return Reply(reply.zh, reply.en, {**reply.data, "station": False})

    def close(self) -> None:
        """Stop the local queue (what plays on it is recorded as cut off)."""
        self._close(handover=False)

    def _send(self, request: dict) -> Reply:
        request = check_request(request)
        if not self.station_running():
            config = self._config()
            with self._lock:
                local = self._here(config)
                if local is not None:
                    return carry_out(local, request)
        self._close(handover=True)
        return reply_of(ask(self.out, request))

    def _here(self, config):
        """(With self._lock.) The local daemon (never started: it plays only what is asked, no schedule), with
        today's settings; None when a station runs after all."""
        if self._local is None:
            held = hold_by_hand(self.out)
            if station_running(self.out):        # looked at again while holding: a station starting now sees us
                let_go(held)
                return None
            from announcer.station.daemon import Daemon

            try:
                local = Daemon(config, self.out, player=self._player, clock=self._clock, get_player=self._get_player)
            except BaseException:
                let_go(held)
                raise
            local.queue.start()
            self._local, self._held, self._quit = local, held, threading.Event()
            threading.Thread(target=self._watch, args=(local, self._quit), name="announcer-page-queue",
                             daemon=True).start()
        elif station_running(self.out):
            return None
        else:
            self._local.use_config(config)
        return self._local

    def _watch(self, local, quit: threading.Event) -> None:
        """While the local daemon lives: a station that starts takes over; idle, it is closed (and lets go
        of .by-hand.lock)."""
        while not quit.wait(self._watch_s):
            if station_running(self.out):
                self._close(handover=True)
                return
            with self._lock:
                if self._local is not local:
                    return
                if local.queue.busy():
                    continue
                self._local, held, self._held = None, self._held, None
            local.stop()
            let_go(held)
            return

    def _close(self, handover: bool) -> None:
        """Close the local daemon; with `handover` (a station has started) what plays here stops first and is
        recorded with that reason, so two players never sound at once."""
        with self._lock:
            local, self._local = self._local, None
            held, self._held = self._held, None
            quit, self._quit = self._quit, None
        if local is None:
            return
        quit.set()
        if handover:
            if local.queue.busy():
                log.warning(tr("电台开始运行了：网页停止自己的播放，由电台接着播放",
                               "a station has started: the page stops its own playback; the station plays from now on"))
            local.queue.stop_all(tr("电台开始运行，由电台接着播放", "a station started; it plays from now on"))
        local.stop()
        let_go(held)
