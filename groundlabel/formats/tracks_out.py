"""Which tracks writer an output gets: ``--format``, else the suffix of ``-o``."""

from __future__ import annotations

from pathlib import Path

from groundlabel.atomic import write_json_atomic
from groundlabel.errors import GroundlabelError
from groundlabel.formats.names import TRACK_FORMATS
from groundlabel.tracks import TrackSet


def track_format(output: str, format_name: str | None) -> str:
    """``.json`` is COCO-VID unless ``--format youtube-vis``; ``.xml`` is CVAT for video 1.1;
    ``.txt`` or a folder is MOT unless ``--format cvat-video`` (one XML per video)."""
    if format_name:
        if format_name not in TRACK_FORMATS:
            raise GroundlabelError(f"--format {format_name!r}: not one of {', '.join(TRACK_FORMATS)}")
        if format_name in ("coco-vid", "youtube-vis", "label-studio") and not output.lower().endswith(
            ".json"
        ):
            raise GroundlabelError(f"--format {format_name} writes JSON: give -o FILE.json")
        if format_name == "cvat-video" and output.lower().endswith((".json", ".txt")):
            raise GroundlabelError("--format cvat-video writes XML: give -o FILE.xml (one video) or a folder")
        return format_name
    lowered = output.lower()
    if lowered.endswith(".json"):
        return "coco-vid"
    if lowered.endswith(".xml"):
        return "cvat-video"
    if lowered.endswith(".txt") or output.endswith(("/", "\\")) or Path(output).is_dir():
        return "mot"
    raise GroundlabelError(
        f"-o {output}: say the format: FILE.json (COCO-VID, or --format youtube-vis), FILE.xml (CVAT video), "
        "FILE.txt or DIR/ (MOT)"
    )


def write_tracks(tracks: TrackSet, output: str, format_name: str, url_prefix: str = "") -> list[Path]:
    """Write atomically (each file is replaced whole), so an interrupted run leaves a readable file.

    ``url_prefix`` goes before each video's name in Label Studio tasks (``/data/local-files/?d=``).
    """
    out = Path(output)
    if format_name == "mot":
        from groundlabel.formats.tracks_mot import write_mot

        return write_mot(tracks, out)
    if format_name == "cvat-video":
        from groundlabel.formats.tracks_cvat import write_cvat_video

        return write_cvat_video(tracks, out)
    if format_name == "label-studio":
        from groundlabel.formats.tracks_labelstudio import build_ls_video_tasks

        write_json_atomic(out, build_ls_video_tasks(tracks, url_prefix))
        return [out]
    if format_name == "youtube-vis":
        from groundlabel.formats.tracks_ytvis import build_ytvis

        write_json_atomic(out, build_ytvis(tracks))
    else:
        from groundlabel.formats.tracks_cocovid import build_cocovid

        write_json_atomic(out, build_cocovid(tracks))
    return [out]
