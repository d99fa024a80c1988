"""SAM 3 video as detector and tracker (``groundlabel.trackers.sam3_video``).

Fidelity: on tiny random ``Sam3VideoModel`` checkpoints and a 10-frame synthetic clip, every
object's mask on every frame equals transformers' offline reference (``Sam3VideoProcessor``,
``init_video_session`` with the whole clip, ``propagate_in_video_iterator``,
``postprocess_outputs``, run in the readers venv) pixel for pixel, with boxes and scores within
1e-4 and the same ids and phrases. Two scenes: "follow" (the tracker keeps its two objects;
the hot start removes 21 duplicates on frame 1; the detector re-anchors both every 2nd frame,
so old conditioning frames get pruned to their pointer) and "churn" (the tracker loses every
object at once, so the detector starts new ones on every frame and the hot start removes
most). Then: the session stays bounded, the vision encoder runs once a frame for all phrases,
lost objects are dropped with ``max_lost``, and ``groundlabel track --model CHECKPOINT``
writes masks that pycocotools decodes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.devtools.random_sam3_video import TINY_MAX_COND_FRAMES, TINY_VIDEO, save_random_sam3_video
from groundlabel.devtools.synthetic_video import standard_clip, write_frames_folder
from groundlabel.labels import LabelSet
from groundlabel.trackers.sam3_video import Sam3VideoTrackers
from groundlabel.trackers.sam3_video_session import held, memory_window

SCRIPT = Path(__file__).parent / "readers" / "sam3_video_reference.py"
FRAMES, WIDTH, HEIGHT = 10, 160, 120
CHURN_FRAMES = 5  # every frame adds about 17 objects, which the unpruned reference follows to the end
PHRASES = ["square", "disc"]
NOTHING = (np.zeros((0, 4)), np.zeros(0), [])


def _run(tracker, frames, after_each=None):
    """Feed the clip; boxes by (frame, track id)."""
    out = {}
    for position, frame in enumerate(frames):
        for box in tracker.update(position, *NOTHING, image=frame):
            out[(box.frame_index, box.track_id)] = box
        if after_each:
            after_each(tracker)
    for box in tracker.finish():
        out[(box.frame_index, box.track_id)] = box
    return out


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("sam3-video")
    write_frames_folder(standard_clip(WIDTH, HEIGHT, length=FRAMES), root / "frames")
    paths = sorted((root / "frames").iterdir())
    (root / "short").mkdir()
    for path in paths[:CHURN_FRAMES]:
        (root / "short" / path.name).write_bytes(path.read_bytes())
    frames = [Image.open(p).convert("RGB") for p in paths]
    checkpoints = {
        "follow": save_random_sam3_video(root / "follow"),
        "churn": save_random_sam3_video(root / "churn", visible=0.0),
    }
    factories = {
        name: Sam3VideoTrackers(str(path), "cpu", LabelSet.parse(", ".join(PHRASES)))
        for name, path in checkpoints.items()
    }
    return root, checkpoints, factories, frames


@pytest.fixture(scope="module")
def ours(scene):
    _, _, factories, frames = scene
    runs, held_by, raw = {}, {}, {}
    for name, factory in factories.items():
        tracker = factory()
        held_by[name], raw[name] = [], []

        # the model's own output of each frame, as it leaves the model
        hook = factory.network.register_forward_hook(lambda _m, _i, out, n=name: raw[n].append(out))
        clip = frames if name == "follow" else frames[:CHURN_FRAMES]
        try:
            runs[name] = (tracker, _run(tracker, clip, lambda t, n=name: held_by[n].append(held(t.session))))
        finally:
            hook.remove()
    return runs, held_by, raw


@pytest.fixture(scope="module")
def reference(scene, readers_venv):
    root, checkpoints, _, _ = scene
    jobs = [
        {"checkpoint": str(path), "frames": str(root / ("frames" if name == "follow" else "short")),
         "phrases": PHRASES, "out": str(root / f"{name}.npz")}
        for name, path in checkpoints.items()
    ]  # fmt: skip
    (root / "jobs.json").write_text(json.dumps(jobs))
    run = subprocess.run(
        [str(readers_venv), str(SCRIPT), str(root / "jobs.json")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=root,
        env={**os.environ, "HOME": str(root), "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip  (offline: the kernels library would look for its hub kernel for half a minute)
    assert "SAM3-VIDEO-REFERENCE-OK Sam3VideoProcessor 10" in run.stdout, (
        run.stdout[-3000:] + run.stderr[-3000:]
    )
    assert f"SAM3-VIDEO-REFERENCE-OK Sam3VideoProcessor {CHURN_FRAMES}" in run.stdout, (
        run.stdout[-3000:] + run.stderr[-3000:]
    )
    return {name: dict(np.load(root / f"{name}.npz")) for name in checkpoints}


@pytest.mark.slow  # the reference runs in the readers venv
def test_masks_boxes_scores_equal_transformers_offline_reference(scene, ours, reference):
    _, _, factories, frames = scene
    runs, _, _ = ours
    pixels = factories["follow"].inputs.preprocessing(frames[4])[0].numpy()
    assert np.array_equal(pixels, reference["follow"]["pixels_4"])
    compared = {}
    for name, (_, boxes) in runs.items():
        ref = reference[name]
        compared[name] = 0
        for position in range(FRAMES if name == "follow" else CHURN_FRAMES):
            ids = ref[f"ids_{position}"].tolist()
            assert sorted(k[1] - 1 for k in boxes if k[0] == position) == ids, (name, position)
            for j, obj_id in enumerate(ids):
                box = boxes[(position, obj_id + 1)]
                assert np.array_equal(mask_codec.decode(box.mask), ref[f"masks_{position}"][j]), (
                    name,
                    position,
                )
                assert np.allclose(box.xyxy, ref[f"boxes_{position}"][j], atol=1e-4, rtol=0)
                assert abs(box.score - ref[f"scores_{position}"][j]) <= 1e-4
                assert box.label == ref[f"phrases_{position}"][j]
                compared[name] += 1
    # The model's raw outputs too (mask logits before the threshold, tracker scores), which a
    # pruned memory would change even where the thresholded masks do not.
    for name, outputs in ours[2].items():
        ref = reference[name]
        for position, output in enumerate(outputs):
            raw = sorted(output.obj_id_to_mask)
            assert raw == ref[f"raw_ids_{position}"].tolist(), (name, position)
            if raw:
                logits = np.concatenate([output.obj_id_to_mask[i].float().numpy() for i in raw])
                assert np.allclose(logits, ref[f"logits_{position}"], atol=1e-4, rtol=0), (name, position)
            tracker_scores = [output.obj_id_to_tracker_score.get(i, 0.0) for i in raw]
            assert np.allclose(tracker_scores, ref[f"tracker_{position}"], atol=1e-4, rtol=0), (
                name,
                position,
            )
    # follow: two objects (one per phrase) on every frame; churn: new objects on every frame
    assert compared["follow"] == 2 * FRAMES
    assert compared["churn"] > 10 * CHURN_FRAMES
    assert len({k[1] for k in runs["churn"][1]}) > 50
    # the masks are neither empty nor full and change along the clip
    first = [reference["follow"][f"masks_{p}"][0] for p in range(FRAMES)]
    assert len({m.tobytes() for m in first}) > 3 and all(0.02 < m.mean() < 0.98 for m in first)


def test_the_session_holds_a_bounded_history(ours):
    runs, held_by, _ = ours
    tracker, _ = runs["follow"]
    config = tracker.model.config
    window = memory_window(config)
    for name, history in held_by.items():
        assert all(h["pixels"] == 0 and h["tables"] == 0 for h in history), name
        assert max(h["memories"] for h in history) <= window, name
        assert max(h["lists"] for h in history) <= max(TINY_VIDEO["hotstart_unmatch_thresh"], 1), name
    follow = held_by["follow"]
    # re-anchored every 2nd frame: conditioning frames pile up, but only the recent ones keep memories
    assert follow[-1]["pointers"] == 1 + (FRAMES - 1) // 2
    assert max(h["conditioning"] for h in follow) <= TINY_MAX_COND_FRAMES
    assert follow[-1]["conditioning"] == TINY_MAX_COND_FRAMES
    assert tracker.pending == []  # every frame released at the end


def test_one_vision_encoding_per_frame_for_all_phrases(scene):
    _, _, factories, frames = scene
    factory = factories["follow"]
    detector = factory.network.detector_model
    calls = {"vision": 0, "text": 0, "decoder": 0}
    hooks = [
        detector.vision_encoder.register_forward_hook(
            lambda *_: calls.__setitem__("vision", calls["vision"] + 1)
        ),
        detector.text_encoder.register_forward_hook(lambda *_: calls.__setitem__("text", calls["text"] + 1)),
        detector.detr_decoder.register_forward_hook(
            lambda *_: calls.__setitem__("decoder", calls["decoder"] + 1)
        ),
    ]
    try:
        _run(factory(), frames[:4])
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == {"vision": 4, "text": len(PHRASES), "decoder": 4 * len(PHRASES)}


def test_objects_the_model_has_lost_are_dropped(scene, ours):
    _, _, factories, frames = scene
    runs, _, _ = ours
    kept, _ = runs["churn"]
    counts = []
    tracker = factories["churn"](max_lost=2)
    _run(tracker, frames[: CHURN_FRAMES + 1], lambda t: counts.append(len(t.session.obj_ids)))
    # unseen from the start: dropped after max(max_lost, hotstart_delay) = 3 empty frames, so the
    # count stops growing where transformers (max_lost None) follows every object to the end
    assert counts[CHURN_FRAMES - 1] < counts[CHURN_FRAMES - 2] and counts[-1] <= counts[CHURN_FRAMES - 2]
    assert counts[-1] < len(kept.session.obj_ids)


def test_track_cli_runs_sam3_video_as_detector_and_tracker(tmp_path, scene, ours, capsys):
    from pycocotools import mask as coco_mask

    from groundlabel.cli import main

    root, checkpoints, _, _ = scene
    runs, _, _ = ours
    _, library = runs["follow"]
    common = ["track", str(root / "frames"), "--model", str(checkpoints["follow"])]
    common += ["-l", "square, disc", "--box-threshold", "0.5", "--low-threshold", "0.4", "--device", "cpu"]
    assert main([*common, "-o", str(tmp_path / "x.json")]) == 0
    document = json.loads((tmp_path / "x.json").read_text())
    assert len(document["images"]) == FRAMES
    annotations = document["annotations"]
    assert len(annotations) == 2 * FRAMES
    for ann in annotations:
        rle = {**ann["segmentation"], "counts": ann["segmentation"]["counts"].encode()}
        decoded = coco_mask.decode(rle)
        assert decoded.shape == (HEIGHT, WIDTH) and decoded.any()
        box = library[(ann["image_id"] - 1, ann["track_id"])]
        assert ann["segmentation"] == box.mask and ann["category_id"] == 1 + PHRASES.index(box.label)
    capsys.readouterr()
    assert main([*common, "--tracker", str(checkpoints["churn"]), "-o", str(tmp_path / "y.json")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().count("\n") == 0 and "detects and tracks by itself" in err
