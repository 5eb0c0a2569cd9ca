"""The day's broadcast order: the staff member's, once they moved a clip.

The manifest's "clips" list is the order the station plays, the plan shows and
the export numbers its files in; the day's files are named 01-<id>.mp3,
02-... in that order. A build or an import lays the clips out in their
natural order (the notices', then the recordings added by hand). Once a clip
is moved, the manifest says "order": "by-hand", and a rebuild keeps that
order: clips that were there keep their places relative to each other, a new
clip goes right after the clip it follows in the natural order (a notice added
after all the others goes at the end), and a clip that is gone drops out.

A clip is known again by its text first (a notice's id comes from its title or
its place in the file, and both may change), then by its audio, then by its id.
When a day's notices are withdrawn, the order they had is kept in the manifest
("withdrawn_order") so that the next build puts them back in their places.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from announcer import __version__
from announcer.core.errors import LibraryError
from announcer.core.library import Library
from announcer.core.plan import clip_title

ORDER = "order"
BY_HAND = "by-hand"
WITHDRAWN_ORDER = "withdrawn_order"
_KNOWN_BY = ("text", "sha256")     # what a clip is known again by, before its id

Item = tuple[dict, Path]     # a manifest entry and the audio file it is made from


class ClipError(LibraryError):
    """A change to the day's clips that cannot be made; `status` is how the page answers it."""

    def __init__(self, zh: str, en: str, where: str | None = None, status: int = 400):
        super().__init__(zh, en, where)
        self.status = status


def by_hand(manifest: dict | None) -> bool:
    return bool(manifest) and manifest.get(ORDER) == BY_HAND


def order_mark(manifest: dict | None) -> dict:
    """{"order": "by-hand"} to carry into a new manifest when the old one had it, else {}."""
    return {ORDER: BY_HAND} if by_hand(manifest) else {}


def numbered(items: list[Item]) -> tuple[list[tuple[str, Path]], list[dict]]:
    """(files, entries) with each file named by its place: 01-<id>.mp3, 02-..."""
    files, clips = [], []
    for number, (entry, source) in enumerate(items, start=1):
        name = f"{number:02d}-{entry['id']}{Path(entry['file']).suffix}"
        files.append((name, source))
        clips.append({**entry, "file": name})
    return files, clips


def arranged(current: tuple[Path, dict] | None, items: list[Item]) -> list[Item]:
    """`items` (in their natural order) in the day's by-hand order when it has one, else as they are."""
    if current is None or not by_hand(current[1]):
        return items
    return merge_order(previous_order(current[1]), items)


def withdrawn_order(manifest: dict) -> dict:
    """{"withdrawn_order": [...]} for a day whose notices are taken out while its order is the staff member's:
    each clip's id, text, audio and kind, in the order they had; else {}."""
    if not by_hand(manifest):
        return {}
    return {WITHDRAWN_ORDER: [{key: c.get(key) for key in ("id", "text", "sha256", "engine")}
                              for c in previous_order(manifest)]}


def previous_order(manifest: dict) -> list[dict]:
    """The day's clips in their order; after a withdraw, with the withdrawn notices back in their places
    (the recordings left fill their old places in the order they have now; one added since goes last)."""
    clips = [c for c in manifest.get("clips", []) if isinstance(c, dict)]
    kept = manifest.get(WITHDRAWN_ORDER)
    if not isinstance(kept, list):
        return clips
    kept = [c for c in kept if isinstance(c, dict)]
    ids = {c.get("id") for c in clips}
    was_there = [c for c in clips if c.get("id") in {k.get("id") for k in kept if _recording(k)}]
    now = iter(was_there)
    order = [c if not _recording(c) else next(now) for c in kept if not _recording(c) or c.get("id") in ids]
    return order + [c for c in clips if c not in was_there]


def _recording(entry: dict) -> bool:
    return entry.get("engine") == "recording"


def _pairs(previous: list[dict], items: list[Item]) -> dict[int, int]:
    """{item's index: its place in `previous`}: each item paired with the clip of its kind that has the same
    text (or audio) when exactly one has it on each side, then by id; the rest are new."""
    paired: dict[int, int] = {}
    taken: set[int] = set()
    for key in (*_KNOWN_BY, "id"):
        def value(entry: dict, key=key):
            found = entry.get(key)
            return (_recording(entry), found) if isinstance(found, str) and found.strip() else None

        olds: dict = {}
        for place, entry in enumerate(previous):
            if place not in taken and value(entry) is not None:
                olds.setdefault(value(entry), []).append(place)
        news: dict = {}
        for index, (entry, _) in enumerate(items):
            if index not in paired and value(entry) is not None:
                news.setdefault(value(entry), []).append(index)
        for found, indexes in news.items():
            places = olds.get(found, [])
            if len(places) == 1 and len(indexes) == 1:
                paired[indexes[0]] = places[0]
                taken.add(places[0])
    return paired


def merge_order(previous: list[dict], items: list[Item]) -> list[Item]:
    """Clips known among the `previous` entries, in that order; each new one right after its natural
    predecessor, or at the end when it comes after every clip of its kind that was there (a notice added to
    the day's)."""
    rank = _pairs(previous, items)
    merged = [items[index] for index in sorted(rank, key=rank.get)]

    for index, item in enumerate(items):
        if index in rank:
            continue
        if not any(later in rank and _recording(items[later][0]) == _recording(item[0])
                   for later in range(index + 1, len(items))):
            merged.append(item)
            continue
        if index == 0:
            merged.insert(0, item)
            continue
        place = next(n for n, other in enumerate(merged) if other is items[index - 1])
        merged.insert(place + 1, item)
    return merged


def day_items(current: tuple[Path, dict]) -> list[Item]:
    folder, manifest = current
    return [(c, folder / c["file"]) for c in manifest.get("clips", [])
            if isinstance(c, dict) and isinstance(c.get("file"), str) and isinstance(c.get("id"), str)]


def no_day(day: date) -> ClipError:
    return ClipError(f"{day} 还没有生成音频。", f"no clips are built for {day} yet", status=404)


def _no_clip(day: date, clip_id: str) -> ClipError:
    return ClipError(f"{day} 没有这段音频（{clip_id[:40]}），也许已经被删除或重新生成了。请刷新页面再试。",
                     f"{day} has no clip \"{clip_id[:40]}\"; it may have been deleted or rebuilt. "
                     "Reload the page and try again", status=404)


def find_clip(items: list[Item], day: date, clip_id: str) -> int:
    for index, (entry, _) in enumerate(items):
        if entry["id"] == clip_id:
            return index
    raise _no_clip(day, clip_id)


def publish_items(library: Library, day: date, change) -> Path:
    """`change(items, manifest)` → the new items, published as the day in one step, numbered in order."""
    def update(current):
        if current is None:
            raise no_day(day)
        items, manifest = change(day_items(current), current[1])
        files, clips = numbered(items)
        return files, {**manifest, "date": day.isoformat(), "announcer": __version__, "clips": clips}

    return library.update(day, update)


def move_clip(day: date, out: Path, clip_id: str, step: int) -> tuple[dict, int]:
    """Move a clip `step` places (-1: up, +1: down) in the day's order; (its entry, its new number).
    The order is the staff member's from now on ("order": "by-hand"), kept by rebuilds."""
    moved: list[tuple[dict, int]] = []

    def change(items, manifest):
        index = find_clip(items, day, clip_id)
        target = index + step
        if not 0 <= target < len(items):
            title = clip_title(items[index][0])
            if step < 0:
                raise ClipError(f"“{title}”已经是第一段，不能再往前移。", f"\"{title}\" is already the first clip")
            raise ClipError(f"“{title}”已经是最后一段，不能再往后移。", f"\"{title}\" is already the last clip")
        items = list(items)
        items.insert(target, items.pop(index))
        moved.append((items[target][0], target + 1))
        return items, {**manifest, ORDER: BY_HAND}

    publish_items(Library(out), day, change)
    return moved[-1]
