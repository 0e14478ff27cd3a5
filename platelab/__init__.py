"""platelab: licence plate recognition trained on synthetic plates only.

    import platelab
    platelab.Reader().read("car.jpg")            # find and read plates in a photo
    platelab.Recognizer().read(["plate.png"])    # read cropped plates
    platelab.plate_crop(photo, plate)            # the crop a plate the Reader found was read from
    platelab.draw_plates(photo, plates)          # a copy of the photo with the plates outlined and labelled
    platelab.Reader().read_video("clip.mp4")     # plates followed through a video, each read once
    platelab.WatchList(["ABC123"])               # wanted plates, matched against a plate's candidates
    platelab.evaluate("labelled/").to_dict()     # accuracy on a folder with labels.tsv
    platelab.render_plate(style, rng)            # the plate engine
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what the lazy names below are, for type checkers and editors
    from platelab.api import Reader as Reader
    from platelab.api import Recognizer as Recognizer
    from platelab.api import draw_plates as draw_plates
    from platelab.api import plate_crop as plate_crop
    from platelab.api import read_paths as read_paths
    from platelab.eval.folders import Evaluation as Evaluation
    from platelab.eval.folders import evaluate as evaluate
    from platelab.io.decode import ImageDecodeError as ImageDecodeError
    from platelab.io.decode import read_image as read_image
    from platelab.io.results import Candidate as Candidate
    from platelab.io.results import ImageResult as ImageResult
    from platelab.io.results import PlateResult as PlateResult
    from platelab.io.results import to_json_line as to_json_line
    from platelab.predict.detector import DetectionPredictor as DetectionPredictor
    from platelab.predict.reader import RoiError as RoiError
    from platelab.predict.recognizer import PriorError as PriorError
    from platelab.predict.session import ModelLoadError as ModelLoadError
    from platelab.predict.track import PlateTracker as PlateTracker
    from platelab.predict.watch import WatchList as WatchList
    from platelab.predict.watch import WatchListError as WatchListError
    from platelab.synth.render import render_plate as render_plate
    from platelab.synth.style import builtin_styles as builtin_styles

__version__ = "0.1.0"

# Loaded on first use, so `platelab synth ...` does not start onnxruntime and reading does not load the engine.
_PUBLIC = {
    "Reader": "platelab.api",
    "Recognizer": "platelab.api",
    "read_paths": "platelab.api",
    "plate_crop": "platelab.api",
    "draw_plates": "platelab.api",
    "evaluate": "platelab.eval.folders",
    "Evaluation": "platelab.eval.folders",
    "DetectionPredictor": "platelab.predict.detector",
    "PlateTracker": "platelab.predict.track",
    "WatchList": "platelab.predict.watch",
    "PlateResult": "platelab.io.results",
    "Candidate": "platelab.io.results",
    "ImageResult": "platelab.io.results",
    "to_json_line": "platelab.io.results",  # a result as `platelab read --json` writes it
    "read_image": "platelab.io.decode",
    # what the API raises, to catch by name: an unreadable input; a model file that is none (a RuntimeError); a prior
    # the model has no formats for; a watch list file that cannot be read; a photo a Reader's roi misses (a ValueError)
    "ImageDecodeError": "platelab.io.decode",
    "ModelLoadError": "platelab.predict.session",
    "PriorError": "platelab.predict.recognizer",
    "WatchListError": "platelab.predict.watch",
    "RoiError": "platelab.predict.reader",
    "render_plate": "platelab.synth.render",
    "builtin_styles": "platelab.synth.style",
}
__all__ = sorted(_PUBLIC)


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any name as platelab's (Any)

    def __getattr__(name: str) -> Any:
        if name not in _PUBLIC:
            raise AttributeError(f"module 'platelab' has no attribute {name!r}")
        return getattr(import_module(_PUBLIC[name]), name)
