"""The training loop ``groundlabel train``, the desktop and Ray workers share.

Per epoch: shuffled, augmented batches through the model's own loss (AdamW, warm-up then
cosine, gradients clipped as RT-DETR trains; bf16 autocast on CUDA, and on
CPUs with bf16 units when asked, tuned as ``cpu_tuning`` says), then COCOeval on val.
The best epoch (mAP, then mAP@0.5) is saved as the model; every epoch ends with a checkpoint,
the metrics file and the HTML report. Ctrl+C (or the desktop's stop event) saves a
checkpoint and raises ``TrainingInterrupted`` (exit 130); ``resume=True`` continues from it
with the same random state. With ``shard=(rank, world)`` a worker trains on its share of each
epoch's batches and only rank 0 evaluates and writes (``ray_train``).
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from groundlabel.atomic import write_json_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.precision import training_autocast
from groundlabel.trainers import DEFAULT_ARCH, architecture
from groundlabel.trainers.augment import NO_AUGMENTATION, Augmentation
from groundlabel.trainers.batches import ImageCache, batch_inputs, epoch_batches
from groundlabel.trainers.checkpoint import METRICS, last_checkpoint, load_state, save_model, save_state
from groundlabel.trainers.cpu_tuning import tune_cpu_training
from groundlabel.trainers.data import DEFAULT_TRAIN_SPLIT, TrainingData, training_data
from groundlabel.trainers.evaluate import Evaluation, evaluate

#: RT-DETR's recipe: gradients clipped to this norm.
CLIP_NORM = 0.1


class TrainingInterrupted(GroundlabelError):
    """Ctrl+C or Stop: the checkpoint is saved and ``--resume`` continues."""

    exit_code = 130


@dataclass
class TrainOptions:
    folder: Path
    output: Path
    arch: str = DEFAULT_ARCH
    start: str | None = None  # hub id or folder; None: the architecture's default checkpoint
    from_scratch: bool = False
    config_file: Path | None = None  # architecture config (JSON) for from_scratch
    epochs: int = 50
    image_size: int | None = None  # None: the start's processor size (640 for new models)
    batch_size: int = 8
    lr: float | None = None  # None: 1e-4 from a checkpoint, 1e-3 from scratch
    device: str = "auto"
    split: str = DEFAULT_TRAIN_SPLIT
    seed: int = 0
    split_by: str = "auto"  # a video's frames: by whole video or by chunks (``export --split-by``)
    chunk_frames: int | None = None
    resume: bool = False
    augment: bool = True
    dtype: str = "fp32"  # bf16: autocast on CPUs with bf16 units (groundlabel.precision); CUDA is always bf16


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    map: float | None
    map50: float | None
    seconds: float


@dataclass
class TrainResult:
    output: Path
    classes: list[str]
    history: list[EpochRecord]
    best_epoch: int | None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def best(self) -> EpochRecord | None:
        return next((r for r in self.history if r.epoch == self.best_epoch), None)


@dataclass
class Hooks:
    """Ways in: per-step and per-epoch callbacks (the desktop's progress), a stop event, a Ray shard."""

    on_step: Callable[[int, int, float], None] | None = None  # (batch done, batches, running loss)
    on_epoch: Callable[[EpochRecord], None] | None = None
    stop: threading.Event | None = None
    shard: tuple[int, int] = (0, 1)  # (rank, world size)
    wrap: Callable[[torch.nn.Module], torch.nn.Module] | None = None  # e.g. Ray Train's prepare_model
    show_progress: bool = True
    output_checked: bool = False  # the caller (the Ray driver) has checked -o already

    @property
    def main(self) -> bool:
        return self.shard[0] == 0


def _epoch_bar(hooks: Hooks, total: int, description: str) -> Any:
    """The epoch's tqdm bar on a terminal (rank 0 only); a silent one otherwise."""
    from tqdm import tqdm

    from groundlabel.progress import progress_bar

    if hooks.show_progress and hooks.main:
        return progress_bar(total, description, unit="batch")
    return tqdm(total=total, disable=True)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _schedule(total_steps: int) -> Callable[[int], float]:
    warmup = max(1, min(100, total_steps // 10))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _check_output(options: TrainOptions) -> None:
    out = Path(options.output)
    if options.resume:
        if not last_checkpoint(out).is_file():
            raise GroundlabelError(f"{out}: no training checkpoint to resume; run without --resume to start")
        return
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        hint = "pass --resume to continue it, or " if last_checkpoint(out).is_file() else ""
        raise GroundlabelError(f"{out} already exists and is not empty; {hint}choose another -o")


def _build(options: TrainOptions, data: TrainingData, state: dict | None) -> tuple[torch.nn.Module, Any]:
    from groundlabel.trainers.model_setup import (
        new_processor,
        pretrained_model,
        processor_for,
        scratch_model,
    )

    arch = architecture(options.arch)
    if state is not None:
        config = arch.config_type().from_dict(state["config"])
        model = arch.model_type_class()(config)
        model.load_state_dict(state["model"])
        from transformers import RTDetrImageProcessorPil

        return model, RTDetrImageProcessorPil.from_dict(state["processor"])
    if options.from_scratch:
        return scratch_model(arch, data.classes, options.config_file), new_processor(
            options.image_size or 640
        )
    model, processor = pretrained_model(arch, data.classes, options.start or arch.default_checkpoint)
    return model, processor_for(processor, options.image_size)


def _optimizer(model: torch.nn.Module, lr: float, pretrained: bool) -> torch.optim.Optimizer:
    """AdamW; a pretrained backbone learns ten times slower than the new head (RT-DETR's recipe)."""
    backbone, rest = [], []
    for name, parameter in model.named_parameters():
        if parameter.requires_grad:
            (backbone if pretrained and ".backbone." in f".{name}" else rest).append(parameter)
    groups = [{"params": rest, "lr": lr}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * 0.1})
    return torch.optim.AdamW(groups, lr=lr, weight_decay=1e-4)


def _record_in_project(options: TrainOptions, result: TrainResult) -> None:
    """The project remembers its trainings, so ``groundlabel report`` can show their curves."""
    import json

    from groundlabel.project.store import PROJECT_DIR

    path = Path(options.folder) / PROJECT_DIR / "trainings.json"
    try:
        known = json.loads(path.read_text()) if path.is_file() else []
    except (OSError, ValueError):
        known = []
    output = str(Path(options.output).absolute())
    known = [k for k in known if isinstance(k, dict) and k.get("model_dir") != output]
    known.append({"model_dir": output, "arch": options.arch, "finished": time.strftime("%Y-%m-%dT%H:%M:%S")})
    write_json_atomic(path, known)


def train(options: TrainOptions, hooks: Hooks | None = None) -> TrainResult:
    """Train on the reviewed images of ``options.folder``; the model and report land in ``options.output``."""
    from groundlabel.model_loading import resolve_device
    from groundlabel.trainers.report import write_report

    hooks = hooks or Hooks()
    if options.epochs < 1 or options.batch_size < 1:
        raise GroundlabelError("--epochs and --batch-size must be at least 1")
    arch = architecture(options.arch)
    if options.image_size is not None and (
        options.image_size < 32 or options.image_size % arch.size_multiple
    ):
        raise GroundlabelError(
            f"--image-size must be a multiple of {arch.size_multiple} (got {options.image_size})"
        )
    if hooks.main and not hooks.output_checked:
        _check_output(options)
    device = resolve_device(options.device)
    data = training_data(options.folder, options.split, options.seed, options.split_by, options.chunk_frames)
    state = load_state(Path(options.output)) if options.resume else None
    if state is not None and state["classes"] != data.classes:
        raise GroundlabelError(
            f"{options.output}: the checkpoint was trained on {', '.join(state['classes'])}, the project now has "
            f"{', '.join(data.classes)}; start a new training with another -o"
        )
    if state is None:
        _seed_everything(options.seed)
    model, processor = _build(options, data, state)
    model.to(device).train()
    pretrained = (not options.from_scratch and state is None) or (state or {}).get("pretrained", False)
    lr = options.lr or (1e-4 if pretrained else 1e-3)
    trained = hooks.wrap(model) if hooks.wrap else model
    optimizer = _optimizer(model, lr, pretrained)
    rank, world = hooks.shard
    steps_per_epoch = max(1, math.ceil(len(data.train) // world / options.batch_size))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps_per_epoch * options.epochs))
    history: list[EpochRecord] = []
    best_epoch, best_key, per_class = None, (-1.0, -1.0), {}
    first = 1
    if state is not None:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history = [EpochRecord(**r) for r in state["history"]]
        best_epoch, per_class = state["best_epoch"], state["per_class"]
        best_key = tuple(state["best_key"])
        first = state["epoch"] + 1
    rng = random.Random(options.seed) if state is None else state["loader_random"]
    augmentation = Augmentation() if options.augment else NO_AUGMENTATION
    cache = ImageCache()
    autocast = training_autocast(device.type, options.dtype)
    layout = tune_cpu_training(model, device, options.dtype)

    def checkpoint_state(done: int) -> dict[str, Any]:
        return {
            "epoch": done,
            "classes": data.classes,
            "arch": options.arch,
            "pretrained": pretrained,
            "config": model.config.to_dict(),
            "processor": processor.to_dict(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "history": [asdict(r) for r in history],
            "best_epoch": best_epoch,
            "best_key": list(best_key),
            "per_class": per_class,
            "loader_random": rng,
        }

    def result() -> TrainResult:
        return TrainResult(Path(options.output), data.classes, history, best_epoch, per_class)

    def write_metrics(with_report: bool = False) -> None:
        document = {
            "arch": options.arch,
            "classes": data.classes,
            "train_images": len(data.train),
            "val_images": len(data.val),
            "best_epoch": best_epoch,
            "per_class": per_class,
            "history": [asdict(r) for r in history],
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()},
        }
        write_json_atomic(Path(options.output) / METRICS, document)
        if with_report:  # plots cost a second or two: at the end, and when interrupted
            write_report(Path(options.output), result())

    epoch = first
    try:
        for epoch in range(first, options.epochs + 1):
            started = time.perf_counter()
            order = list(epoch_batches(data.train, options.batch_size * world, rng))
            batches = [b[rank::world] for b in order if len(b) >= world]
            total, running = 0.0, 0.0
            with _epoch_bar(hooks, len(batches), f"epoch {epoch}/{options.epochs}") as bar:
                if history and history[-1].map50 is not None:
                    bar.set_postfix(loss="-", mAP50=f"{history[-1].map50:.3f}")
                for step, batch in enumerate(batches, start=1):
                    if hooks.stop is not None and hooks.stop.is_set():
                        raise KeyboardInterrupt
                    pixels, labels = batch_inputs(batch, processor, rng, augmentation, cache)
                    labels = [{k: v.to(device) for k, v in t.items()} for t in labels]
                    with autocast:
                        loss = trained(
                            pixel_values=pixels.to(device, memory_format=layout), labels=labels
                        ).loss
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
                    optimizer.step()
                    scheduler.step()
                    total += float(loss.detach())
                    running = total / step
                    bar.update(1)
                    last = f"{history[-1].map50:.3f}" if history and history[-1].map50 is not None else "-"
                    bar.set_postfix(loss=f"{running:.3f}", mAP50=last)
                    if hooks.on_step:
                        hooks.on_step(step, len(batches), running)
            if not hooks.main:
                continue
            evaluation: Evaluation | None = None
            if data.val:
                evaluation = evaluate(
                    model, processor, data.val, data.classes, device, options.batch_size, cache
                )
            record = EpochRecord(
                epoch,
                running,
                None if evaluation is None else evaluation.map,
                None if evaluation is None else evaluation.map50,
                time.perf_counter() - started,
            )
            history.append(record)
            key = (evaluation.map, evaluation.map50) if evaluation else (float(epoch), 0.0)
            if key > best_key:
                best_key, best_epoch = key, epoch
                per_class = evaluation.per_class if evaluation else {}
                save_model(model, processor, Path(options.output))
            save_state(Path(options.output), checkpoint_state(epoch))
            write_metrics()
            if hooks.on_epoch:
                hooks.on_epoch(record)
    except KeyboardInterrupt:
        if hooks.main:
            done = history[-1].epoch if history else first - 1
            save_state(Path(options.output), checkpoint_state(done))
            if history:
                write_metrics(with_report=True)
        raise TrainingInterrupted(
            f"interrupted in epoch {epoch}; checkpoint saved in {options.output}: run the same command "
            "with --resume to continue"
        ) from None
    if hooks.main:
        write_metrics(with_report=True)
        _record_in_project(options, result())
    return result()
