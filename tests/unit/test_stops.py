from ponder.llm.stops import StopScanner


def feed_all(scanner, pieces):
    return "".join(scanner.feed(p) for p in pieces) + scanner.flush()


def test_stop_split_across_pieces_is_never_released():
    scanner = StopScanner(("</restate>",))
    released = [scanner.feed(p) for p in ["goal is X", "</", "rest", "ate>", " more"]]
    assert "".join(released) == "goal is X"
    assert all("<" not in r for r in released)
    assert scanner.stopped


def test_partial_prefix_that_is_not_a_stop_is_released():
    scanner = StopScanner(("</restate>",))
    assert feed_all(scanner, ["a </b", "> c"]) == "a </b> c"
    assert not scanner.stopped


def test_earliest_of_several_stops_wins():
    scanner = StopScanner(("</verify>", "<observation>"))
    assert feed_all(scanner, ["code<observation>x</verify>"]) == "code"


def test_no_stops_passes_everything():
    assert feed_all(StopScanner(()), ["a", "b"]) == "ab"
