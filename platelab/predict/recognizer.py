"""Reading cropped plates with onnxruntime: pre-processor, ONNX model, decoder (no torch anywhere)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from platelab.io.results import Candidate, CharResult, PlateResult
from platelab.predict.charset import Charset
from platelab.predict.decode import (
    AUTO_PRIOR,
    AutoPrior,
    Decoded,
    FormatPrior,
    Prior,
    decode,
    readable_formats,
    rescaled,
)
from platelab.predict.preprocess import NO_JITTER, Jitter, preprocess_crops
from platelab.predict.session import checked_probabilities, load_session, metadata_read, size_pair
from platelab.predict.vote import voted
from platelab.weights import default_model

# Test-time jitter: each crop read as it is and moved by a pixel (and scaled by 3%) four ways. Chosen on unseen
# synthetic plates (benchmarks/synthetic.py --tta), where a 3x3 grid of shifts or nine moves read no better.
TTA_JITTERS = (NO_JITTER, Jitter(1, 1, 1.03), Jitter(-1, -1, 0.97), Jitter(1, -1), Jitter(-1, 1))


def class_scale_factors(metadata: dict[str, str]) -> dict[str, float]:
    """The per-character decoding factors a recognizer's metadata carries (`platelab export --class-scale`); a
    ValueError if they are not characters and numbers."""
    factors = json.loads(metadata.get("class_scale", "{}"))
    if not isinstance(factors, dict):
        raise ValueError(f"class_scale is not characters and factors: {factors!r}")
    return {str(char): float(factor) for char, factor in factors.items()}


def prior_names(formats: dict[str, list[dict[str, Any]]]) -> list[str]:
    """What --prior may name with a model carrying formats: the countries it has formats for, and auto among them."""
    return [AUTO_PRIOR, *sorted(formats)] if formats else []


class PriorError(ValueError):
    """A prior the model carries no formats for."""


class RecognitionPredictor:
    """Crops (BGR or grey arrays of any size) -> one PlateResult each.

    prior names a country whose plate formats (shipped in the model's metadata) constrain decoding, e.g. "us",
    and whose way of writing characters applies where its format allows (synth/countries.yaml: the US writes O as
    0 but not in a letter place); "auto" decodes each crop under the country whose formats fit it best
    (AutoPrior), and countries separated by commas ("us,br") likewise among those alone; None reads without a
    prior. With tta, each crop is read at every move in TTA_JITTERS and the readings vote (platelab.predict.vote): a
    reading that turns on the crop's exact pixels is outvoted, at five times the reading time. candidates over 1:
    each result lists that many of its most likely texts (PlateResult.candidates). Each reading names the country
    whose formats it was decoded under (PlateResult.fits).
    """

    def __init__(
        self,
        model: str | Path | None = None,
        prior: str | None = None,
        threads: int = 0,
        batch_size: int = 64,
        tta: bool = False,
        candidates: int = 1,
    ) -> None:
        if not isinstance(candidates, int) or candidates < 1:
            raise ValueError(f"candidates must be a whole number, 1 or more, got {candidates!r}")
        if prior is not None and not isinstance(prior, str):
            raise TypeError(f"prior must be a country's name (e.g. 'us'), 'auto' or None, got {prior!r}")
        self.candidates = candidates
        self.jitters = TTA_JITTERS if tta else (NO_JITTER,)
        if model is not None and not str(model):  # os.environ.get("MODEL", ""): not a way to ask for the bundled one
            raise ValueError("an empty recognizer model path (None for the bundled model)")
        self.path = Path(model) if model is not None else default_model("recognizer")
        self.session, metadata = load_session(self.path, "recognizer", threads)
        self.batch_size = batch_size
        with metadata_read(self.path):
            self.charset = Charset(metadata["charset"], int(metadata["slots"]))
            classes = self.session.get_outputs()[0].shape[-1]
            if isinstance(classes, int) and classes != self.charset.classes:
                raise ValueError(f"{classes} output classes for a charset of {len(self.charset.chars)} characters")
            self.input_size = size_pair(json.loads(metadata["input_size"]), "input_size")
            self.head = metadata.get("head", "slots")  # models exported before the CTC head carry no "head"
            formats = json.loads(metadata.get("formats", "{}"))
            # how each country writes what was read (US: O as 0); models exported before it carry none
            written_as = json.loads(metadata.get("read_as", "{}"))
            # Factors per character chosen on real crops when the model was exported (`platelab export
            # --class-scale`): a network trained on synthetic faces can under-read a class whose real shape it never
            # saw (the US dies' narrow M and W read as H and N, never the other way round).
            self.class_scale = self._class_scale(class_scale_factors(metadata))
        self.prior_names = prior_names(formats)
        self.prior = self._prior(formats, written_as, prior)

    def _class_scale(self, factors: dict[str, float]) -> np.ndarray | None:
        if not factors:
            return None
        scale = np.ones(self.charset.classes, np.float32)
        for char, factor in factors.items():
            if char not in self.charset.chars or not float(factor) > 0:
                raise ValueError(f"class_scale {char!r}: {factor!r} is not a positive factor of a charset character")
            scale[self.charset.chars.index(char)] = factor
        return scale

    def _prior(
        self, formats: dict[str, list[dict[str, Any]]], written_as: dict[str, dict[str, str]], name: str | None
    ) -> Prior | None:
        if name is None:
            return None
        name = name.lower()  # country codes are written in lower case (us, br, eu-de); a user may type US

        def country(code: str) -> FormatPrior | None:
            """The country's prior over the formats this model can read; None where it can read none."""
            with metadata_read(self.path):
                found = readable_formats([(f["alphabets"], f["weight"]) for f in formats[code]], self.charset)
                return FormatPrior(found, self.charset, written_as.get(code), code) if found else None

        def named(code: str) -> FormatPrior:
            if code not in formats:
                listed = f" (in {name!r})" if code != name else ""
                raise PriorError(f"no format prior {code!r}{listed} in this model; it has: "
                                 f"{', '.join(self.prior_names) or 'none'}")
            prior = country(code)
            if prior is None:  # the model's own limit (a fine-tune to fewer characters), not damage
                raise PriorError(f"this model can read none of the {code!r} formats it carries: each needs a character"
                                 f" it does not read, or more than its {self.charset.slots} characters")
            return prior

        if name == AUTO_PRIOR and formats:
            # a country none of whose formats this model can read (a fine-tune to fewer characters) is left out
            return AutoPrior([prior for code in sorted(formats) if (prior := country(code)) is not None])
        if "," in name:
            codes = [code.strip() for code in name.split(",")]
            if AUTO_PRIOR in codes:
                raise PriorError(f"prior {name!r}: {AUTO_PRIOR!r} takes every country already; list countries alone")
            return AutoPrior([named(code) for code in dict.fromkeys(codes)])
        return named(name)

    def probabilities(self, crops: Sequence[np.ndarray], jitter: Jitter = NO_JITTER) -> np.ndarray:
        """(N, positions, classes) class probabilities for each crop (slots or CTC frames), each moved by jitter."""
        probs: np.ndarray = self._probabilities(crops, (jitter,))[0]
        return probs

    def _probabilities(self, crops: Sequence[np.ndarray], jitters: Sequence[Jitter]) -> np.ndarray:
        """(jitters, N, positions, classes): every crop at every jitter, each batch in one run of the network."""
        chunks = [crops[start : start + self.batch_size] for start in range(0, len(crops), self.batch_size)]
        if not chunks:
            return np.zeros((len(jitters), 0, 0, self.charset.classes))

        def prepare_chunk(chunk: Sequence[np.ndarray]) -> np.ndarray:
            return preprocess_crops(chunk, self.input_size, jitters)

        def run(batch: np.ndarray) -> np.ndarray:
            # a model exported without its softmax, or broken, is named here rather than read as nonsense or nothing
            out = checked_probabilities(self.path, self.session.run(None, {"image": batch})[0], "probabilities",
                                        totals=True)
            return out.reshape(len(jitters), -1, *out.shape[1:])

        if len(chunks) == 1:
            return run(prepare_chunk(chunks[0]))
        outputs = []
        # The next batch is prepared while onnxruntime runs this one (both release the GIL).
        with ThreadPoolExecutor(1) as prepare:
            upcoming = prepare.submit(prepare_chunk, chunks[0])
            for following in [*chunks[1:], None]:
                batch = upcoming.result()
                if following is not None:
                    upcoming = prepare.submit(prepare_chunk, following)
                outputs.append(run(batch))
        return np.concatenate(outputs, axis=1)

    def decode(self, probs: np.ndarray) -> list[Decoded]:
        if self.class_scale is not None:
            probs = rescaled(probs, self.class_scale, self.charset.pad_index)
        return decode(probs, self.charset, self.head, self.prior, self.candidates)

    def read(self, crops: Sequence[np.ndarray]) -> list[PlateResult]:
        per_jitter = [self._results(crops, probs) for probs in self._probabilities(crops, self.jitters)]
        return [voted(list(readings)) for readings in zip(*per_jitter)]

    def read_jittered(self, crops: Sequence[np.ndarray], jitter: Jitter) -> list[PlateResult]:
        """One reading per crop, each moved by jitter."""
        return self._results(crops, self.probabilities(crops, jitter))

    def _results(self, crops: Sequence[np.ndarray], probs: np.ndarray) -> list[PlateResult]:
        results = []
        for crop, decoded in zip(crops, self.decode(probs)):
            h, w = crop.shape[:2]
            results.append(
                PlateResult(
                    text=decoded.text,
                    confidence=decoded.confidence,
                    chars=tuple(CharResult(c, p) for c, p in zip(decoded.text, decoded.char_confidences)),
                    box=(0, 0, w, h),
                    quad=((0.0, 0.0), (float(w), 0.0), (float(w), float(h)), (0.0, float(h))),
                    candidates=tuple(Candidate(text, p) for text, p in decoded.candidates),
                    fits=decoded.country,  # the country whose formats the text fits, as the prior chose it
                )
            )
        return results
