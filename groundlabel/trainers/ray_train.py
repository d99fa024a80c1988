"""``train --ray --workers N``: the same loop, data-parallel on Ray Train's ``TorchTrainer``.

Every worker builds the same model from the same seed, Ray Train wraps it in
DistributedDataParallel (gloo on CPU, NCCL with one GPU per worker), and each takes its
share of every epoch's batches (``Hooks.shard``), so gradients are averaged over N times
the batch. Rank 0 evaluates, keeps the best model and writes the checkpoint, so MODEL_DIR
and ``--resume`` are exactly as without Ray. Errors a user can fix are found on the driver
before any worker starts.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from groundlabel.errors import GroundlabelError
from groundlabel.trainers.loop import TrainOptions, TrainResult


def _worker_loop(config: dict[str, Any]) -> None:
    import ray.train
    import ray.train.torch

    from groundlabel.trainers.loop import Hooks, train

    context = ray.train.get_context()
    options = TrainOptions(**config["options"])
    options.device = str(ray.train.torch.get_device())

    def wrap(model: Any) -> Any:
        # RT-DETR's denoising and auxiliary heads leave some parameters without a gradient in a step.
        return ray.train.torch.prepare_model(
            model, move_to_device=False, parallel_strategy_kwargs={"find_unused_parameters": True}
        )

    shard = (context.get_world_rank(), context.get_world_size())
    train(options, Hooks(shard=shard, wrap=wrap, show_progress=False, output_checked=True))


def _raise_user_error(exc: BaseException) -> None:
    """A worker's ``GroundlabelError`` (wrapped by Ray Train) as the one line it is."""
    failures = getattr(exc, "worker_failures", None) or {}
    for error in [*failures.values(), exc.__cause__]:
        if isinstance(error, GroundlabelError):
            raise type(error)(str(error)) from None
    marker = "groundlabel.errors.GroundlabelError: "
    text = str(exc)
    if marker in text:
        raise GroundlabelError(text.split(marker, 1)[1].strip().splitlines()[0]) from None


def train_on_ray(options: TrainOptions, workers: int, address: str | None = None) -> TrainResult:
    """Train with ``workers`` Ray Train workers; the result is read back from MODEL_DIR."""
    import json

    import torch

    from groundlabel.distributed.session import ray_session
    from groundlabel.trainers.checkpoint import METRICS
    from groundlabel.trainers.data import training_data
    from groundlabel.trainers.loop import EpochRecord, _check_output

    try:
        from ray.train import RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError:
        raise GroundlabelError("--ray needs Ray Train: pip install 'ray[train]'") from None
    _check_output(options)
    data = training_data(  # the user's errors, here
        options.folder, options.split, options.seed, options.split_by, options.chunk_frames
    )
    if len(data.train) < workers:
        raise GroundlabelError(
            f"{len(data.train)} train image(s) cannot feed {workers} workers; use fewer --workers"
        )
    use_gpu = torch.cuda.is_available() and options.device != "cpu"
    output = Path(options.output).absolute()
    plain = {k: str(v) if isinstance(v, Path) else v for k, v in dataclasses.asdict(options).items()}
    plain.update(folder=str(Path(options.folder).absolute()), output=str(output))
    run_dir = output / "checkpoint" / "ray"
    run_dir.mkdir(parents=True, exist_ok=True)
    with ray_session(address):
        os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
        trainer = TorchTrainer(
            _worker_loop,
            train_loop_config={"options": plain},
            scaling_config=ScalingConfig(num_workers=workers, use_gpu=use_gpu),
            torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
            run_config=RunConfig(storage_path=str(run_dir), name="train"),
        )
        try:
            trainer.fit()
        except Exception as exc:  # Ray wraps a worker's error in its own type
            _raise_user_error(exc)
            raise
    metrics = json.loads((output / METRICS).read_text())
    history = [EpochRecord(**r) for r in metrics["history"]]
    return TrainResult(output, metrics["classes"], history, metrics["best_epoch"], metrics["per_class"])
