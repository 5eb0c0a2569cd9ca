"""What killed announcer processes leave behind is cleared at start-up, and only that."""

import os
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def announcer(*args, cwd, tmp):
    env = {**os.environ, "ANNOUNCER_LANG": "en", "TMPDIR": str(tmp)}
    return subprocess.run([sys.executable, "-m", "announcer", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def aged(path: Path, seconds: float) -> Path:
    moment = time.time() - seconds
    os.utime(path, (moment, moment))
    return path


def test_a_killed_processes_temp_files_go_and_nothing_else(tmp_path):
    tmp, out = tmp_path / "tmp", tmp_path / "out"
    (out / ".cache").mkdir(parents=True)
    tmp.mkdir()
    dead = tmp / "announcer-999999-abc"                       # a private folder of a process killed with -9
    (dead / "announcer-pyttsx3-x").mkdir(parents=True)
    (dead / "tmpq1w2e3").write_bytes(b"pydub")
    old_worker = tmp / "announcer-pyttsx3-old"                # from before private folders
    old_worker.mkdir()
    half = _touch(out / ".cache" / "..write-test.k2j3.tmp")   # a half-written file
    upload = out / ".upload-zz"
    upload.mkdir()
    for path in (dead, old_worker, half, upload):
        aged(path, 3600)
    future = _touch(tmp / "announcer-1-in-use")                # newer than every running announcer: kept
    os.utime(future, (time.time() + 3600, time.time() + 3600))
    not_ours = aged(_touch(tmp / "tmpnotours"), 3600)         # not a name announcer makes
    clip = aged(_touch(out / ".cache" / "abc.mp3"), 3600)
    (tmp_path / "n.txt").write_text("# 停水\n明天停水。\n", "utf-8")
    result = announcer("build", "n.txt", "--out", out, "--config", _espeak(tmp_path), cwd=tmp_path, tmp=tmp)
    assert result.returncode == 0, result.stderr
    assert not dead.exists() and not old_worker.exists() and not half.exists() and not upload.exists()
    assert future.exists() and not_ours.exists() and clip.exists()
    assert sorted(p.name for p in tmp.iterdir()) == ["announcer-1-in-use", "tmpnotours"]   # its own went at exit


def test_a_running_announcers_temp_folder_is_kept(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    running = subprocess.Popen([sys.executable, "-c", "import sys, time; from announcer.core import leftovers; "
                                "print(leftovers.private_temp(), flush=True); time.sleep(60)", "announcer"],
                               env=env, stdout=subprocess.PIPE, text=True)
    try:
        folder = Path(running.stdout.readline().strip())
        assert folder.is_dir() and folder.parent == tmp
        time.sleep(1)                                         # older than what starts next, not than its owner
        (tmp_path / "n.txt").write_text("# 停水\n明天停水。\n", "utf-8")
        assert announcer("check", "n.txt", cwd=tmp_path, tmp=tmp).returncode == 0
        assert folder.is_dir()
    finally:
        running.kill()
        running.wait()


def test_a_process_keeps_its_temp_files_in_a_folder_of_its_own_removed_at_exit(tmp_path):
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    code = ("import tempfile; from announcer.core import leftovers; folder = leftovers.private_temp(); "
            "assert leftovers.private_temp() == folder; print(folder, tempfile.mkstemp()[1])")
    folder, made = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                  check=True).stdout.split()
    assert Path(made).parent == Path(folder) and Path(folder).parent == tmp_path
    assert not Path(folder).exists()


def _touch(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _espeak(folder: Path) -> Path:
    config = folder / "schedule.toml"
    config.write_text('[speech]\nengines = { zh = "espeak-ng", en = "espeak-ng" }\n', "utf-8")
    return config
