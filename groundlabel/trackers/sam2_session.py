"""Keeping a streamed ``Sam2VideoInferenceSession`` bounded: what the model never reads again goes.

transformers' session keeps every frame it was given and every frame's outputs for every
object, so memory grows with clip length (12.6 MB a frame for the pixels alone at 1024²).
The model reads back only the current frame's pixels, each object's conditioning (prompted)
frames, its last ``num_maskmem - 1`` frames' memories and its last
``max_object_pointers_in_encoder - 1`` frames' object pointers (``_gather_memory_frame_outputs``
and ``_get_object_pointers`` in ``modeling_sam2_video.py``), so everything further back can be
dropped without changing a single output; the fidelity test holds the pruned session equal to
transformers' unpruned one.

SAM 3's tracker and EdgeTAM inherit those two readers unchanged and their configs carry the
same two fields, so the same bound holds. EdgeTAM's memories differ in what they hold, not in
where: each frame's memory is encoded as that frame is segmented and squeezed by its perceiver
resampler into 1-D and 2-D latents, stored in the same per-frame output entries (no
high-resolution masks kept beside them), so pruning those entries bounds it too
(``tests/test_track_sam3_tracker_edgetam.py``).

Objects are removed the same way: the session has no call for it, so the per-object tables
(keyed by a dense object index) are rebuilt without them. This touches the session's private
tables; ``tests/test_track_sam2_video.py`` checks it against the installed transformers.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


def frames_read_back(config: Any) -> int:
    """How many earlier frames' outputs an object's next frame reads (memories or pointers)."""
    return max(int(config.num_maskmem) - 1, int(config.max_object_pointers_in_encoder) - 1, 1)


def prune(session: Any, frame_idx: int, keep: int) -> None:
    """After frame ``frame_idx``: drop the pixels given so far and every non-prompted output the
    next frame will not read (all but the last ``keep``)."""
    frames = session.processed_frames or {}
    for old in [k for k in frames if k <= frame_idx]:
        del frames[old]
    oldest = frame_idx + 1 - keep
    for obj_idx, outputs in session.output_dict_per_obj.items():
        tracked = outputs["non_cond_frame_outputs"]
        for old in [k for k in tracked if k < oldest]:
            del tracked[old]
        seen = session.frames_tracked_per_obj[obj_idx]
        for old in [k for k in seen if k < oldest]:
            del seen[old]


def remove_objects(session: Any, obj_ids: set[int]) -> None:
    """Forget ``obj_ids`` entirely; the other objects keep their ids and state."""
    keep = [obj_id for obj_id in session.obj_ids if obj_id not in obj_ids]
    old_index = {obj_id: session._obj_id_to_idx[obj_id] for obj_id in keep}
    for table in (
        "point_inputs_per_obj",
        "mask_inputs_per_obj",
        "output_dict_per_obj",
        "frames_tracked_per_obj",
    ):
        old = getattr(session, table)
        setattr(session, table, {new: old[old_index[obj_id]] for new, obj_id in enumerate(keep)})
    session._obj_id_to_idx = OrderedDict((obj_id, i) for i, obj_id in enumerate(keep))
    session._obj_idx_to_id = OrderedDict((i, obj_id) for i, obj_id in enumerate(keep))
    session.obj_ids = list(keep)
    session.obj_with_new_inputs = [obj_id for obj_id in session.obj_with_new_inputs if obj_id in old_index]


def held_frames(session: Any) -> int:
    """Frames' worth of state the session holds (pixels plus the largest object's history): for the memory test."""
    frames = len(session.processed_frames or {})
    history = max((len(o["non_cond_frame_outputs"]) for o in session.output_dict_per_obj.values()), default=0)
    return frames + history
