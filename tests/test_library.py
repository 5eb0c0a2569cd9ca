import os
from datetime import date

from announcer.library import MANIFEST, Library, atomic_write

DAY = date(2026, 11, 30)


def publish(library, tmp_path, content: bytes, name="01-a.mp3"):
    source = tmp_path / f"src-{content.hex()}"
    source.write_bytes(content)
    return library.publish(DAY, [(name, source)], {"date": DAY.isoformat(), "clips": [{"file": name}]})


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "x" / "a.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["a.bin"]


def test_publish_swaps_the_whole_day(tmp_path):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first", "01-a.mp3")
    folder = publish(library, tmp_path, b"second", "01-b.mp3")
    assert sorted(p.name for p in folder.iterdir()) == ["01-b.mp3", MANIFEST]
    assert (folder / "01-b.mp3").read_bytes() == b"second"
    assert library.manifest(DAY)["clips"] == [{"file": "01-b.mp3"}]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["2026-11-30"]


def test_recover_puts_back_a_day_left_mid_swap(tmp_path):
    library = Library(tmp_path / "out")
    folder = publish(library, tmp_path, b"first")
    os.rename(folder, tmp_path / "out" / ".2026-11-30.old-999999")   # crashed between the renames
    library.recover()
    assert (folder / "01-a.mp3").read_bytes() == b"first"


def test_recover_drops_staging_of_a_dead_build_but_not_a_live_one(tmp_path):
    out = tmp_path / "out"
    dead = out / ".2026-11-30.staging-999999-abc"
    live = out / f".2026-11-30.staging-{os.getppid()}-abc"
    for d in (dead, live):
        d.mkdir(parents=True)
        (d / "01-a.mp3").write_bytes(b"half")
    Library(out).recover()
    assert not dead.exists()
    assert live.exists()


def test_cache_entry_needs_both_files(tmp_path):
    library = Library(tmp_path)
    assert library.cached("k", "mp3") is None
    entry = library.store("k", "mp3", b"audio", {"duration_s": 1.0})
    assert library.cached("k", "mp3").info == {"duration_s": 1.0}
    entry.audio.unlink()
    assert library.cached("k", "mp3") is None


def test_unreadable_manifest_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("ANNOUNCER_LANG", "en")
    (tmp_path / "2026-11-30").mkdir()
    (tmp_path / "2026-11-30" / MANIFEST).write_text("{not json")
    try:
        Library(tmp_path).manifest(DAY)
    except Exception as e:
        assert "run announcer build again" in str(e)
        assert str(e).startswith(str(tmp_path / "2026-11-30" / MANIFEST))
    else:
        raise AssertionError("no error")
