import os
import stat
from datetime import date

import pytest

from announcer.core import library
from announcer.core.errors import LibraryError
from announcer.core.library import DAYS, MANIFEST, Library, atomic_write

DAY = date(2026, 11, 30)


def publish(library, tmp_path, content: bytes, name="01-a.mp3"):
    source = tmp_path / f"src-{content.hex()}"
    source.write_bytes(content)
    return library.publish(DAY, [(name, source)], {"date": DAY.isoformat(), "clips": [{"file": name}]})


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.bin"
    atomic_write(target, b"one")
    atomic_write(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.bin"]


def test_written_files_are_readable_by_other_users(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "a.bin", b"x")
        folder = publish(Library(tmp_path / "out"), tmp_path, b"clip")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o644
    assert stat.S_IMODE(folder.resolve().stat().st_mode) == 0o755
    assert stat.S_IMODE((folder / "01-a.mp3").stat().st_mode) == 0o644
    assert stat.S_IMODE((folder / MANIFEST).stat().st_mode) == 0o644


def test_the_umask_is_read_without_being_changed(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:
        def refuse(mask):
            raise AssertionError("os.umask changes the mask for every thread")

        monkeypatch.setattr(os, "umask", refuse)
        assert library._umask() == 0o027
        atomic_write(tmp_path / "a.bin", b"x")
        assert stat.S_IMODE((tmp_path / "a.bin").stat().st_mode) == 0o640
        monkeypatch.setattr(library, "_STATUS", str(tmp_path / "no-proc"))     # no /proc: the mask at import
        assert library._umask() == library._IMPORT_UMASK
    finally:
        monkeypatch.undo()
        os.umask(old)


def test_publish_swaps_the_whole_day(tmp_path):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first", "01-a.mp3")
    folder = publish(library, tmp_path, b"second", "01-b.mp3")
    assert sorted(p.name for p in folder.iterdir()) == ["01-b.mp3", MANIFEST]
    assert (folder / "01-b.mp3").read_bytes() == b"second"
    assert library.manifest(DAY)["clips"] == [{"file": "01-b.mp3"}]
    assert folder.is_symlink()


def test_the_previous_version_is_kept_for_a_reader_and_older_ones_go(tmp_path):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first")
    reader = library.day_version(DAY)          # a player resolved the day just before a swap
    publish(library, tmp_path, b"second")
    assert (reader / "01-a.mp3").read_bytes() == b"first"
    publish(library, tmp_path, b"third")
    assert not reader.exists()
    assert len(list((tmp_path / "out" / DAYS).iterdir())) == 2


def test_a_held_version_stays_through_any_number_of_rebuilds_and_goes_once_released(tmp_path):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first")
    folder, manifest, hold = library.held_day(DAY)       # a broadcast on air
    for n in range(4):
        publish(library, tmp_path, f"again {n}".encode())
    assert (folder / "01-a.mp3").read_bytes() == b"first" and manifest["clips"] == [{"file": "01-a.mp3"}]
    assert len(list((tmp_path / "out" / DAYS).iterdir())) == 3        # current, previous, and the held one
    hold.release()
    hold.release()                                                     # twice is harmless
    publish(library, tmp_path, b"last")
    assert not folder.exists()
    assert len(list((tmp_path / "out" / DAYS).iterdir())) == 2


def test_holding_a_day_that_is_not_built_gives_none(tmp_path):
    assert Library(tmp_path / "out").held_day(DAY) is None


def test_a_hold_taken_on_a_version_removed_meanwhile_reads_the_day_again(tmp_path, monkeypatch):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first")
    stale = library.day_version(DAY)
    publish(library, tmp_path, b"second")
    publish(library, tmp_path, b"third")                 # `stale` is gone now
    real_day, calls = library.day, []

    def day_read_before_the_swaps(day):                  # the link was read just before two rebuilds
        calls.append(day)
        return (stale, {"clips": []}) if len(calls) == 1 else real_day(day)

    monkeypatch.setattr(library, "day", day_read_before_the_swaps)
    folder, _, hold = library.held_day(DAY)
    hold.release()
    assert len(calls) == 2 and folder == library.day_version(DAY) and (folder / "01-a.mp3").read_bytes() == b"third"


def test_leftovers_of_an_interrupted_publish_are_cleared(tmp_path):
    out = tmp_path / "out"
    library = Library(out)
    publish(library, tmp_path, b"first")
    (out / DAYS / "2026-11-30.99.partial").mkdir()            # killed while filling a version
    (out / DAYS / "2026-11-30.98").mkdir()                    # killed before the link swap
    os.symlink("nowhere", out / ".2026-11-30.link-12345")     # killed while making the link
    publish(library, tmp_path, b"second")
    names = sorted(p.name for p in (out / DAYS).iterdir())
    assert len(names) == 2 and not any(n.endswith((".partial", ".98")) for n in names)
    assert not list(out.glob(".*.link-*"))


def test_a_hand_made_day_folder_is_replaced_cleanly(tmp_path):
    out = tmp_path / "out"
    (out / "2026-11-30").mkdir(parents=True)
    (out / "2026-11-30" / "old.mp3").write_bytes(b"x")
    folder = publish(Library(out), tmp_path, b"new")
    assert sorted(p.name for p in folder.iterdir()) == ["01-a.mp3", MANIFEST]


def test_cache_entry_needs_both_files(tmp_path):
    library = Library(tmp_path)
    library.prepare()
    assert library.cached("k", "mp3") is None
    entry = library.store("k", "mp3", b"audio", {"duration_s": 1.0})
    assert library.cached("k", "mp3").info == {"duration_s": 1.0}
    entry.audio.unlink()
    assert library.cached("k", "mp3") is None


def test_an_unwritable_library_is_a_clear_error(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(LibraryError, match="cannot write here") as error:
        Library(tmp_path / "file").prepare()
    assert error.value.where.startswith(str(tmp_path / "file"))


def test_unreadable_manifest_is_a_clear_error(tmp_path):
    publish(Library(tmp_path), tmp_path, b"x")
    (tmp_path / "2026-11-30" / MANIFEST).write_text("{not json")
    with pytest.raises(LibraryError, match="run announcer build again") as error:
        Library(tmp_path).manifest(DAY)
    assert error.value.where == str(tmp_path / "2026-11-30" / MANIFEST)


def test_day_gives_the_version_folder_and_its_manifest(tmp_path):
    library = Library(tmp_path)
    assert library.day(DAY) is None
    publish(library, tmp_path, b"x")
    folder, manifest = library.day(DAY)
    assert folder == (tmp_path / "2026-11-30").resolve() and not folder.is_symlink()
    assert manifest == library.manifest(DAY)
    publish(library, tmp_path, b"y")                       # a rebuild: the old folder still reads as it was
    assert library.day(DAY)[0] != folder and (folder / MANIFEST).is_file()
    (tmp_path / "2026-11-30" / MANIFEST).write_text("{not json")
    with pytest.raises(LibraryError, match="run announcer build again"):
        library.day(DAY)


def test_update_sees_the_day_as_it_is_and_a_damaged_one_only_when_replacing(tmp_path):
    library = Library(tmp_path / "out")
    publish(library, tmp_path, b"first")
    extra = tmp_path / "extra.mp3"
    extra.write_bytes(b"extra")

    def append(current):
        folder, manifest = current
        return ([(c["file"], folder / c["file"]) for c in manifest["clips"]] + [("02-b.mp3", extra)],
                {**manifest, "clips": manifest["clips"] + [{"file": "02-b.mp3"}]})

    library.update(DAY, append)
    assert library.manifest(DAY)["clips"] == [{"file": "01-a.mp3"}, {"file": "02-b.mp3"}]
    (tmp_path / "out" / "2026-11-30" / MANIFEST).write_text("{not json")
    with pytest.raises(LibraryError):
        library.update(DAY, append)
    library.update(DAY, lambda current: ([], {"clips": [], "seen": current is None}), replace_damaged=True)
    assert library.manifest(DAY) == {"clips": [], "seen": True}
