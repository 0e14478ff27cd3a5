"""The photo reader's operating point, in a module of its own so that the CLI can show it without loading models.

MIN_SCORE: detector score below which a candidate is not read at all. PHOTO_MIN_CONFIDENCE: in photos, plate
confidence (detector score x voted reading confidence) below this is almost always a false plate. MIN_CHARACTERS:
a photo's reading with fewer characters is a fragment (a logo's letter, a sticker's digits), not a plate; crops
are read whatever their length (a crop is a plate by the caller's word). On the benchmark photos 1-3 character
readings were nine in ten of the false plates and none of the true ones; OpenALPR's US default is also 4.

MIN_SCORE and PHOTO_MIN_CONFIDENCE are chosen on endtoend-us (python benchmarks/operating_points.py) as the highest
read rate at no more than 0.1 false plates per photo, half the target, so that other photos stay under it; of
equal read rates, the one with the fewest false plates. With 4 characters required, that is 0.2 and 0.03: 78.8%
read, 0.03 false plates per photo (0.2 and 0.1 before the length rule: 74.6%, 0.07); endtoend-br, not used to
choose, reads 90.7% with the BR prior at 0.13 per photo. Since a zoomed view that does not find the plate again
adds no vote, the same rule would take a detector score of 0.1 (83.1% read, 0.08 false plates per photo, one plate
more than 0.2), but that reads a third more candidates, about 30 ms more per photo: over the 80 ms target.
"""

MIN_SCORE = 0.2
PHOTO_MIN_CONFIDENCE = 0.03
MIN_CHARACTERS = 4
# Candidates read for a watch list when none were asked for: with 5, 89.8% of the US photos' plates were found on
# a list among 100,000 others and no plate was marked wrongly (benchmarks/watch.py); under the US prior 10 find no
# more crops-us plates than 5.
WATCH_CANDIDATES = 5
# A candidate text's every character must have at least this probability at its place: the 8-bit recognizer's
# outputs were rounded to steps of 1/255 until 2026-12-07, so that alternatives under half a step were exactly 0 and
# never listed, and a sure reading then listed no neighbours to match a watch list wrongly. The float outputs keep
# that line by rule rather than by rounding, for the float model too.
MIN_CANDIDATE_CHAR = 1 / 510
