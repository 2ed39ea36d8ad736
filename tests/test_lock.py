"""The lock gives each note a `mod` that changes exactly when its content does."""

from deckbuild.lock import Lock, Stamp, lock_text, read_lock, stamp


def test_new_notes_get_now_and_unique_added_times():
    stamps = stamp({}, {"a": "h1", "b": "h2"}, now=1000)
    assert stamps["a"].mod == stamps["b"].mod == 1000
    assert stamps["a"].added != stamps["b"].added


def test_unchanged_notes_keep_their_stamp():
    old = {"a": Stamp("h1", 500, 500_000)}
    assert stamp(old, {"a": "h1"}, now=1000)["a"] == old["a"]


def test_changed_notes_move_forward_even_if_the_clock_did_not():
    old = {"a": Stamp("h1", 2000, 500_000)}
    assert stamp(old, {"a": "h2"}, now=1000)["a"] == Stamp("h2", 2001, 500_000)


def test_new_added_times_never_collide_with_old_ones():
    old = {"a": Stamp("h1", 1, 5_000_000)}
    assert stamp(old, {"a": "h1", "b": "h2"}, now=1000)["b"].added == 5_000_001


def test_lock_round_trips_through_its_file(tmp_path):
    lock = Lock(namespace="ns", notes={"a": Stamp("h", 1, 2)},
                notetypes={"7": Stamp("t", 3)}, schemas={"7": {"fields": ["F"]}})
    path = tmp_path / "build-deck.lock"
    path.write_text(lock_text(lock))
    assert read_lock(path) == (lock, [])


def test_damaged_lock_is_reported(tmp_path):
    path = tmp_path / "build-deck.lock"
    path.write_text("{not json")
    lock, problems = read_lock(path)
    assert lock == Lock() and "damaged" in problems[0].message
