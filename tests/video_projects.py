"""A synthetic clip inside a project folder, tracked by ``groundlabel track`` (ByteTrack on noisy truth).

The video-project tests start from it: the clip must sit in the folder for ``import -f coco-vid``.
"""

from __future__ import annotations

from pathlib import Path

from groundlabel.cli import main
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip


def tracked_clip(
    root: Path, length: int, clip_seed: int, detection_seed: int, drop: float = 0.1
) -> tuple[Path, Path]:
    """(project folder holding clip.mp4, its tracks.json beside the folder)."""
    folder = root / "project"
    folder.mkdir()
    clip = standard_clip(length=length, seed=clip_seed)
    write_clip(clip, folder / "clip.mp4")
    detections = root / "det.txt"
    detections.write_text("\n".join(noisy_detections(clip, seed=detection_seed, drop=drop)) + "\n")
    tracks = root / "tracks.json"
    command = ["track", str(folder / "clip.mp4"), "--detections", str(detections), "-l", "square, disc"]
    assert main([*command, "-o", str(tracks)]) == 0
    return folder, tracks
