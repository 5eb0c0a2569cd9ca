"""The pyttsx3 worker: one long-lived process that speaks text into wav files.

Run by Pyttsx3Engine as `python -m announcer.build.engines.pyttsx3_worker`. It talks
JSON lines: first it writes a hello with the installed voices, then for each
request line {"id", "text", "voice", "rate", "path", "timeout"} it writes
{"id", "ok"} (or {"id", "ok": false, "error"}) once the file is complete.

Three pyttsx3 2.99 + espeak-ng habits are worked around here:
- espeak runs asynchronously, so runAndWait can return before the file is
  written (then the audio lands in the next request's file). We wait for the
  'finished-utterance' notice before answering.
- pyttsx3 calls espeak's Cancel whenever espeak still looks busy as a request
  starts; that cancels the request itself and leaves an empty file. We wait
  until espeak is idle first.
- a rate set with setProperty is queued inside espeak and that same Cancel can
  drop it, so the rate sticks at an old value. We put the rate into the text
  as an espeak embedded command instead.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

# espeak's embedded-command marker: "\x01175S" sets the speed to 175 words/min.
EMBEDDED_COMMAND = "\x01"


class _ShortSleep:
    """Stands in for `time` inside pyttsx3's espeak driver: its run loop
    sleeps 10 ms per request although we wait for the finish event anyway."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.0005))


def _skip_loop_sleep() -> None:
    from pyttsx3.drivers import espeak as driver

    if getattr(driver, "time", None) is time:
        driver.time = _ShortSleep


def _answer(channel, message: dict) -> None:
    channel.write(json.dumps(message) + "\n")
    channel.flush()


def _wait_until_idle(espeak, deadline: float) -> bool:
    """espeak's own thread keeps going briefly after it reports the end; if a
    request starts then, pyttsx3 cancels it and writes an empty file."""
    while espeak.IsPlaying():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.0002)
    return True


def _speak_one(engine, espeak, finished: dict, request: dict) -> dict:
    path = request["path"]
    text = request["text"].replace(EMBEDDED_COMMAND, " ")   # only our own commands
    deadline = time.monotonic() + float(request.get("timeout", 10.0))
    if request.get("rate"):
        text = f"{EMBEDDED_COMMAND}{int(request['rate'])}S {text}"
    if not _wait_until_idle(espeak, deadline):
        return {"id": request["id"], "ok": False, "error": "espeak stayed busy"}
    engine.setProperty("voice", request["voice"])
    event = finished["event"]
    event.clear()
    engine.save_to_file(text, path)
    engine.runAndWait()
    if not event.wait(max(0.0, deadline - time.monotonic())):
        return {"id": request["id"], "ok": False, "error": "espeak did not finish"}
    if not finished["completed"]:
        return {"id": request["id"], "ok": False, "error": "espeak stopped before the end"}
    if not os.path.exists(path):
        return {"id": request["id"], "ok": False, "error": "no file written"}
    return {"id": request["id"], "ok": True}


def main() -> int:
    # pyttsx3 prints "Audio saved to ..." on stdout: keep our own copy of
    # stdout for the answers and send everything else to stderr.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    try:
        import pyttsx3
        from pyttsx3.drivers import _espeak as espeak

        engine = pyttsx3.init("espeak")
        _skip_loop_sleep()
        voices = [{"id": v.id, "languages": list(v.languages or [])} for v in engine.getProperty("voices")]
    except Exception as exc:  # the espeak-ng library is missing or broken
        _answer(channel, {"hello": False, "error": f"{type(exc).__name__}: {exc}"})
        return 1
    finished = {"event": threading.Event(), "completed": False}

    def on_finished(name=None, completed=True):
        finished["completed"] = bool(completed)
        finished["event"].set()

    engine.connect("finished-utterance", on_finished)
    _answer(channel, {"hello": True, "voices": voices})
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        try:
            answer = _speak_one(engine, espeak, finished, request)
        except Exception as exc:
            answer = {"id": request.get("id"), "ok": False, "error": f"{type(exc).__name__}: {exc}"}
        _answer(channel, answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
