"""Peak memory of ``groundlabel track`` on a long 1080p clip: flat in clip length.

    python -m benchmarks.track_memory [--lengths 150,600] [--width 1920 --height 1080]

A synthetic 1920x1080 H.264 clip (``groundlabel.devtools.synthetic_video``: moving shapes,
an occluding bar) is written at each length, and ``groundlabel track`` runs on it in a
fresh process whose peak resident memory (``ru_maxrss`` of the child) is the figure:

- **ByteTrack** on the clip's noisy ground truth (``--detections``): decoding, association
  and the COCO-VID writer;
- **SAM 2.1** (``--tracker``, a tiny random checkpoint: the session state per frame is the
  model's, the pruning is the same at any size), new objects from the detections on every
  10th frame (``--detect-every 10``), a mask per object per frame.

If frames or session state were kept, the peak would grow with the clip (a 1080p RGB frame
is 6.2 MB; 600 of them 3.7 GB); flat means they stream. What still grows is the output
itself, held until it is written: boxes, and the masks' RLE. Random weights make every mask
noise, whose RLE is tens of kB (a real object's is one or two), so the table also gives the
size of the written COCO-VID file.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from groundlabel.devtools.random_trackers import save_random_video_tracker
from groundlabel.devtools.synthetic_video import noisy_detections, standard_clip, write_clip

PEAK = (
    "import resource, subprocess, sys; "
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode; "
    "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_mib(command: list[str]) -> tuple[float, float]:
    """(peak RSS in MiB of ``command`` run in its own process, seconds it took)."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", PEAK, *command], capture_output=True, text=True, check=True)
    code, kib = out.stdout.split()
    if code != "0":
        raise SystemExit(f"{' '.join(command)} exited {code}")
    return int(kib) / 1024, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="150,600")
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tracker = save_random_video_tracker(root / "sam2-video")
        print(f"clip: {args.width}x{args.height} H.264, synthetic shapes; peak RSS of the track process")
        print(
            "| frames | ByteTrack (MiB) | s | SAM 2.1 tiny, --detect-every 10 (MiB) | s | its output (MiB) |"
        )
        print("|---|---|---|---|---|---|")
        for length in (int(n) for n in args.lengths.split(",")):
            clip = standard_clip(args.width, args.height, length=length, seed=1)
            video = write_clip(clip, root / f"clip{length}.mp4")
            det = root / f"det{length}.txt"
            det.write_text("\n".join(noisy_detections(clip, seed=1)) + "\n")
            base = ["groundlabel", "-q", "track", str(video), "--detections", str(det), "-l", "square, disc"]
            byte, byte_s = peak_mib([*base, "-o", str(root / "b.json")])
            sam, sam_s = peak_mib(
                [
                    *base,
                    "--tracker",
                    str(tracker),
                    "--detect-every",
                    "10",
                    "--device",
                    "cpu",
                    "-o",
                    str(root / "s.json"),
                ]
            )
            output = (root / "s.json").stat().st_size / 2**20
            print(f"| {length} | {byte:.0f} | {byte_s:.0f} | {sam:.0f} | {sam_s:.0f} | {output:.0f} |")


if __name__ == "__main__":
    main()
