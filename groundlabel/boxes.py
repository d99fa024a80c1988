"""Box geometry on xyxy pixel tensors: corner conversion, clamping, class-wise NMS."""

from __future__ import annotations

import torch


def center_to_corners(boxes: torch.Tensor) -> torch.Tensor:
    """(cx, cy, w, h) to (x0, y0, x1, y1), computed exactly as transformers does."""
    center_x, center_y, width, height = boxes.unbind(-1)
    return torch.stack(
        [
            (center_x - 0.5 * width),
            (center_y - 0.5 * height),
            (center_x + 0.5 * width),
            (center_y + 0.5 * height),
        ],
        dim=-1,
    )


def clamp_to_image(boxes: torch.Tensor, width: int, height: int) -> torch.Tensor:
    limits = torch.tensor([width, height, width, height], dtype=boxes.dtype, device=boxes.device)
    return torch.minimum(boxes.clamp(min=0), limits)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union, torch.zeros_like(inter))


def class_wise_nms(
    boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, iou: float
) -> torch.Tensor:
    """Indices kept by greedy NMS within each class, highest score first."""
    order = torch.argsort(scores, descending=True, stable=True)
    overlaps = box_iou(boxes[order], boxes[order])
    same_class = classes[order][:, None] == classes[order][None, :]
    suppressed = torch.zeros(len(order), dtype=torch.bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(int(order[i]))
        suppressed |= (overlaps[i] > iou) & same_class[i]
    return torch.tensor(keep, dtype=torch.long)
