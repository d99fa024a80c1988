"""SAM 3 video as detector and tracker at once: class phrases in, every instance tracked with its mask.

Why a tracker of its own: with a SAM 3 video checkpoint (``Sam3VideoModel``, ``model_type``
``sam3_video``, e.g. ``facebook/sam3``) the model itself detects every instance of each phrase
on each frame, matches the detections to the objects its SAM 2-style tracker carries, starts
new objects, re-anchors drifting ones and removes doubtful newcomers (its "hot start"). There
is nothing for groundlabel's detector or ByteTrack to add, so ``groundlabel track --model
CHECKPOINT`` hands frames straight to this tracker and the boxes it is given are ignored.

One session holds every phrase (``Sam3VideoInferenceSession.add_prompt``): per frame the
model runs the vision encoder once, one detector pass per phrase on those features (each
phrase's text encoding is computed once and kept in the session), and one tracker pass per
object on the same features through its tracker neck. So a second phrase costs a decoder
pass, not an encoder pass (``benchmarks/sam3_video_speed.py`` measures it).

The computation is transformers' offline reference (``Sam3VideoProcessor.init_video_session``
with the whole clip, ``add_text_prompt``, ``propagate_in_video_iterator``,
``postprocess_outputs``), streamed: frames are added one at a time and each frame's output is
held back ``hotstart_delay`` frames, as ``propagate_in_video_iterator`` holds it, because
objects removed by the hot start are hidden from the frames already computed. The
preprocessing (``families.sam3.Sam3Preprocessing``) and the post-processing (upsampling,
boxes of the masks, one object per pixel within each phrase) are done here, without
torchvision. ``tests/test_track_sam3_video.py`` holds masks pixel for pixel and boxes and
scores within 1e-4 to that reference. ``sam3_video_session`` keeps the session bounded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.errors import GroundlabelError, LabelSetError, ModelLoadError
from groundlabel.trackers.base import TrackedBox
from groundlabel.trackers.sam3_video_session import new_session, prune, remove_objects

MODEL_TYPE = "sam3_video"
#: the processor pads (and the model reads) every phrase as this many tokens.
PROMPT_TOKENS = 32
#: masks upsampled to the frame at once (bilinear upsampling is per mask: any split is exact).
MASK_CHUNK = 8


@dataclass
class _Pending:
    """A frame's model output, held until the hot start has decided about its objects."""

    frame_index: int
    output: Any
    height: int
    width: int


class Sam3VideoTracker:
    """The ``Tracker`` interface over one streamed SAM 3 video session (one clip)."""

    needs_frames = True

    def __init__(
        self,
        model: torch.nn.Module,
        inputs: Any,
        device: torch.device,
        phrases: list[tuple[str, str]],
        *,
        max_lost: int | None = None,
        **_: Any,
    ) -> None:
        """``phrases``: (phrase, class name) pairs; ``max_lost``: drop an object the model has not
        seen for that many frames in a row (None: follow it to the end, as transformers does)."""
        self.model = model
        self.inputs = inputs
        self.device = device
        self.max_lost = max_lost
        self.session = new_session(model.config, device)
        self.labels: dict[int, str] = {}
        for phrase, label in phrases:
            prompt_id = self.session.add_prompt(phrase)
            if prompt_id in self.labels:
                continue
            text = {k: v.to(device) for k, v in inputs.text(phrase, 1).items()}
            self.session.prompt_input_ids[prompt_id] = text["input_ids"]
            self.session.prompt_attention_masks[prompt_id] = text["attention_mask"]
            self.labels[prompt_id] = label
        self.delay = int(model.config.hotstart_delay)
        self.pending: list[_Pending] = []
        self.lost: dict[int, int] = {}
        self._step = 0  # the session's dense frame count

    def update(
        self,
        frame_index: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: list[str],
        image: Image.Image | None = None,
    ) -> list[TrackedBox]:
        """Detect and track on this frame; returns the boxes of the frame ``hotstart_delay - 1``
        frames back (the boxes given are ignored: SAM 3 detects by itself)."""
        if image is None:
            raise ValueError("the SAM 3 video tracker needs each frame's image")
        width, height = image.size
        pixel_values = self.inputs.preprocessing(image).to(self.device)
        self.session.add_new_frame(pixel_values[0], self._step)
        self.session.frames_seen = self._step + 1
        output = self.model(inference_session=self.session, frame_idx=self._step)
        self.session.hotstart_removed_obj_ids.update(output.removed_obj_ids)
        self.pending.append(_Pending(frame_index, output, height, width))
        self._forget_lost(output)
        prune(self.session, self._step, self.model.config)
        self._step += 1
        if self.delay > 0 and len(self.pending) < self.delay:
            return []
        ready, self.pending = self.pending[:1], self.pending[1:]
        return [box for frame in ready for box in self._read(frame)]

    def finish(self) -> list[TrackedBox]:
        """The frames still held back: the end of the clip decides them."""
        ready, self.pending = self.pending, []
        return [box for frame in ready for box in self._read(frame)]

    def _forget_lost(self, output: Any) -> None:
        """Count frames each object's mask is empty; remove those lost longer than ``max_lost``."""
        if self.max_lost is None:
            return
        # never before the hot start has released every frame in which the object was seen
        patience = max(self.max_lost, self.delay)
        gone = set()
        for obj_id in self.session.obj_ids:
            mask = output.obj_id_to_mask.get(obj_id)
            seen = mask is not None and bool((mask > 0).any())
            self.lost[obj_id] = 0 if seen else self.lost.get(obj_id, 0) + 1
            if self.lost[obj_id] > patience:
                gone.add(obj_id)
        if gone:
            remove_objects(self.session, gone)
            for obj_id in gone:
                del self.lost[obj_id]

    def _read(self, frame: _Pending) -> list[TrackedBox]:
        """``Sam3VideoProcessor.postprocess_outputs`` of one frame, as ``TrackedBox``es."""
        output, session = frame.output, self.session
        obj_ids = sorted(output.obj_id_to_mask)
        if not obj_ids:
            return []
        hidden = set(output.suppressed_obj_ids or ()) | set(session.hotstart_removed_obj_ids)
        low_res = torch.cat([output.obj_id_to_mask[obj_id] for obj_id in obj_ids]).float().cpu()
        masks = _upsample(low_res, frame.height, frame.width)
        keep = [i for i, obj_id in enumerate(obj_ids) if masks[i].any() and obj_id not in hidden]
        if not keep:
            return []
        obj_ids = [obj_ids[i] for i in keep]
        masks = masks[keep]
        boxes = _masks_to_boxes(masks)
        tracker_scores = torch.tensor([output.obj_id_to_tracker_score.get(i, 0.0) for i in obj_ids])
        prompts = [session.obj_id_to_prompt_id[obj_id] for obj_id in obj_ids]
        masks = _one_object_per_pixel(masks, tracker_scores, prompts)
        found = []
        for i, obj_id in enumerate(obj_ids):
            score = float(output.obj_id_to_score[obj_id])
            xyxy = tuple(float(v) for v in boxes[i])
            rle = mask_codec.encode(masks[i].numpy())
            label = self.labels[prompts[i]]
            found.append(TrackedBox(frame.frame_index, obj_id + 1, label, xyxy, score, mask=rle))  # type: ignore[arg-type]
        return found


def _upsample(low_res: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """(N, h, w) mask logits -> (N, height, width) bool: bilinear, ``> 0``."""
    parts = []
    for start in range(0, len(low_res), MASK_CHUNK):
        chunk = low_res[start : start + MASK_CHUNK].unsqueeze(1)
        parts.append(
            F.interpolate(chunk, size=(height, width), mode="bilinear", align_corners=False).squeeze(1) > 0
        )
    return torch.cat(parts)


def _masks_to_boxes(masks: torch.Tensor) -> torch.Tensor:
    """``torchvision.ops.masks_to_boxes``: the first and last pixel row and column of each mask."""
    boxes = torch.zeros(len(masks), 4)
    for i, mask in enumerate(masks):
        rows = torch.nonzero(mask.any(dim=1)).flatten()
        cols = torch.nonzero(mask.any(dim=0)).flatten()
        boxes[i] = torch.stack([cols.min(), rows.min(), cols.max(), rows.max()]).float()
    return boxes


def _one_object_per_pixel(masks: torch.Tensor, scores: torch.Tensor, prompts: list[int]) -> torch.Tensor:
    """Within each phrase, a pixel claimed by several objects goes to the best tracker score
    (``Sam3VideoProcessor._apply_object_wise_non_overlapping_constraints``, same arithmetic)."""
    if len(masks) <= 1:
        return masks
    result = masks.clone()
    groups = torch.tensor(prompts)
    for prompt_id in groups.unique(sorted=True):
        members = torch.nonzero(groups == prompt_id).flatten()
        if len(members) <= 1:
            continue
        group = masks[members]
        claim = torch.where(group, scores[members].view(-1, 1, 1), torch.tensor(0.0))
        winner = torch.argmax(claim, dim=0, keepdim=True)
        mine = winner == torch.arange(len(members)).view(-1, 1, 1)
        claim = torch.where(mine, claim, claim.clamp(max=-10.0))
        result[members] = group & (claim > 0)
    return result


def is_sam3_video(model: str) -> bool:
    """Whether ``model`` (hub id or folder) is a SAM 3 video checkpoint; False where its config
    cannot be read (loading it as a detector then says what is wrong)."""
    from groundlabel.segmenters.loading import read_config

    try:
        return read_config(model).get("model_type") == MODEL_TYPE
    except GroundlabelError:
        return False


def check_track_options(tracker: str, detect_every: int, ray: bool) -> None:
    """One line for each ``track`` option a SAM 3 video model cannot honour."""
    if tracker != "bytetrack":
        raise GroundlabelError(
            f"--tracker {tracker}: a SAM 3 video --model detects and tracks by itself; leave --tracker out"
        )
    if detect_every > 1:
        raise GroundlabelError(
            "--detect-every: a SAM 3 video --model detects on every frame it tracks; leave it out"
        )
    if ray:
        raise GroundlabelError("--ray does not run a SAM 3 video --model yet; run without --ray")


class _Inputs:
    """Tokenizer and torchvision-free preprocessing, loaded as ``load_checkpoint`` loads a processor."""

    @staticmethod
    def from_pretrained(name: str, local_files_only: bool = False) -> Any:
        from transformers import AutoTokenizer

        from groundlabel.families.sam3 import Sam3Inputs, Sam3Preprocessing, _read_processor_config

        tokenizer = AutoTokenizer.from_pretrained(name, local_files_only=local_files_only)
        preprocessing = Sam3Preprocessing.from_config(_read_processor_config(name, local_files_only))
        return Sam3Inputs(tokenizer, preprocessing)


class Sam3VideoTrackers:
    """A SAM 3 video checkpoint, loaded once, handing out a fresh tracker (session) per clip.

    ``detection_score`` and ``new_object_score`` replace the checkpoint's
    ``score_threshold_detection`` (a detection above it is kept: it confirms the object it
    overlaps) and ``new_det_thresh`` (one above it that overlaps no object starts a new one).
    """

    def __init__(
        self,
        model: str,
        device: str,
        labels: Any,
        *,
        detection_score: float | None = None,
        new_object_score: float | None = None,
    ) -> None:
        from transformers import Sam3VideoModel

        from groundlabel.segmenters.loading import load_checkpoint

        if not is_sam3_video(model):
            raise ModelLoadError(f"{model}: not a SAM 3 video checkpoint (model_type {MODEL_TYPE})")
        self.network, self.inputs, self.device, _, _ = load_checkpoint(
            model, Sam3VideoModel, _Inputs, device, "fp32"
        )
        if detection_score is not None:
            self.network.score_threshold_detection = detection_score
        if new_object_score is not None:
            self.network.new_det_thresh = new_object_score
        self.phrases = [(phrase, labels.names[owner]) for phrase, owner in labels.phrase_owners()]
        for phrase, _ in self.phrases:
            tokens = len(self.inputs.tokenizer(phrase, add_special_tokens=False)["input_ids"]) + 2
            if tokens > PROMPT_TOKENS:
                raise LabelSetError(
                    f"phrase {phrase!r} is {tokens} tokens, more than SAM 3 reads per prompt "
                    f"({PROMPT_TOKENS}); shorten it"
                )

    def __call__(self, **options: Any) -> Sam3VideoTracker:
        return Sam3VideoTracker(self.network, self.inputs, self.device, self.phrases, **options)


class NoBoxes:
    """The box source of a SAM 3 video run: none (the tracker detects)."""

    def of(self, frame: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
        return np.zeros((0, 4)), np.zeros(0), []


def track_parts(args: Any) -> tuple[NoBoxes, Any]:
    """``groundlabel track``'s box source and tracker factory for a SAM 3 video ``--model``.

    ``--low-threshold`` is SAM 3's detection threshold, ``--box-threshold`` its new-object
    threshold (the two roles ByteTrack gives them); ``--max-lost`` drops objects unseen that long.
    """
    from groundlabel.cli.options import require_labels
    from groundlabel.labels import LabelSet

    labels = LabelSet.parse(require_labels(args.labels, args.model))
    factory = Sam3VideoTrackers(
        args.model,
        args.device,
        labels,
        detection_score=min(args.low_threshold, args.box_threshold),
        new_object_score=args.box_threshold,
    )
    return NoBoxes(), lambda: factory(max_lost=args.max_lost)
