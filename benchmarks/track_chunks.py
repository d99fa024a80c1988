"""How far ``track --ray --chunk-frames N --chunk-overlap K`` is from the unchunked run.

    python -m benchmarks.track_chunks [--seeds 5] [--configs 20:10,16:9,14:6,12:4]

On the known-answer clips (``groundlabel.devtools.synthetic_video.standard_clip``, 30 frames,
seeds 0..S-1, the noisy detections of ``tests/test_track_known_answer.py``), ByteTrack tracks
each clip whole and in chunks, each chunk on a fresh tracker as a Ray task runs it (the same
``track_video``; Ray itself is left out, its per-task output being the local one), and the
chunks are stitched by ``groundlabel.track_chunks.stitch``. Per configuration: how many clips
come out exactly equal (every box, id, score, interpolation flag), how many boxes differ when
ids are ignored, and how many tracks the stitched clips have beyond the unchunked ones (splits).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip
from groundlabel.track_chunks import chunk_selections, stitch
from groundlabel.tracking import TrackJob, boxes_source, new_video_tracks, track_video, trackers
from groundlabel.tracks import VideoTracks
from groundlabel.video import FrameSelection, Video


def _track(video: Video, job: TrackJob, selection: FrameSelection) -> VideoTracks:
    out = new_video_tracks(video.name, video)
    track_video(video, selection, boxes_source(job), trackers(job)(), out)
    return out


def _boxes(tracks: VideoTracks, with_ids: bool) -> set[tuple]:
    return {
        (b.frame_index, b.track_id if with_ids else 0, b.label, b.xyxy, b.score, b.interpolated)
        for b in tracks.boxes()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--configs", default="20:10,16:9,14:6,12:4", help="N:K pairs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clips = []
        for seed in range(args.seeds):
            clip = standard_clip(seed=seed)
            detections = Path(tmp) / f"det{seed}.txt"
            detections.write_text("\n".join(noisy_detections(clip, seed=seed)) + "\n")
            video = Video.open(write_clip(clip, Path(tmp) / f"clip{seed}.mp4"))
            job = TrackJob(("square", "disc"), detections=str(detections))
            clips.append((video, job, _track(video, job, FrameSelection())))
        print(
            "| --chunk-frames : --chunk-overlap | chunks | clips equal | boxes differing (ids ignored) | extra tracks |"
        )
        print("|---|---|---|---|---|")
        for config in args.configs.split(","):
            n, k = (int(v) for v in config.split(":"))
            equal = differing = extra = chunks = total = 0
            for video, job, whole in clips:
                parts = chunk_selections(FrameSelection(), video.info.frame_count, n, k)
                stitched = stitch([_track(video, job, s) for s in parts])
                chunks = len(parts)
                equal += _boxes(whole, True) == _boxes(stitched, True)
                differing += len(_boxes(whole, False) ^ _boxes(stitched, False))
                extra += len(stitched.tracks()) - len(whole.tracks())
                total += len(whole.boxes())
            print(f"| {n}:{k} | {chunks} | {equal}/{len(clips)} | {differing} of {total} | {extra} |")


if __name__ == "__main__":
    main()
