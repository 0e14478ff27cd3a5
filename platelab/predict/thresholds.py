"""The photo reader's operating point, in a module of its own so that the CLI can show it without loading models.

MIN_SCORE: detector score below which a candidate is not read at all. PHOTO_MIN_CONFIDENCE: in photos, plate
confidence (detector score x voted reading confidence) below this is almost always a false plate. Both chosen on
endtoend-us (python benchmarks/operating_points.py) as the highest read rate at no more than 0.1 false plates per
photo, half the target, so that other photos stay under it. With the 8-bit detector (its scores run a little lower
than the float one's) that is 0.2 and 0.1: 74.6% read, 0.07 false plates per photo (3.12 before the confidence
filter); endtoend-br, not used to choose, reads 87.0% with the BR prior at 0.11 per photo.
"""

MIN_SCORE = 0.2
PHOTO_MIN_CONFIDENCE = 0.1
# A photo's reading with fewer characters is a fragment (a logo's letter, a sticker's digits), not a plate: on the
# benchmark photos 1-3 character readings were about nine in ten false plates and no true one. Crops are read
# whatever their length (a crop is a plate by the caller's word). OpenALPR's US default is the same 4.
MIN_CHARACTERS = 4
