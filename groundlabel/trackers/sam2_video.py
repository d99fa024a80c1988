"""SAM 2.1 video propagation as a tracker: detections start objects, SAM 2's memory carries them.

Why this and not association alone: ByteTrack only links the detector's boxes, so a frame
the detector misses is a gap and there are no masks. SAM 2.1 (``Sam2VideoModel``) is prompted
once with an object's box and follows it through the clip with its memory bank, mask and
all, across occlusions (an object it cannot see gets an empty mask: the model's own
"not visible"). The detector then only has to find *new* objects, so it can run on keyframes
(``--detect-every N``).

Per frame, in order:
1. detections (on keyframes) are matched to the live objects' boxes on the previous frame by
   IoU (one to one, same class); a match refreshes that track's score, an unmatched sure one
   (``new_track_score``) becomes a new object, prompted with its box on this frame;
2. the frame goes through transformers' streaming session (``model(inference_session, frame=...)``)
   and every object gets its mask, upsampled as ``Sam2ImageProcessor.post_process_masks`` does,
   and its box from the mask;
3. an object invisible for more than ``max_lost`` frames in a row is dropped, and whatever
   the model never reads again is pruned (``sam2_session``), so memory stays flat.

Preprocessing is ours (``segmenters.sam2.Sam2Preprocessing``: the processor needs
torchvision); prompts are scaled as ``Sam2VideoProcessor`` scales them. The session counts
frames densely from 0 whatever ``--every`` skipped, because the model finds memories at
``frame_idx - 1`` … and pointers' temporal positions by that count.

The same adapter runs SAM 3's tracker (``Sam3TrackerVideoModel``; also the tracker half of a
full SAM 3 video checkpoint, which transformers loads into it: the detector's vision backbone,
the tracker's own neck) and EdgeTAM (``EdgeTamVideoModel``): transformers gives them the same
streaming session API, so only the classes and the preprocessing defaults differ
(``VIDEO_FAMILIES``, the one table of them).
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from groundlabel import masks as mask_codec
from groundlabel.segmenters.sam2 import Sam2Preprocessing
from groundlabel.trackers.base import TrackedBox
from groundlabel.trackers.bytetrack import iou_matrix
from groundlabel.trackers.sam2_session import frames_read_back, prune, remove_objects

#: IoU between a detection and an object's box on the previous frame for them to be the same object.
MATCH_IOU = 0.3


@dataclass
class _Object:
    track_id: int
    label: str
    score: float
    box: tuple[float, float, float, float] | None
    lost: int = 0


@dataclass(frozen=True)
class Prompt:
    """A box SAM 2.1 was prompted with: where a track starts (and, later, where a person fixed it)."""

    frame_index: int
    track_id: int
    label: str
    xyxy: tuple[float, float, float, float]
    score: float


class Sam2VideoTracker:
    """The ``Tracker`` interface over a streamed SAM 2.1 (SAM 3 tracker, EdgeTAM) video session;
    it needs each frame's pixels."""

    needs_frames = True

    def __init__(
        self,
        model: torch.nn.Module,
        preprocessing: Sam2Preprocessing,
        device: torch.device,
        *,
        low_score: float = 0.1,
        new_track_score: float = 0.45,
        max_lost: int = 30,
        family: VideoFamily | None = None,
    ) -> None:
        family = family or VIDEO_FAMILIES.get(str(model.config.model_type), VIDEO_FAMILIES["sam2_video"])
        self.family = family
        self.model = model
        self.preprocessing = preprocessing
        self.device = device
        self.low_score = low_score
        self.new_track_score = new_track_score
        self.max_lost = max_lost
        self.keep = frames_read_back(model.config)
        self.session = family.session_class()(
            video=None,
            inference_device=device,
            inference_state_device=device,
            video_storage_device=device,
            dtype=torch.float32,
            max_vision_features_cache_size=1,
        )
        self.objects: dict[int, _Object] = {}
        self.prompts: list[Prompt] = []
        self._step = 0  # the session's dense frame count
        self._next_id = 1

    def update(
        self,
        frame_index: int,
        boxes: np.ndarray,
        scores: np.ndarray,
        labels: list[str],
        image: Image.Image | None = None,
    ) -> list[TrackedBox]:
        if image is None:
            raise ValueError(f"the {self.family.name} tracker needs each frame's image")
        width, height = image.size
        new = self._new_objects(
            frame_index, np.asarray(boxes, dtype=np.float64).reshape(-1, 4), scores, labels
        )
        if new:
            self._prompt(new, width, height)
        if not self.objects:
            return []
        pixel_values = self.preprocessing.pixel_values(image).to(self.device)
        output = self.model(inference_session=self.session, frame=pixel_values[0], frame_idx=self._step)
        found = self._read(frame_index, output, height, width)
        prune(self.session, self._step, self.keep)
        self._step += 1
        return found

    def finish(self) -> list[TrackedBox]:
        return []

    def _new_objects(
        self, frame_index: int, boxes: np.ndarray, scores: Any, labels: list[str]
    ) -> list[Prompt]:
        """Detections no live object explains, sure enough to start a track; matched ones refresh a score."""
        from scipy.optimize import linear_sum_assignment

        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        keep = scores >= self.low_score
        boxes, scores, labels = (
            boxes[keep],
            scores[keep],
            [label for label, k in zip(labels, keep, strict=True) if k],
        )
        live = [o for o in self.objects.values() if o.box is not None]
        matched: set[int] = set()
        if live and len(boxes):
            overlap = iou_matrix(boxes, np.array([o.box for o in live]))
            same = np.array([[label == o.label for o in live] for label in labels])
            overlap = np.where(same, overlap, 0.0)
            for d, o in zip(*linear_sum_assignment(-overlap), strict=True):
                if overlap[d, o] >= MATCH_IOU:
                    matched.add(int(d))
                    live[o].score = float(scores[d])
            explained = overlap.max(axis=1) >= MATCH_IOU  # a second box on a followed object starts nothing
        else:
            explained = np.zeros(len(boxes), dtype=bool)
        new = []
        for d in np.argsort(-scores, kind="stable"):
            if d in matched or explained[d] or scores[d] < self.new_track_score:
                continue
            new.append(
                Prompt(frame_index, self._next_id, labels[d], tuple(map(float, boxes[d])), float(scores[d]))
            )
            self._next_id += 1
        return new

    def _prompt(self, new: list[Prompt], width: int, height: int) -> None:
        """Add the new objects' boxes on this frame, as ``add_inputs_to_inference_session`` adds them."""
        self.session.video_height, self.session.video_width = height, width
        side = self.preprocessing.target_size
        # The processor divides by the original size as an int64 tensor: a float32 factor that
        # is not the double ``side / width`` rounded (7/6 differs in the last bit), so a box
        # that is not on whole pixels lands a bit apart unless the factor is made the same way.
        scale_x, scale_y = side / torch.tensor(width), side / torch.tensor(height)
        for prompt in new:
            corners = torch.tensor([[list(prompt.xyxy)]], dtype=torch.float32).reshape(-1, 2, 2)
            corners[..., 0] = corners[..., 0] * scale_x
            corners[..., 1] = corners[..., 1] * scale_y
            obj_idx = self.session.obj_id_to_idx(prompt.track_id)
            inputs = {
                "point_coords": corners.reshape(1, 1, 2, 2),
                "point_labels": torch.tensor([[[2, 3]]], dtype=torch.int32),
            }
            self.session.add_point_inputs(obj_idx, self._step, inputs)
            self.session.remove_mask_inputs(obj_idx, self._step)
            self.objects[prompt.track_id] = _Object(prompt.track_id, prompt.label, prompt.score, prompt.xyxy)
            self.prompts.append(prompt)
        self.session.obj_with_new_inputs = [p.track_id for p in new]

    def _read(self, frame_index: int, output: Any, height: int, width: int) -> list[TrackedBox]:
        low_res = output.pred_masks.float().cpu()
        upsampled = F.interpolate(low_res, (height, width), mode="bilinear", align_corners=False) > 0.0
        found, gone = [], set()
        for i, track_id in enumerate(output.object_ids):
            obj = self.objects[track_id]
            mask = upsampled[i, 0].numpy()
            if not mask.any():
                obj.box = None
                obj.lost += 1
                if obj.lost > self.max_lost:
                    gone.add(track_id)
                continue
            rle = mask_codec.encode(mask)
            obj.box, obj.lost = mask_codec.bbox(rle), 0
            found.append(TrackedBox(frame_index, track_id, obj.label, obj.box, obj.score, mask=rle))
        if gone:
            remove_objects(self.session, gone)
            for track_id in gone:
                del self.objects[track_id]
        return found


@dataclass(frozen=True)
class VideoFamily:
    """What differs between the video checkpoints this adapter runs; the session API is one.

    ``preprocessing`` holds the image-processor defaults the checkpoint's saved settings
    override (SAM 3 looks at 1008 pixels normalised to [-1, 1], the others at 1024 with
    ImageNet's mean and std); the resize, rescale and normalisation are the same.
    """

    name: str
    model_class: str  # in ``transformers``
    session_module: str
    session: str
    preprocessing: dict[str, Any] = field(default_factory=dict)

    def model(self) -> Any:
        return getattr(importlib.import_module("transformers"), self.model_class)

    def session_class(self) -> Any:
        return getattr(importlib.import_module(self.session_module), self.session)


_SAM2 = VideoFamily(
    "SAM 2.1",
    "Sam2VideoModel",
    "transformers.models.sam2_video.modeling_sam2_video",
    "Sam2VideoInferenceSession",
)
_SAM3 = VideoFamily(
    "SAM 3 tracker",
    "Sam3TrackerVideoModel",
    "transformers.models.sam3_tracker_video.modeling_sam3_tracker_video",
    "Sam3TrackerVideoInferenceSession",
    {"size": {"height": 1008, "width": 1008}, "image_mean": [0.5] * 3, "image_std": [0.5] * 3},
)
_EDGETAM = VideoFamily(
    "EdgeTAM",
    "EdgeTamVideoModel",
    "transformers.models.edgetam_video.modeling_edgetam_video",
    "EdgeTamVideoInferenceSession",
)
#: by ``model_type``: the hub's SAM 2.1 video checkpoints say ``sam2_video`` (``sam2``: an image
#: one, which transformers loads into the video model); ``sam3_video`` is a full SAM 3 video
#: checkpoint, of which the tracker half is loaded.
VIDEO_FAMILIES: dict[str, VideoFamily] = {
    "sam2_video": _SAM2,
    "sam2": _SAM2,
    "sam3_tracker_video": _SAM3,
    "sam3_video": _SAM3,
    "edgetam_video": _EDGETAM,
}
#: ``model_type`` values of the checkpoints this adapter runs.
MODEL_TYPES = tuple(VIDEO_FAMILIES)


class _PreprocessingLoader:
    """Stands where a processor class would for ``load_checkpoint``: the saved settings over
    the family's defaults (the processors themselves need torchvision)."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults

    def from_pretrained(self, name: str, local_files_only: bool = False) -> Sam2Preprocessing:
        from groundlabel.processor_config import read_image_processor_config

        saved = read_image_processor_config(
            name, local_files_only, names=("preprocessor_config.json", "processor_config.json")
        )
        return Sam2Preprocessing({**self.defaults, **(saved or {})})


def _needs_timm(config: dict[str, Any]) -> bool:
    """EdgeTAM's published backbone (RepViT) is a timm model inside transformers."""
    backbone = (config.get("vision_config") or {}).get("backbone_config") or {}
    return backbone.get("model_type") == "timm_wrapper"


class Sam2VideoTrackers:
    """A video tracker checkpoint, loaded once, handing out a fresh tracker (session) per clip."""

    def __init__(self, model: str, device: str = "auto") -> None:
        from groundlabel.errors import ModelLoadError
        from groundlabel.segmenters.loading import load_checkpoint, read_config

        config = read_config(model)
        model_type = config.get("model_type")
        family = VIDEO_FAMILIES.get(str(model_type))
        if family is None:
            raise ModelLoadError(
                f"--tracker {model}: a {model_type or 'unknown'} checkpoint, not a video tracker; give "
                f"bytetrack or a SAM 2.1, SAM 3 or EdgeTAM video checkpoint (model_type "
                f"{', '.join(MODEL_TYPES)}), e.g. facebook/sam2.1-hiera-tiny"
            )
        if _needs_timm(config) and importlib.util.find_spec("timm") is None:
            raise ModelLoadError(
                f"--tracker {model}: this EdgeTAM checkpoint's RepViT backbone runs through timm, which "
                "is not installed (timm needs torchvision; groundlabel installs neither): pip install timm"
            )
        self.family = family
        # ``family:checkpoint``, as a segmenter's: Label Studio's model version names the tracker with it.
        self.model_record = f"{model_type}:{model}"
        self.network, self.preprocessing, self.device, _, _ = load_checkpoint(
            model, family.model(), _PreprocessingLoader(family.preprocessing), device, "fp32"
        )

    def __call__(self, **options: Any) -> Sam2VideoTracker:
        return Sam2VideoTracker(self.network, self.preprocessing, self.device, family=self.family, **options)
