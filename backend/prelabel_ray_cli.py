"""The ``--ray`` branch of ``groundlabel ls-prelabel``: checks, version, progress, then ``prelabel_ray``."""

from __future__ import annotations

import argparse

from groundlabel.backend.ls_client import LabelStudioClient
from groundlabel.backend.model_version import model_version
from groundlabel.backend.prelabel import PrelabelReport
from groundlabel.backend.prelabel_ray import PrelabelJob, run_prelabel_on_ray
from groundlabel.backend.server import ModelOptions
from groundlabel.backend.settings import BackendSettings

from groundlabel.detector import DetectionSettings
from groundlabel.model_loading import checkpoint_family
from groundlabel.progress import progress_bar


def actors_model_version(options: ModelOptions) -> str:
    """The version each actor's predictor posts (``Predictor.model_version``), without loading the model.

    Family and checkpoint, thresholds, per-class thresholds, the mask model: a different one
    here would make a rerun re-predict every task instead of resuming."""
    record = f"{checkpoint_family(options.model)}:{options.model}"
    thresholds = options.class_thresholds.fingerprint() if options.class_thresholds else ""
    mask_record = ""
    if options.masks:  # ``Segmenter.model_record``: the adapter's family is the config's model_type
        from groundlabel.segmenters.loading import read_config

        mask_record = f"{read_config(options.masks).get('model_type', '')}:{options.masks}"
    settings = DetectionSettings(options.box_threshold, options.text_threshold)
    return model_version(record, settings, thresholds, mask_record)


def prelabel_with_ray(
    args: argparse.Namespace,
    client: LabelStudioClient,
    options: ModelOptions,
    settings: BackendSettings,
    total: int | None,
) -> tuple[PrelabelReport, str]:
    """The report and the model version, the same one ``serve`` and the plain path would use."""
    from groundlabel.backend.label_config import parse_targets

    from groundlabel.cli.detect_bulk import check_model

    check_model(options.model)  # one line before Ray starts, not an actor's traceback
    project = client.get_project(args.project)
    parse_targets(project.get("label_config", ""))  # a config without boxes fails here, once
    version = actors_model_version(options)
    job = PrelabelJob(options, settings, project.get("label_config", ""), args.threads_per_worker)
    with progress_bar(total, f"project {args.project} on ray", unit="task") as bar:
        from groundlabel.backend.prelabel_cli import _kept

        from groundlabel import interrupts

        done = [0]  # counted here: a bar off a terminal counts nothing

        def progress() -> None:
            done[0] += 1
            bar.update(1)

        interrupts.set_kept(lambda: _kept(done[0], total))
        report = run_prelabel_on_ray(
            client,
            args.project,
            job,
            version,
            args.address,
            args.workers,
            args.gpus_per_worker or 0.0,
            progress,
        )
    return report, version
