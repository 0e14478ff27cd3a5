"""The public Python API: read plates from arrays or files (scoring labelled folders: platelab.eval.folders)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, cast

import numpy as np

from platelab.io.arrays import PillowImage, as_image, from_pillow
from platelab.io.decode import ImageDecodeError, image_or_error, list_images, read_image
from platelab.io.outputs import OutputError
from platelab.io.results import ImageResult, PlateResult
from platelab.io.video import is_video
from platelab.predict.reader import RoiError
from platelab.predict.recognizer import RecognitionPredictor
from platelab.predict.thresholds import MIN_CHARACTERS, MIN_SCORE, PHOTO_MIN_CONFIDENCE, WATCH_CANDIDATES
from platelab.predict.watch import WatchList

# an array (BGR or grey), a file path, a file's encoded bytes, or a Pillow image
ImageInput = np.ndarray | str | Path | bytes | PillowImage
_NOT_PICKLED = ("a platelab {kind} holds onnxruntime sessions, which cannot be pickled: make one in each process "
                "(e.g. in a multiprocessing Pool's initializer)")
# a day: a longer wait is a stream given up on; time.sleep itself fails on inf, NaN and 1e12
MAX_RECONNECT_S = 86_400.0
CHUNK = 64  # files decoded and read together: big enough to batch, small enough to stream results
# crops Recognizer.read decodes before reading them: many network batches (the next is prepared while one runs),
# yet memory stays bounded however many paths it is given
CROPS_AT_ONCE = 16 * CHUNK


def _check_counts_and_flags(counts: dict[str, int], flags: dict[str, bool]) -> None:
    """A count of 0 or more and a flag given as True or False, or an error naming it: a -1 or a "yes" would
    otherwise reach onnxruntime or the reader unchecked, a string being true whatever it says."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a whole number, 0 or more, got {value!r}")
    for name, flag in flags.items():
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")


class Recognizer:
    """Reads cropped plates: `Recognizer().read([crop, ...])` with arrays (BGR or grey), Pillow images, file paths
    or encoded bytes.

    model: a recognizer ONNX file (None: the bundled one). prior: a country whose plate formats constrain the reading
    (`platelab models` lists a model's; 'auto': each crop under the country it fits best; 'us,br': the same among
    those alone; None: no prior). threads: onnxruntime's threads (0: every core). tta: read each crop at small moves
    and let the readings vote (five times the time). candidates: each result lists up to that many of its most
    likely texts. Raises ModelLoadError for a file that is no platelab recognizer, PriorError for a prior the model
    has no formats for. Not picklable (it holds an onnxruntime session): make one in each process.
    """

    def __init__(self, model: str | Path | None = None, prior: str | None = None, threads: int = 0,
                 tta: bool = False, candidates: int = 1) -> None:
        _check_counts_and_flags({"threads": threads}, {"tta": tta})
        self.predictor = RecognitionPredictor(model, prior=prior, threads=threads, tta=tta, candidates=candidates)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(_NOT_PICKLED.format(kind="Recognizer"))

    def read(self, images: Iterable[ImageInput] | ImageInput) -> list[PlateResult]:
        """One PlateResult per crop, in order. An input that cannot be read raises (ImageDecodeError for a file,
        ValueError for an array, TypeError for anything else), naming it: a file by its path, an array by its
        place in images. To read on past bad files, use read_paths(paths, crops=True)."""
        if not _one_image(images) and not isinstance(images, Iterable):
            _decoded(images)  # raises the TypeError naming what was given
        items = [images] if _one_image(images) else cast(Iterable[ImageInput], images)
        results: list[PlateResult] = []
        arrays: list[np.ndarray] = []
        for item, image in enumerate(items):
            arrays.append(_decoded(image, f"item {item}"))
            if len(arrays) == CROPS_AT_ONCE:
                results += self.predictor.read(arrays)
                arrays = []
        return results + (self.predictor.read(arrays) if arrays else [])


class Reader:
    """Finds and reads plates in photos: `Reader().read(image)` with an array (BGR or grey), a Pillow image, a file
    path or encoded bytes.

    detector, recognizer: ONNX files (None: the bundled ones). prior, tta, candidates: as Recognizer's.
    min_confidence: plates read less surely are dropped (0 to 1; a plate's confidence is its detection score times
    its reading's). min_score: the detector score a plate needs (0 to 1). threads: onnxruntime's threads (0: every
    core). refine: re-detect each plate in zoomed views and let the crops vote (reads small plates; slower).
    min_chars: readings with fewer characters are dropped as fragments. roi: (x, y, width, height) in pixels: plates
    are looked for in that part of each photo alone (a fixed camera's lane), read from the whole photo; a photo it
    misses raises RoiError (a ValueError). Raises ModelLoadError and PriorError as Recognizer does. Not picklable
    (it holds onnxruntime sessions): make one in each process, e.g. in a Pool's initializer. One Reader may be
    shared by threads.
    """

    def __init__(self, detector: str | Path | None = None, recognizer: str | Path | None = None,
                 prior: str | None = None, min_confidence: float = PHOTO_MIN_CONFIDENCE,
                 min_score: float = MIN_SCORE, threads: int = 0, refine: bool = True,
                 min_chars: int = MIN_CHARACTERS, tta: bool = False, candidates: int = 1,
                 roi: tuple[int, int, int, int] | None = None) -> None:
        from platelab.predict.reader import PlateReader

        for name, value in (("min_confidence", min_confidence), ("min_score", min_score)):
            # a percentage (50) or None would drop every plate, or fail on the first photo
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
        _check_counts_and_flags({"threads": threads, "min_chars": min_chars}, {"tta": tta, "refine": refine})
        if roi is not None:
            roi = checked_roi(roi)

        self.reader = PlateReader(detector, recognizer, prior=prior, min_score=min_score,
                                  min_confidence=min_confidence, threads=threads, refine=refine, min_chars=min_chars,
                                  tta=tta, candidates=candidates, roi=roi)

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(_NOT_PICKLED.format(kind="Reader"))

    def read(self, image: ImageInput) -> list[PlateResult]:
        """The plates in one photo, best first; a photo that cannot be read raises as Recognizer.read says."""
        return self.reader.read(_decoded(image))

    def read_video(self, path: str | Path, every: int = 1, progress: bool = False,
                   draw: Path | None = None) -> list[PlateResult]:
        """Every plate that passes in a video file, read in every `every`-th frame and followed from frame to
        frame; each plate's readings vote on its text (platelab.predict.track). Raises ImageDecodeError naming
        the file when OpenCV's FFmpeg cannot decode it (a still image it reads as a video of one frame). draw: an
        MP4 file that receives the frames read, each with the plates read in it outlined, at the rate they were
        read (written whole or not at all; H.264 with the video extra, which browsers play, each frame at its time
        in the file)."""
        from contextlib import ExitStack

        from tqdm import tqdm

        from platelab.io.draw import draw_plates
        from platelab.io.video import video_frames, video_writer
        from platelab.predict.track import PlateTracker

        tracker = PlateTracker()
        with ExitStack() as stack:
            writer = None
            for frame in tqdm(video_frames(Path(path), str(path), every), desc=Path(path).name, unit="frame",
                              leave=False, disable=not progress):
                plates = self.reader.read(frame.image)
                tracker.add(frame.index, frame.seconds, plates)
                if draw is not None:
                    if writer is None:
                        height, width = frame.image.shape[:2]
                        fps = frame.fps / every if frame.fps > 0 else 1.0
                        writer = stack.enter_context(video_writer(draw, fps, (width, height)))
                    writer.write(draw_plates(frame.image, plates, self.reader.roi), frame.seconds)
        return tracker.plates()

    def follow(self, source: str | int | Path, every: int = 1,
               reconnect: float | None = None) -> Iterator[PlateResult]:
        """The plates passing a camera (0, 1, ... or "0") or a stream OpenCV's FFmpeg opens (rtsp://, http://, a
        file), read in every `every`-th frame, each given once its track closes: when it has gone unseen for a few
        read frames (platelab.predict.track), or the stream ends or is interrupted (Ctrl-C gives the plates still
        in view, then raises KeyboardInterrupt on to the caller). Raises ImageDecodeError naming the source when it
        cannot be opened or fails, after giving the plates it had in view. With reconnect, a stream that ends,
        fails or cannot be opened is opened again after that many seconds, until interrupted (a camera that drops
        off the network); frame numbers and seconds count on from where the stream was left. A reconnect that is
        not 0 to MAX_RECONNECT_S seconds is a ValueError, raised here."""
        if reconnect is not None and not 0 <= reconnect <= MAX_RECONNECT_S:
            raise ValueError(f"reconnect must be 0 to {MAX_RECONNECT_S:g} seconds, got {reconnect}")
        # a camera's index as OpenCV numbers it (0), or a file's Path
        return self._follow(str(source), every, reconnect)

    def _follow(self, source: str, every: int, reconnect: float | None) -> Iterator[PlateResult]:
        import logging
        import time

        from platelab.io.video import stream_frames
        from platelab.predict.track import PlateTracker

        tracker = PlateTracker(keep_closed=False)
        failure: BaseException | None = None
        left_at = (0, 0.0)  # the frame number and second after the last frame read, where an opening counts on
        try:
            while True:
                frames, seconds = left_at
                try:
                    for frame in stream_frames(source, every):
                        tracker.add(frames + frame.index, seconds + frame.seconds, self.reader.read(frame.image))
                        yield from tracker.passed()
                        left_at = (frames + frame.index + 1, seconds + frame.seconds + 1 / (frame.fps or 1.0))
                    reason = "ended"
                except ImageDecodeError as exc:
                    failure, reason = exc, exc.reason
                if reconnect is None:
                    break
                failure = None
                logging.getLogger("platelab").warning("%s: %s; opening it again in %g s", source, reason, reconnect)
                time.sleep(reconnect)
        except KeyboardInterrupt as interrupt:
            failure = interrupt  # the caller's own to handle, once the plates in view are given
        tracker.end()
        yield from tracker.passed()
        if failure is not None:
            raise failure


def checked_roi(roi: object) -> tuple[int, int, int, int]:
    """roi as (x, y, width, height): four whole numbers, x and y 0 or more, width and height 1 or more."""
    values = tuple(roi) if isinstance(roi, (tuple, list)) else ()
    if (len(values) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
            or min(values[:2]) < 0 or min(values[2:]) < 1):
        raise ValueError(f"roi must be (x, y, width, height): whole numbers, x and y 0 or more, width and height 1 or "
                         f"more; got {roi!r}")
    x, y, width, height = values
    return x, y, width, height


def photo_options_given(detector: str | Path | None, min_score: float, refine: bool, min_chars: int,
                        every: int, roi: tuple[int, int, int, int] | None = None) -> list[str]:
    """The options of photos and videos given other than as their defaults, by name: a cropped plate is read
    without detection, so each would be ignored there."""
    given = {"detector": detector is not None, "min_score": min_score != MIN_SCORE, "refine": not refine,
             "min_chars": min_chars != MIN_CHARACTERS, "every": every != 1, "roi": roi is not None}
    return [name for name, differs in given.items() if differs]


def read_paths(paths: Sequence[str | Path], crops: bool = False, prior: str | None = None,
               model: str | Path | None = None, detector: str | Path | None = None,
               min_confidence: float | None = None, draw: str | Path | None = None,
               min_score: float = MIN_SCORE, refine: bool = True,
               min_chars: int = MIN_CHARACTERS, tta: bool = False, every: int = 1, progress: bool = False,
               candidates: int | None = None, watch: WatchList | None = None, workers: int = 1,
               save_plates: str | Path | None = None, roi: tuple[int, int, int, int] | None = None
               ) -> Iterator[ImageResult]:
    """One ImageResult per image or video file found in paths, in order; unreadable files give a result with an
    error. A video's plates are those followed through its frames (Reader.read_video).

    crops: the files are cropped plates (read in batches, no detection); otherwise whole photos.
    min_confidence: plates read less surely are dropped (default: none for crops, PHOTO_MIN_CONFIDENCE in photos).
    draw: a folder that receives each photo with its plates outlined (a video: an MP4 of the frames read).
    refine: re-detect each plate in zoomed views and let the crops vote (photos; see platelab.predict.refine).
    min_chars: in photos, readings with fewer characters are dropped as fragments, not plates.
    tta: read every crop at small moves and let the readings vote (more accurate, five times the reading time).
    every: in videos, read every `every`-th frame.
    roi: (x, y, width, height): plates are looked for in that part of each photo or frame alone, as Reader's; a
    photo it misses gives a result with an error.
    progress: a progress bar on stderr, counting files (and a video's frames).
    candidates: over 1, each plate also lists up to that many of its most likely texts, its own first (None: 1, or
    WATCH_CANDIDATES with a watch list).
    watch: wanted plates; a plate that may be one (its text or a candidate) has it as PlateResult.wanted.
    workers: photos and videos read by this many processes at once, one onnxruntime thread each (on 2 cores, 2
    read about twice as many photos a second as 1); results keep the files' order. Not for crops (read in batches).
    The workers are started afresh (spawn), so a script calling this must do so under `if __name__ == "__main__":`.
    save_plates: a folder that receives each plate reported in a photo as the crop it was read from (plate_crop),
    as NAME.plate<N>.png (NAME: the photo's name without its suffix, under its subfolders; N: the plate's place in
    its result, from 1), and a labels.tsv of crops ('file state plate', state DRAFT_STATE) of the texts read, written
    once the last result is taken, which `platelab eval` and `finetune --data` read as it is. For photos only (an
    OutputError for crops or a video); a labels.tsv there that was edited since platelab wrote it is refused.
    """
    if isinstance(paths, (str, Path)):  # a string's characters would each be a path (one of them "/")
        raise TypeError(f"read_paths takes a list of paths, not one path: read_paths([{str(paths)!r}])")
    if watch is not None and not isinstance(watch, WatchList):
        raise TypeError(f"watch takes a WatchList, not a {type(watch).__name__}: watch=WatchList([...])")
    draw = None if draw is None else Path(draw)
    save_plates = None if save_plates is None else Path(save_plates)
    roi = None if roi is None else checked_roi(roi)  # before a folder is claimed, and where workers would raise it
    candidates = candidates or (WATCH_CANDIDATES if watch else 1)
    if crops and workers > 1:
        raise ValueError("cropped plates are read in batches, not by worker processes")
    ignored = photo_options_given(detector, min_score, refine, min_chars, every, roi)
    ignored += ["draw"] if draw is not None else []
    if crops and ignored:
        raise ValueError(f"{', '.join(ignored)}: for photos and videos, not cropped plates")
    from tqdm import tqdm

    from platelab.io.outputs import DRAWINGS, PLATE_CROPS, claim_folder

    files = input_files(paths, draw, save_plates)
    inputs = frozenset(path.resolve() for path, _ in files) if draw is not None else frozenset()
    if draw is not None:
        _check_apart(files, lambda path, name: _drawn_path(draw, name, path, _drawing_suffix(path), inputs,
                                                           make=False), "be drawn as {}; draw them separately")
    if save_plates is not None:
        _check_plates_savable(files, crops, save_plates)
        if draw is not None and draw.resolve() == save_plates.resolve():
            raise OutputError(f"{draw}: the drawings and the plate crops need folders of their own")
    if draw is not None:
        claim_folder(draw, DRAWINGS)
    if save_plates is not None:
        from platelab.io.labels import LABELS_FILE
        from platelab.io.outputs import prepare_draft_file

        claim_folder(save_plates, PLATE_CROPS)
        # the texts a user corrected there are theirs: a rerun may not take them back to what was read
        prepare_draft_file(save_plates / LABELS_FILE, (".tsv",), "labels draft")
    if crops:
        results = _read_crop_files(files, Recognizer(model, prior, tta=tta, candidates=candidates),
                                   min_confidence or 0.0)
    else:
        options = PhotoReaderOptions(prior, model, detector, min_confidence, min_score, refine, min_chars, tta,
                                     candidates, roi)
        if workers > 1:
            from platelab.parallel import read_in_workers

            results = read_in_workers(files, options, draw, every, workers, inputs, save_plates=save_plates)
        else:
            reader = options.build()
            results = (read_photo_file(reader, path, name, draw, every, progress, inputs, save_plates)
                       for path, name in files)
    read: list[ImageResult] = []
    with tqdm(total=len(files), desc="reading", unit="file", disable=not progress) as bar:
        for result in results:
            bar.update()
            if save_plates is not None:
                read.append(result)
            yield result if watch is None else watch.marked_result(result)
    if save_plates is not None:
        _write_plate_labels(save_plates, read)


def input_files(paths: Sequence[str | Path], draw: Path | None = None, save_plates: Path | None = None
                ) -> list[tuple[Path, str]]:
    """The files read_paths reads from paths, as (path, name) in its order (its results are theirs, one each)."""
    files = list_images(paths)
    outputs = [folder.resolve() for folder in (draw, save_plates) if folder is not None]
    # the drawings and crops of an earlier run, named by a shell glob or the folder itself, are no input
    return [(path, name) for path, name in files if not any(path.resolve().is_relative_to(o) for o in outputs)]


def plate_crop(image: ImageInput, plate: PlateResult) -> np.ndarray:
    """The plate as the photo reader read it: its quad cut from the photo (or video frame) it was found in, at full
    resolution, straightened, with the margin the recognizer learnt with; Recognizer().read of it reads what the
    reader read (without --tta or a prior that Recognizer lacks). The recognizer shrinks it to its input size only
    as it reads, so the crop keeps the plate's own pixels (small plates brought up to MIN_CROP_HEIGHT, huge ones
    down to MAX_CROP_SIDE: platelab.predict.reader)."""
    from platelab.predict.reader import rectify

    # float32, as the reader held the quad: its sides, and so the crop's size, come out the same to the pixel
    return rectify(_decoded(image), np.array(plate.quad, np.float32))


def draw_plates(image: ImageInput, plates: Sequence[PlateResult],
                roi: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """A BGR copy of the photo (or video frame) with each plate's corners outlined and its text and confidence above
    it, and a region of interest (Reader's roi) outlined apart, as `platelab read --draw` draws them; a file is
    decoded upright, as the reader read it, so the plates' pixels fall where it found them. The image given is left
    as it was."""
    from platelab.io.draw import draw_plates as drawn

    return drawn(_decoded(image), plates, None if roi is None else checked_roi(roi))


def read_stream(source: str, prior: str | None = None, model: str | Path | None = None,
                detector: str | Path | None = None, min_confidence: float | None = None,
                min_score: float = MIN_SCORE, refine: bool = True, min_chars: int = MIN_CHARACTERS,
                tta: bool = False, every: int = 1, candidates: int | None = None, watch: WatchList | None = None,
                reconnect: float | None = None, roi: tuple[int, int, int, int] | None = None
                ) -> Iterator[ImageResult]:
    """One ImageResult per plate passing a camera or stream (Reader.follow, reconnect as there), as it passes, its
    file the source; a source that cannot be opened or fails gives a result with an error and ends. Other options
    as read_paths's."""
    reader = PhotoReaderOptions(prior, model, detector, min_confidence, min_score, refine, min_chars, tta,
                                candidates or (WATCH_CANDIDATES if watch else 1), roi).build()
    try:
        for plate in reader.follow(source, every, reconnect):
            result = ImageResult(source, plates=(plate,))
            yield result if watch is None else watch.marked_result(result)
    except ImageDecodeError as exc:
        yield ImageResult(source, error=f"{source}: {exc.reason}")


@dataclass(frozen=True)
class PhotoReaderOptions:
    """How read_paths and read_stream build their photo Reader (picklable, for worker processes)."""

    prior: str | None
    model: str | Path | None
    detector: str | Path | None
    min_confidence: float | None
    min_score: float
    refine: bool
    min_chars: int
    tta: bool
    candidates: int
    roi: tuple[int, int, int, int] | None = None

    def build(self, threads: int = 0) -> Reader:
        confidence = PHOTO_MIN_CONFIDENCE if self.min_confidence is None else self.min_confidence
        return Reader(self.detector, self.model, self.prior, confidence, self.min_score, threads, refine=self.refine,
                      min_chars=self.min_chars, tta=self.tta, candidates=self.candidates, roi=self.roi)


def _one_image(images: object) -> bool:
    """Whether Recognizer.read was given one image rather than several."""
    return isinstance(images, (np.ndarray, str, PurePath, bytes, bytearray, memoryview)) or _is_pillow(images)


def _is_pillow(image: object) -> bool:
    # by its module's name: reading does not import Pillow
    return type(image).__module__.startswith("PIL.") and hasattr(image, "mode")


def _decoded(image: object, name: str | None = None) -> np.ndarray:
    """An API input as a uint8 grey or BGR array; name says which input an error is about (a file: its path)."""
    about = f"{name}: " if name else ""
    if isinstance(image, np.ndarray):
        try:
            return as_image(image)
        except ValueError as exc:
            raise ValueError(f"{about}{exc}") from None
    if isinstance(image, (bytes, bytearray, memoryview)):  # a file's encoded bytes, or an upload's buffer of them
        return read_image(bytes(image), name=name)
    if isinstance(image, (str, PurePath)):
        if not str(image):
            raise ValueError(f"{about}an empty file path")
        if is_video(Path(image)):
            raise ImageDecodeError(str(image), "a video: read it with Reader().read_video")
        return read_image(image if isinstance(image, str) else Path(image))
    if _is_pillow(image):
        return _decoded(from_pillow(cast(PillowImage, image)), name)
    raise TypeError(f"{about}expected an image array (BGR or grey), a Pillow image, a file path or encoded "
                    f"bytes, got {type(image).__module__}.{type(image).__qualname__}")


def _read_crop_files(files: list[tuple[Path, str]], recognizer: Recognizer, min_confidence: float
                     ) -> Iterator[ImageResult]:
    for start in range(0, len(files), CHUNK):
        decoded = [(name, _crop_or_error(path, name)) for path, name in files[start : start + CHUNK]]
        readings = iter(recognizer.read([image for _, image in decoded if isinstance(image, np.ndarray)]))
        for name, image in decoded:
            if isinstance(image, str):
                yield ImageResult(name, error=image)
                continue
            plate = next(readings)
            yield ImageResult(name, plates=(plate,) if plate.confidence >= min_confidence else ())


def _crop_or_error(path: Path, name: str) -> np.ndarray | str:
    if is_video(path):
        return f"{name}: a video, not a cropped plate (read it without --crops)"
    return image_or_error(path, name)


def read_photo_file(reader: Reader, path: Path, name: str, draw: Path | None, every: int, progress: bool = False,
                    inputs: frozenset[Path] = frozenset(), save_plates: Path | None = None) -> ImageResult:
    """One photo or video file's plates (see read_paths), or why it could not be read; inputs: every file being
    read (resolved), which a drawing must not replace; save_plates: the folder for its plates' crops (photos)."""
    # a drawing that cannot be written (a name too long once .jpg is added, a full disk) fails its own file, not
    # the batch
    if is_video(path):
        try:
            drawn = None if draw is None else _drawn_path(draw, name, path, ".mp4", inputs)
            return ImageResult(name, plates=tuple(reader.read_video(path, every, progress, drawn)))
        except ImageDecodeError as exc:
            return ImageResult(name, error=str(ImageDecodeError(name, exc.reason)))
        except RoiError as exc:
            return ImageResult(name, error=f"{name}: {exc}")
        except OSError as exc:  # without --draw, the file itself could not be read (its permissions, say)
            return ImageResult(name, error=_not_drawn(name, exc) if draw is not None
                               else str(ImageDecodeError(name, exc.strerror or str(exc))))
    image = image_or_error(path, name)
    if isinstance(image, str):
        return ImageResult(name, error=image)
    try:
        plates = tuple(reader.read(image))
    except RoiError as exc:
        return ImageResult(name, error=f"{name}: {exc}")
    if draw is not None:
        from platelab.io.atomic import atomic_write_image
        from platelab.io.draw import draw_plates

        try:
            atomic_write_image(_drawn_path(draw, name, path, ".jpg", inputs),
                               draw_plates(image, plates, reader.reader.roi))
        except OSError as exc:
            return ImageResult(name, error=_not_drawn(name, exc))
    if save_plates is not None:
        from platelab.io.atomic import atomic_write_image

        # as a drawing: a crop that cannot be written fails its own file, and the file gets no labels row
        try:
            for number, plate in enumerate(plates, 1):
                atomic_write_image(_plate_path(save_plates, name, number), plate_crop(image, plate))
            _remove_stale_crops(save_plates, name, len(plates))
        except OSError as exc:
            return ImageResult(name, error=_not_drawn(name, exc, "plate crops"))
    return ImageResult(name, plates=plates)


def _not_drawn(name: str, exc: OSError, what: str = "drawing") -> str:
    return str(ImageDecodeError(name, f"its {what} could not be written ({exc.strerror or exc})"))


def _check_apart(files: list[tuple[Path, str]], target: Callable[[Path, str], Path], clash: str) -> list[Path]:
    """Two files listed under one name (car.jpg in two folders given) would share an output: refused first, clash
    saying how ("be drawn as {}; ..." with the shared path). Each file's output path, in order."""
    seen: dict[Path, str] = {}
    for path, name in files:
        output = target(path, name)
        if output in seen:
            raise OutputError(f"{seen[output]} and {path} would both {clash.format(output)}")
        seen[output] = str(path)
    return list(seen)


def _drawing_suffix(path: Path) -> str:
    return ".mp4" if is_video(path) else ".jpg"


def _check_plates_savable(files: list[tuple[Path, str]], crops: bool, folder: Path) -> None:
    """What read_paths' save_plates refuses before anything is read or written: crops, videos, two photos whose
    crops would share names (car.jpg and car.png), and a name a labels row cannot hold."""
    from platelab.io.labels import names_in

    if crops:
        raise OutputError("plate crops are saved from photos; cropped plates are crops already")
    video = next((name for path, name in files if is_video(path)), None)
    if video is not None:
        raise OutputError(f"{video}: a video; plate crops are saved from photos, and a video's plates are read across "
                          "frames (leave the videos out)")
    # distinct names stay distinct as NAME.plate1.png, and so as NAME.plate<N>.png for every N: only the digits
    # after the last ".plate" differ
    first = _check_apart(files, lambda _, name: _plate_path(folder, name, 1, make=False),
                         "have their plates saved as {}; save them separately")
    names_in(folder, first)


def _plate_path(folder: Path, name: str, number: int, make: bool = True) -> Path:
    """Where the crop of the number-th plate of the file listed as name goes (its folders made unless make is
    False): name under folder, as a drawing's, its suffix replaced by .plate<number>.png."""
    target = _under(folder, name)
    target = target.with_name(f"{PurePath(target.name).stem}.plate{number}.png")
    if make:
        target.parent.mkdir(parents=True, exist_ok=True)
    return target


def _remove_stale_crops(folder: Path, name: str, kept: int) -> None:
    """A photo read again with fewer plates (another --min-confidence, another model): its earlier crops past the
    last one saved now are platelab's own, and would pass for this run's."""
    number = kept + 1
    while (stale := _plate_path(folder, name, number, make=False)).is_file():
        stale.unlink()
        number += 1


def _write_plate_labels(folder: Path, results: list[ImageResult]) -> None:
    """folder's labels.tsv: a crop row for each plate saved, its text as read (a draft the user corrects)."""
    from platelab.io.labels import LABELS_FILE, names_in, write_label_draft

    saved = [(_plate_path(folder, result.file, number, make=False), plate) for result in results
             if result.error is None for number, plate in enumerate(result.plates, 1)]
    names = names_in(folder, [path for path, _ in saved])
    write_label_draft(folder / LABELS_FILE, ((name, ImageResult(name, plates=(plate,)))
                                            for name, (_, plate) in zip(names, saved)), "crops")


def _under(folder: Path, name: str) -> Path:
    """name under folder, never outside it: a file given as /abs/car.jpg or ../car.jpg would otherwise have its
    output written over it."""
    listed = PurePath(name)
    return folder.joinpath(*[part for part in listed.parts if part not in (listed.anchor, "..")])


def _drawn_path(draw: Path, name: str, source: Path, suffix: str, inputs: frozenset[Path], make: bool = True
                ) -> Path:
    """Where the annotated copy of source, listed as name, goes (its folders made unless make is False): name under
    draw, never outside it (a file given as /abs/car.jpg or ../car.jpg would otherwise be written over); a name
    without the drawing's suffix gains it (car.png -> car.png.jpg), so that car.png and car.jpg do not share a
    drawing; and never onto a file being read (NAME.drawn.jpg then)."""
    listed = PurePath(name)
    target = _under(draw, name)
    if target.suffix.lower() != suffix:
        target = target.with_name(target.name + suffix)
    if target.resolve() in inputs | {source.resolve()}:
        target = target.with_name(f"{listed.name}.drawn{suffix}")
    if make:
        target.parent.mkdir(parents=True, exist_ok=True)
    return target
