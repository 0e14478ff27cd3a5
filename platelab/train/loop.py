"""What every training run shares: seeding, device, schedule, metrics log, optimiser set-up, resume, one step."""

from __future__ import annotations

import errno
import json
import math
import os
import random
import stat
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import cv2
import numpy as np
import torch
from pydantic import BaseModel, ValidationError
from torch import nn
from torch.utils.data import DataLoader, IterableDataset
from tqdm import tqdm

from platelab.eval.environment import cpu_name
from platelab.io.atomic import atomic_write_bytes, atomic_write_text, check_writable
from platelab.io.decode import first_line
from platelab.io.outputs import OutputError, check_claim, claim_folder
from platelab.train.checkpoint import restore_training_state
from platelab.train.export import exporting_trained_run
from platelab.utils.config_file import first_problem

CHECKPOINT = "last.ckpt"
CONFIG = "config.json"
METRICS = "metrics.jsonl"
COMMAND_FILE = "command.txt"
RUN_LOCK = ".platelab-run.lock"  # held (flock) by the run writing the folder; its process id inside, for the message
RUN_MARKER_KIND = "training run"  # what platelab.io.outputs' marker says a run folder holds
STYLE_FILES = "style_files.json"  # {file: sha256} of the user's style files a run draws (none: bundled styles only)
STYLE_COPIES = "styles"  # the run's copy of each of them (style_copy): the run exports and resumes without them
CLIP_NORM = 5.0
# What a run folder written before folders were marked holds (platelab.io.outputs.claim_folder): its config first,
# which every run writes as it starts; a half-written checkpoint a kill left; its copies of style files.
RUN_FILES = (CONFIG, CHECKPOINT, METRICS, COMMAND_FILE, STYLE_FILES, f"{STYLE_COPIES}/", RUN_LOCK,
             f".{Path(CHECKPOINT).stem}.*.tmp{Path(CHECKPOINT).suffix}")

RunConfig = TypeVar("RunConfig", bound=BaseModel)


class RunConfigError(ValueError):
    """A run folder's config.json that cannot be read as its run's config; the message names the file."""


def read_run_config(run: Path) -> dict[str, Any]:
    """The fields of the config a training run wrote into its folder, unchecked."""
    path = run / CONFIG
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RunConfigError(f"{path}: cannot read the run's config ({exc.strerror or first_line(exc)})") from exc
    except ValueError as exc:  # not JSON, or not UTF-8 text
        raise RunConfigError(f"{path}: not a run's config (not JSON: {first_line(exc)})") from exc
    if not isinstance(data, dict):
        raise RunConfigError(f"{path}: not a run's config (holds a JSON {type(data).__name__}, not fields)")
    return data


def run_config(run: Path, schema: type[RunConfig], data: dict[str, Any] | None = None) -> RunConfig:
    """The config a training run wrote into its folder (data: its fields, if read already), as schema; a
    RunConfigError naming the file and its first problem if it is not one."""
    try:
        return schema.model_validate(read_run_config(run) if data is None else data)
    except ValidationError as exc:
        where, message = first_problem(exc)
        raise RunConfigError(f"{run / CONFIG}: field {where}: {message}") from exc


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # cuDNN's fastest convolutions sum in a varying order: a resumed GPU run would drift from an unbroken one.
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def single_threaded_opencv(_: int = 0) -> None:
    """Rendering runs OpenCV on one thread per process.

    Its thread pool does not survive fork(): a data worker forked after the parent rendered something large with
    several threads waits forever. One thread per process also leaves the cores to the training step.
    """
    cv2.setNumThreads(1)


def device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{cpu_name()}, {os.cpu_count()} cores"


def schedule(steps: int, warmup_steps: int) -> Callable[[int], float]:
    """Linear warm-up, then cosine decay to 2% of the peak learning rate at `steps`."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, steps - warmup_steps)
        return 0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


class MetricsLog:
    """Appends one JSON object per line; each line is complete, so a killed run's log stays readable.

    Each line names the hardware it was trained on: a run trained on a lent GPU is exported elsewhere, and its
    model card takes the hardware from here.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.hardware = hardware()

    def write(self, **values: float | int | str) -> None:
        try:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps({**values, "hardware": self.hardware}) + "\n")
        except OSError as exc:  # a failed write (a full disk) names no file: name the log
            if exc.errno is None or exc.filename is not None:
                raise
            raise OSError(exc.errno, exc.strerror, str(self.path)) from exc


@dataclass
class Run:
    """A run's folder, device, optimiser and schedule, and where it (re)starts."""

    out: Path
    device: torch.device
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    start: int
    elapsed: float
    extra: dict[str, float] = field(default_factory=dict)  # a loop's own running figures, kept by checkpoints

    @property
    def checkpoint(self) -> Path:
        return self.out / CHECKPOINT

    @property
    def metrics(self) -> Path:
        return self.out / METRICS

    @property
    def last_lr(self) -> float:
        # open_run gives the optimiser a float rate, so this is a float already; the stubs allow a tensor rate
        return float(self.scheduler.get_last_lr()[0])


# Settings that say where and how fast a run goes, not what it learns: a resumed run may change them.
RESUMABLE_CHANGES = frozenset({"stop_after", "workers", "threads", "export", "out_dir"})


class TrainingDiverged(ValueError):
    """The loss stopped being a number; the step is not taken, so the last checkpoint stays as it was."""


class RunSettings(Protocol):
    """What the recognizer's and the detector's training configs share."""

    out_dir: Path
    styles: list[str]
    init_from: Path | None

    def model_dump_json(self) -> str: ...


def check_run(cfg: RunSettings, resume: bool) -> list[str]:
    """What would stop a run after it had written into its folder, checked before it writes anything: unknown
    styles or their fonts, a missing init_from, and the folder (check_run_folder). Returns the style entries the
    run draws (run_styles)."""
    from platelab.synth.style import drawable_styles

    styles = run_styles(cfg.out_dir, cfg.styles, resume)
    drawable_styles(styles or None)
    if not resume and cfg.init_from is not None and not cfg.init_from.is_file():
        if cfg.init_from.is_dir():
            raise ValueError(f"{cfg.init_from}: init_from is a folder; give a checkpoint file in it "
                             f"({cfg.init_from / CHECKPOINT})")
        raise ValueError(f"{cfg.init_from}: init_from not found")
    check_run_folder(cfg.out_dir, json.loads(cfg.model_dump_json()), resume)
    return styles


def check_run_folder(out: Path, config: dict[str, object], resume: bool,
                     advice: str = "continue it with --resume, or give another folder") -> None:
    """A run folder belongs to one run. It must be new, empty or a run's (platelab.io.outputs.claim_folder: a folder
    of anyone's files is not written into), not held by a run writing it (hold_run_folder), and writable. A fresh
    run refuses a file, and a folder that holds a checkpoint (its weights, log and command would be lost; advice:
    what to do instead); --resume needs the checkpoint and the
    config the run was started with, but for RESUMABLE_CHANGES: a run continued under another seed, rate or engine
    would be neither run."""
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out}: a file, not a folder for the run; give a folder")
    check_claim(out, RUN_MARKER_KIND, RUN_FILES)
    check_free(out)
    if out.is_dir():  # a read-only folder, said before the run rather than at its first write
        try:
            check_writable(out / CONFIG)
        except OSError as exc:
            raise ValueError(f"{out}: the run cannot be written there ({exc.strerror or first_line(exc)}); give "
                             "another folder") from exc
    checkpoint = out / CHECKPOINT
    if not resume:
        if checkpoint.exists():
            raise ValueError(f"{out}: holds a run already ({CHECKPOINT}); {advice}")
        return
    if not checkpoint.exists():
        raise ValueError(f"{out}: no {CHECKPOINT} to resume; run without --resume to start it")
    if not (out / CONFIG).is_file():
        raise ValueError(f"{out}: no {CONFIG} beside {CHECKPOINT}; it is not a run folder platelab wrote")
    saved = read_run_config(out)
    # a key the saved config lacks came after the run was started (an older platelab wrote it): not a change
    changed = [f"{key} {_short(saved.get(key))} -> {_short(config.get(key))}"
               for key in sorted(saved)
               if key not in RESUMABLE_CHANGES and saved.get(key) != config.get(key)]
    if changed:
        # a run's schedule (its rate's warm-up and decay) is laid out over its length, so a longer run is a new one
        longer = any(saved.get(key) != config.get(key) for key in ("epochs", "steps") if key in saved)
        start_from = f"finetune --from {out}" if saved.get("task") == "finetune" else f"init_from: {out / CHECKPOINT}"
        further = f" (to train it further, start a new folder from it: {start_from})" if longer else ""
        raise ValueError(f"{out}: cannot resume with another config ({'; '.join(changed)}); resume with the run's "
                         f"own ({out / CONFIG}) or start a new folder{further}")
    run_style_files(out, saved.get("styles") or [])  # refuses a style file neither there nor kept as recorded


class RunInUse(ValueError):
    """A run folder another run is writing."""


# Descriptors of the lock files this process holds. A forked child (a DataLoader worker) shares each one's open file,
# and with it the flock: after a kill -9 of the run its workers would hold the folder until they noticed (about 5 s).
# Each child closes its copies as it starts, so the lock is the run's own.
_HELD_LOCKS: set[int] = set()


def _let_go_in_child() -> None:
    for descriptor in _HELD_LOCKS:
        os.close(descriptor)
    _HELD_LOCKS.clear()


if hasattr(os, "register_at_fork"):  # no fork on Windows
    os.register_at_fork(after_in_child=_let_go_in_child)


@contextmanager
def hold_run_folder(out: Path) -> Iterator[None]:
    """Make out a run folder (created and marked, platelab.io.outputs.claim_folder) and hold it for the block: a
    second run into it is refused (RunInUse) while this one writes, rather than the two interleaving their
    checkpoints and logs. The lock is flock's on RUN_LOCK inside, which the system lets go when the process ends,
    so a killed run leaves nothing to remove; the processes it forks (its loader's workers) let go of it as they
    start (_HELD_LOCKS). Where there is no flock (Windows) the folder is claimed but not held."""
    claim_folder(out, RUN_MARKER_KIND, RUN_FILES)
    descriptor, owner = _open_lock(out, os.O_RDWR | os.O_CREAT), os.getpid()
    try:
        _lock(descriptor, out)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{owner}\n".encode())
        _HELD_LOCKS.add(descriptor)
        yield
    finally:
        if os.getpid() == owner:  # a forked child that unwinds this closed its copy as it started
            _HELD_LOCKS.discard(descriptor)
            os.close(descriptor)


def run_recipe(out: Path, resume: bool, train: Callable[[], object], export: Path | None,
               export_run: Callable[[Path, Path], object]) -> None:
    """A recipe's run into out, holding its folder (hold_run_folder): its command recorded, train() run, and, where
    export is given, the run written there by export_run(out, export). The caller checks the recipe first, as the
    CLI does, so a mistake writes nothing."""
    from platelab.train.card import record_command  # here, not at the top: card imports this module

    with hold_run_folder(out):
        record_command(out, resume)
        train()
        if export is not None:
            with exporting_trained_run(out, export):
                export_run(out, export)


def check_free(out: Path) -> None:
    """The error hold_run_folder would raise for its lock (RunInUse, or _open_lock's OutputError), taking nothing."""
    try:
        descriptor = _open_lock(out, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        _lock(descriptor, out)  # let go as the file closes
    finally:
        os.close(descriptor)


def _open_lock(out: Path, flags: int) -> int:
    """out's RUN_LOCK opened with flags, never through a link: a run writes its process id into it, and a lock file
    planted as a link to another file would have that file cut to a number. OutputError, one line, for a link (a
    hard one too) or anything but a plain file. Non-blocking, so that a planted pipe is refused, not waited on."""
    path = out / RUN_LOCK
    try:
        descriptor = os.open(path, flags | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno != errno.ENOENT and path.is_symlink():  # O_NOFOLLOW's refusal (ELOOP; EMLINK on some BSDs)
            raise _not_a_lock(path) from None
        raise
    details = os.fstat(descriptor)
    if not stat.S_ISREG(details.st_mode) or details.st_nlink > 1:
        os.close(descriptor)
        raise _not_a_lock(path)
    return descriptor


def _not_a_lock(path: Path) -> OutputError:
    return OutputError(f"{path}: a link or special file, not the lock file a run writes; remove it (it holds "
                       "nothing of the run), or give another folder")


def _lock(descriptor: int, out: Path) -> None:
    if sys.platform == "win32":  # no flock; msvcrt's locks are of byte ranges and break the lock file's rewrite
        return
    import fcntl

    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # read through the descriptor checked, not the path: the file at the path may have been swapped since
        holder = os.pread(descriptor, 32, 0).decode("utf-8", errors="replace").strip()
        by = f" (process {holder})" if holder.isdigit() else ""
        raise RunInUse(f"{out}: in use by another run{by}; wait for it to end, or give another folder") from None


def style_copy(run: Path, file: str, digest: str) -> Path:
    """Where a run keeps its copy of a user style file: STYLE_COPIES/<digest prefix>/<the file's name>. A folder per
    digest keeps the name, which names a style that sets no `name:` (its stem), and keeps two files of one name from
    different folders apart."""
    return run / STYLE_COPIES / digest[:16] / Path(file).name


def _named_style_files(entries: Sequence[str]) -> dict[str, Path]:
    """{file as a run records it (absolute): the file} for the style files the path entries name, as they are now."""
    from platelab.synth.style import user_style_files

    return {str(file.resolve()): file for file in user_style_files(entries)}


def _digest(path: Path) -> str | None:
    """The digest of the style file as a run keeps it (style_bytes); None for one that cannot be read (gone, never
    copied, or extending a file that is gone)."""
    from platelab.synth.style import StyleError, style_bytes, style_digest

    try:
        return style_digest(style_bytes(path))
    except (OSError, StyleError):
        return None


def record_style_files(out: Path, files: Mapping[str, Path]) -> None:
    """Keep a copy of each user style file a run draws in its folder (style_copy) and write their digests beside its
    config (none: no file). files: {file as recorded (its absolute path): where to read its bytes}."""
    from platelab.synth.style import style_bytes, style_digest

    digests = {}
    for file, source in files.items():
        data = style_bytes(source)  # once: the copy is the bytes whose digest is recorded, even if the file is edited
        digests[file] = style_digest(data)
        copy = style_copy(out, file, digests[file])
        copy.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(copy, data)
    if digests:
        atomic_write_text(out / STYLE_FILES, json.dumps(digests, indent=2) + "\n")
    else:
        (out / STYLE_FILES).unlink(missing_ok=True)


def run_style_files(run: Path, entries: Sequence[str], note: bool = False) -> dict[str, Path]:
    """The user's style files the run draws, {file as recorded: where to read it}; entries: the styles of its config.

    Each file the run recorded at its start is read where it is while its bytes are those recorded, else from the
    run's copy, so a run folder moved to another machine exports and resumes with exactly the styles it was trained
    on. A file edited since is read from the copy too, for export and for --resume alike (note: say so in one line):
    a resumed run continues the run its checkpoint holds, and one whose plates changed part-way would be neither the
    run started nor one on the edited style; refusing instead would leave a run on a lent machine no way on but to
    restore an old file, when the run holds that file already. A new run folder trains on the edited file.

    A run that recorded no files draws the entries' files as they are. ValueError, one line naming the file, where
    neither the file nor the copy is as recorded."""
    path = run / STYLE_FILES
    if not path.is_file():
        return _named_style_files(entries)
    recorded: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    copies = {file: style_copy(run, file, digest) for file, digest in recorded.items()}
    files = {}
    for file, digest in recorded.items():
        now = _digest(Path(file))
        if now == digest:
            files[file] = Path(file)
        elif _digest(copies[file]) == digest:
            files[file] = copies[file]
            if note and now is not None:
                tqdm.write(f"{file}: changed since run {run} started; the run draws its copy {copies[file]}, the "
                           "style it was trained on (a new run folder trains on the edited file)", file=sys.stderr)
        else:
            what = "is gone" if now is None else "changed"
            copy_is = "gone" if _digest(copies[file]) is None else "changed"
            raise ValueError(f"{file}: {what} since run {run} started, and the run's copy {copies[file]} is {copy_is} "
                             "too; put the style back as it was, or start a new run folder with it")
    return files


def run_styles(run: Path, entries: Sequence[str], resume: bool = True, note: bool = False) -> list[str]:
    """The style entries a run draws: entries (its config's) with their style paths replaced by the files
    run_style_files reads. A run that does not resume (resume False, or no checkpoint in run) draws entries as
    given: a folder without a checkpoint holds no run whose record counts."""
    if not resumes(run, resume) or not (run / STYLE_FILES).is_file():
        return list(entries)
    from platelab.synth.style import is_style_path

    files = run_style_files(run, entries, note)
    return [e for e in entries if not is_style_path(e)] + [str(f) for f in files.values()]


def resumes(out: Path, resume: bool) -> bool:
    """Whether open_run will continue the run in out from its checkpoint (else the run starts afresh)."""
    return resume and (out / CHECKPOINT).exists()


def _short(value: object, limit: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def open_run(out: Path, config_json: str, model: nn.Module, steps: int, warmup_steps: int, lr: float,
             weight_decay: float, threads: int = 0, resume: bool = False,
             parameters: Iterable[nn.Parameter] | None = None) -> Run:
    """Move model to the device, build AdamW + schedule, restore a checkpoint if asked, write the run's config."""
    if threads:
        torch.set_num_threads(threads)
    single_threaded_opencv()
    run_on = device()
    model.to(run_on)
    optimizer = torch.optim.AdamW(parameters if parameters is not None else model.parameters(), lr=lr,
                                  weight_decay=weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule(steps, warmup_steps))
    run = Run(out, run_on, optimizer, scheduler, 0, 0.0)
    resumed = resumes(out, resume)
    styles = json.loads(config_json).get("styles") or []
    if resumed:  # first: a checkpoint that cannot be resumed leaves the folder as it was
        style_files = run_style_files(out, styles, note=True)
        run.start, run.elapsed, run.extra = restore_training_state(run.checkpoint, model, optimizer, scheduler)
    else:
        style_files = _named_style_files(styles)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / CONFIG, config_json)
    # a resumed run records again what it resumed with: the same digests, and copies a run from before them lacked
    record_style_files(out, style_files)
    for partial in out.glob(f".{Path(CHECKPOINT).stem}.*.tmp{Path(CHECKPOINT).suffix}"):
        partial.unlink(missing_ok=True)  # a checkpoint whose writing was killed half-way
    if resumed:
        _keep_metrics_until(run.metrics, run.start)
    else:
        run.metrics.unlink(missing_ok=True)
    return run


def _logged_step(line: str) -> int | None:
    """The step a log line records; None for a line a kill cut short."""
    try:
        return int(json.loads(line)["step"])
    except (ValueError, KeyError, TypeError):
        return None


def running_mean(previous: float | None, value: float) -> float:
    """The running figure a progress bar shows: value at first (previous None), then a 2% step toward each new one."""
    return value if previous is None else 0.98 * previous + 0.02 * value


def _keep_metrics_until(path: Path, step: int) -> None:
    """Drop the log lines written after the checkpoint a run resumes from: it writes them again."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if (logged := _logged_step(line)) is not None and logged <= step]
    if len(kept) < len(lines):
        atomic_write_text(path, "".join(kept))


def batch_loader(
    batches: IterableDataset[tuple[torch.Tensor, ...]], workers: int, seed: int
) -> DataLoader[tuple[torch.Tensor, ...]]:
    """A loader over pre-batched streams. It draws its workers' base seed from its own generator: from torch's
    global one it would shift the dropout masks of a resumed run away from those of an unbroken run."""
    return DataLoader(
        batches,
        batch_size=None,
        num_workers=workers,
        prefetch_factor=4 if workers else None,
        worker_init_fn=single_threaded_opencv,
        generator=torch.Generator().manual_seed(seed),
    )


def optimizer_step(loss: torch.Tensor, model: nn.Module, run: Run) -> None:
    if not torch.isfinite(loss):
        raise TrainingDiverged(f"{run.out}: the loss became {loss.item()} at step {run.scheduler.last_epoch + 1}: "
                               "training diverged (try a lower lr); the last checkpoint is kept as it was")
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
    nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
    run.optimizer.step()
    run.scheduler.step()
