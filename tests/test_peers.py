"""How a general text reader's lines become plates in the benchmarks (platelab.eval.peers)."""

from platelab.eval.peers import plate_lines, tallest_plate

STATE = ([[10, 5], [90, 5], [90, 15], [10, 15]], "CALIFORNIA")
NUMBER = ([[12.4, 20], [88, 21], [87.6, 50], [12, 49.5]], "7ABC-123")
STICKER = ([[92, 4], [99, 4], [99, 12], [92, 12]], "24 05")


def test_only_lines_of_four_to_eight_plate_characters_are_plates() -> None:
    lines = [STATE, NUMBER, STICKER, ([[0, 0], [5, 0], [5, 5], [0, 5]], "abc"), ([[0, 0], [9, 0], [9, 9]], "A1B2C3D4E")]
    assert plate_lines(lines) == [((12, 20, 76, 30), "7ABC123"), ((92, 4, 7, 8), "2405")]


def test_a_crop_reads_as_its_tallest_plate_like_line() -> None:
    assert tallest_plate([STICKER, STATE, NUMBER]) == "7ABC123"
    assert tallest_plate([STATE]) == ""
