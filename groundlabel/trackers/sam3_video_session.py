"""Keeping a streamed ``Sam3VideoInferenceSession`` bounded: what the model never reads again goes.

transformers' SAM 3 video session keeps every frame's pixels, every object's tracker outputs
on every frame, and per-frame tables of scores and suppressions, so memory grows with clip
length. What the model reads back (``modeling_sam3_video.py`` and the tracker's
``modeling_sam3_tracker_video.py``):

- pixels: the current frame only (the tracker reads the detector's features from the cache);
- an object's non-conditioning outputs: the last ``num_maskmem - 1`` frames' memories and the
  last ``max_object_pointers_in_encoder - 1`` frames' object pointers;
- its conditioning frames (where it was first detected, and where the detector re-anchored it
  every ``recondition_every_nth_frame`` frames): the object pointer of every one of them, for
  good, but the memory features only of the ``max_cond_frame_num`` most recent ones (and of
  those still inside the memory window). So older conditioning frames keep their pointer
  (1 x hidden floats) and drop the rest;
- the per-frame score and suppression tables: the current frame's entry only;
- the hot start's lists of unmatched and duplicate frames: only whether they reach
  ``hotstart_unmatch_thresh`` / ``hotstart_dup_thresh`` entries, so they are cut to that many.

Per object the session still keeps a few numbers (its score, first frame, keep-alive count),
and its conditioning frames' pointers, which the model itself reads forever. The session
counts frames by how many were added (``num_frames``), not by the pixels it still holds, and
at least ``max_object_pointers_in_encoder``: that is what the offline reference sees for any
clip at least that long. This touches the session's tables, which are not public API;
``tests/test_track_sam3_video.py`` holds the pruned session to transformers' unpruned one.
"""

from __future__ import annotations

from typing import Any

import torch

#: what an old conditioning frame keeps: the model reads its object pointer on every later frame.
POINTER_ONLY = ("object_pointer",)


def new_session(config: Any, device: torch.device) -> Any:
    """An empty streamed session (no video: frames are added one by one)."""
    from transformers.models.sam3_video.modeling_sam3_video import Sam3VideoInferenceSession

    class StreamedSession(Sam3VideoInferenceSession):
        """``num_frames`` is the count of frames added, as if the whole clip were held."""

        frames_seen = 0
        pointer_frames = int(config.tracker_config.max_object_pointers_in_encoder)

        @property
        def num_frames(self) -> int:  # type: ignore[override]
            return max(self.frames_seen, self.pointer_frames)

    return StreamedSession(
        video=None,
        inference_device=device,
        inference_state_device=device,
        video_storage_device=device,
        dtype=torch.float32,
        max_vision_features_cache_size=1,
    )


def memory_window(config: Any) -> int:
    """How many earlier frames' non-conditioning outputs an object's next frame reads."""
    tracker = config.tracker_config
    return max(int(tracker.num_maskmem) - 1, int(tracker.max_object_pointers_in_encoder) - 1, 1)


def prune(session: Any, frame_idx: int, config: Any) -> None:
    """After frame ``frame_idx``: drop everything the frames after it will not read."""
    tracker = config.tracker_config
    oldest = frame_idx + 1 - memory_window(config)
    oldest_memory = frame_idx + 1 - (int(tracker.num_maskmem) - 1)
    max_cond = int(tracker.max_cond_frame_num)
    for table in (
        (session.processed_frames or {}),
        session.obj_id_to_tracker_score_frame_wise,
        session.suppressed_obj_ids,
    ):
        for old in [k for k in table if k <= frame_idx]:
            del table[old]
    for obj_idx, outputs in session.output_dict_per_obj.items():
        for table in (outputs["non_cond_frame_outputs"], session.frames_tracked_per_obj[obj_idx]):
            for old in [k for k in table if k < oldest]:
                del table[old]
        conditioning = outputs["cond_frame_outputs"]
        if max_cond != -1:
            recent = set(sorted(conditioning)[-max_cond:]) if max_cond > 0 else set()
            for t, out in conditioning.items():
                if t not in recent and t < oldest_memory and len(out) > len(POINTER_ONLY):
                    conditioning[t] = {key: out[key] for key in POINTER_ONLY}
        for table in (
            session.mask_inputs_per_obj.get(obj_idx, {}),
            session.point_inputs_per_obj.get(obj_idx, {}),
        ):
            for old in [k for k in table if k <= frame_idx]:
                del table[old]
    removed = session.removed_obj_ids
    for obj_id in [o for o in session.unmatched_frame_inds if o in removed]:
        del session.unmatched_frame_inds[obj_id]
    for pair in [p for p in session.overlap_pair_to_frame_inds if p[1] in removed]:
        del session.overlap_pair_to_frame_inds[pair]
    for table, count in (
        (session.unmatched_frame_inds, config.hotstart_unmatch_thresh),
        (session.overlap_pair_to_frame_inds, config.hotstart_dup_thresh),
    ):
        count = max(int(count), 1)
        for key, frames in table.items():
            if len(frames) > count:
                table[key] = frames[-count:]


def remove_objects(session: Any, obj_ids: set[int]) -> None:
    """Forget ``obj_ids`` entirely (the session's own ``remove_object`` plus its score tables)."""
    for obj_id in obj_ids:
        session.remove_object(obj_id)
        session.obj_ids = [o for o in session.obj_ids if o != obj_id]
        for table in (
            session.obj_id_to_score,
            session.obj_id_to_last_occluded,
            session.trk_keep_alive,
            session.obj_first_frame_idx,
            session.unmatched_frame_inds,
        ):
            table.pop(obj_id, None)
        for pair in [p for p in session.overlap_pair_to_frame_inds if obj_id in p]:
            del session.overlap_pair_to_frame_inds[pair]


def held(session: Any) -> dict[str, int]:
    """What the session holds, in frames' worth: for the memory test."""
    outputs = session.output_dict_per_obj.values()
    return {
        "pixels": len(session.processed_frames or {}),
        "memories": max((len(o["non_cond_frame_outputs"]) for o in outputs), default=0),
        "conditioning": max(
            (sum(len(v) > len(POINTER_ONLY) for v in o["cond_frame_outputs"].values()) for o in outputs),
            default=0,
        ),
        "pointers": max((len(o["cond_frame_outputs"]) for o in outputs), default=0),
        "tables": len(session.obj_id_to_tracker_score_frame_wise) + len(session.suppressed_obj_ids),
        "lists": max((len(v) for v in session.unmatched_frame_inds.values()), default=0),
    }
