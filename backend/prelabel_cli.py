"""``groundlabel ls-prelabel``: pre-label a whole Label Studio project through its API.

For projects too large for Label Studio's 100 s /predict timeout: every task is
predicted and posted as soon as it is ready, and a rerun skips what is done.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from groundlabel.backend.serve_cli import add_masks_option, add_tracker_option, require_backend_extra

from groundlabel import interrupts
from groundlabel.cli.bulk_options import add_ray_options, check_ray_options
from groundlabel.cli.options import add_model_options, add_threshold_options, positive_int
from groundlabel.errors import GroundlabelError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ls-prelabel",
        help="pre-label a Label Studio project through its API (no timeouts, resumable)",
        description=(
            "Fetch a project's tasks from Label Studio, predict boxes for its RectangleLabels controls "
            "(and masks for BrushLabels / PolygonLabels with --masks; tracks for VideoRectangle) "
            "and post each prediction as soon as it is ready. Tasks that already hold this model version "
            "are skipped, so a rerun resumes. Uses LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY "
            "(a Personal Access Token or a legacy token)."
        ),
    )
    parser.add_argument("--project", type=positive_int, required=True, help="Label Studio project id")
    add_model_options(parser)
    add_threshold_options(parser, label_studio=True)
    add_masks_option(parser)
    add_tracker_option(parser)
    add_ray_options(parser)
    parser.set_defaults(handler=run)


@contextmanager
def _frames_bar(name: str, total: int | None) -> Iterator[Callable[[int], object]]:
    """A video task's own bar (frames), under the project's bar (tasks)."""
    from groundlabel.progress import progress_bar

    with progress_bar(total, name, unit="frame", leave=False) as bar:
        yield bar.update


def _kept(done: int, total: int | None) -> str:
    of = f" of {total}" if total is not None else ""
    return f"{done}{of} task(s) done; Label Studio holds their predictions and a rerun skips them"


def run(args: argparse.Namespace) -> int:
    require_backend_extra("groundlabel ls-prelabel")
    check_ray_options(args)
    if args.ray:
        from groundlabel.distributed import require_ray

        require_ray("groundlabel ls-prelabel")
    from groundlabel.backend.ls_client import LabelStudioClient
    from groundlabel.backend.prelabel import count_tasks, prelabel_project
    from groundlabel.backend.server import ModelOptions, build_predictor
    from groundlabel.backend.settings import BackendSettings

    from groundlabel.progress import progress_bar

    settings = BackendSettings.from_env()
    if not settings.label_studio_url:
        raise GroundlabelError("LABEL_STUDIO_URL is not set: export LABEL_STUDIO_URL=http://localhost:8080")
    if not settings.api_key:
        raise GroundlabelError(
            "LABEL_STUDIO_API_KEY is not set: copy the Personal Access Token from Label Studio's "
            "Account & Settings and export LABEL_STUDIO_API_KEY=..."
        )
    with LabelStudioClient(settings.label_studio_url, settings.api_key) as client:
        total = count_tasks(client, args.project)  # checks URL, key and project before the model loads
        options = ModelOptions(
            args.model,
            args.device,
            args.dtype,
            args.box_threshold,
            args.text_threshold,
            masks=args.masks,
            tracker=args.tracker,
        )
        if args.ray:
            from groundlabel.backend.prelabel_ray_cli import prelabel_with_ray

            report, version = prelabel_with_ray(args, client, options, settings, total)
        else:
            predictor = build_predictor(options, settings)
            version = predictor.model_version
            try:
                with progress_bar(total, f"project {args.project}", unit="task") as bar:
                    done = [0]  # counted here: a bar off a terminal counts nothing

                    def task_done(_task: int, _outcome: str) -> None:
                        done[0] += 1
                        bar.update(1)

                    interrupts.set_kept(lambda: _kept(done[0], total))
                    report = prelabel_project(
                        client, predictor, args.project, on_task_done=task_done, frames=_frames_bar
                    )
            finally:
                predictor.fetcher.close()
    print(
        f"project {args.project}: {report.predicted} task(s) pre-labelled, {report.skipped} already had "
        f"{version}, {len(report.failed)} failed",
        file=sys.stderr,
    )
    for task_id, reason in report.failed:
        print(f"  task {task_id}: {reason}", file=sys.stderr)
    if report.failed:
        print("  fix these and run the same command again: finished tasks are skipped", file=sys.stderr)
    return 1 if report.failed else 0
