"""Multi-scale deformable attention sampling as one fused gather, for CPU.

The transformers implementation samples every feature level with ``grid_sample`` into
a (batch*heads, dim, queries, points) tensor, stacks the levels, multiplies by the
attention weights and sums: on CPU most of that time is moving memory, not arithmetic.
Here each query's sample is written as what it is, a weighted sum of value rows: the
four bilinear corners of every sampling point, weighted by bilinear weight times
attention weight (zero for corners outside the map, which is ``padding_mode="zeros"``),
handed to ``embedding_bag`` in ``sum`` mode, which gathers and accumulates without
materialising the samples. The coordinate arithmetic follows ``grid_sample``'s with
``align_corners=False`` step by step, so only the order of the final additions differs.
"""

from __future__ import annotations

import torch
from torch import nn


def _corner_weights(
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
    spatial_shapes_list: list[tuple[int, int]],
    sequence_length: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices into the (batch*sequence*heads, dim) value table and their weights.

    Shapes: locations (B, Q, H, L, P, 2) in [0, 1] (x, y); weights (B, Q, H, L, P).
    Returns int32 indices and weights of shape (B*Q*H, L*P*4). Work is done per point
    and only the last step expands to the four corners, since on CPU these elementwise
    passes, not the gather, are the cost.
    """
    batch, queries, heads, levels, points, _ = sampling_locations.shape
    device, dtype = sampling_locations.device, sampling_locations.dtype
    widths_list = [w for _, w in spatial_shapes_list]
    heights_list = [h for h, _ in spatial_shapes_list]
    starts_list = [0]
    for h, w in spatial_shapes_list[:-1]:
        starts_list.append(starts_list[-1] + h * w)
    widths = torch.tensor(widths_list, device=device, dtype=dtype).view(levels, 1)
    heights = torch.tensor(heights_list, device=device, dtype=dtype).view(levels, 1)
    # grid_sample(align_corners=False) on CPU: grid = 2*loc - 1, then (grid + 1) * size/2 - 0.5,
    # the last step a fused multiply-add in ATen's AVX2 kernel. In float64 that product and sum
    # are exact, so rounding once to float32 gives the fused result bit for bit: at ~150 cells
    # one float32 ulp is 1.5e-5, and a second rounding would show up in the outputs.
    grid = 2 * sampling_locations - 1
    x = ((grid[..., 0] + 1).double() * (widths.double() / 2) - 0.5).to(dtype)
    y = ((grid[..., 1] + 1).double() * (heights.double() / 2) - 0.5).to(dtype)
    x0 = torch.floor(x)
    y0 = torch.floor(y)
    fx = x - x0
    fy = y - y0
    # a corner outside the map reads zero (padding_mode="zeros"): its weight becomes 0
    wx0 = (1 - fx) * ((x0 >= 0) & (x0 < widths))
    wx1 = fx * ((x0 >= -1) & (x0 < widths - 1))
    wy0 = (1 - fy) * ((y0 >= 0) & (y0 < heights)) * attention_weights
    wy1 = fy * ((y0 >= -1) & (y0 < heights - 1)) * attention_weights
    # corners in grid_sample's order: nw, ne, sw, se
    weights = torch.stack((wx0 * wy0, wx1 * wy0, wx0 * wy1, wx1 * wy1), -1)
    starts = torch.tensor(starts_list, device=device, dtype=torch.int32).view(levels, 1)
    widths_i = widths.to(torch.int32)
    position = y0.to(torch.int32) * widths_i + x0.to(torch.int32) + starts
    base = position.view(batch, -1) + torch.arange(
        0, batch * sequence_length, sequence_length, device=device, dtype=torch.int32
    ).view(batch, 1)
    rows = base.view(batch, queries, heads, levels, points) * heads + torch.arange(
        heads, device=device, dtype=torch.int32
    ).view(1, 1, heads, 1, 1)
    corner = torch.stack((torch.zeros_like(widths_i), widths_i * 0 + 1, widths_i, widths_i + 1), -1) * heads
    rows = (rows[..., None] + corner).clamp_(0, batch * sequence_length * heads - 1)
    return rows.view(batch * queries * heads, -1), weights.view(batch * queries * heads, -1)


def deformable_sample(
    value: torch.Tensor,
    spatial_shapes_list: list[tuple[int, int]],
    sampling_locations: torch.Tensor,
    attention_weights: torch.Tensor,
) -> torch.Tensor:
    """Same result as transformers' ``MultiScaleDeformableAttention.forward``: (B, Q, H*D)."""
    batch, sequence_length, heads, dim = value.shape
    queries = sampling_locations.shape[1]
    rows, weights = _corner_weights(
        sampling_locations, attention_weights, spatial_shapes_list, sequence_length
    )
    table = value.reshape(batch * sequence_length * heads, dim)
    out = nn.functional.embedding_bag(rows, table, per_sample_weights=weights.to(table.dtype), mode="sum")
    return out.view(batch, queries, heads * dim)


class LeanDeformableSampling(nn.Module):
    """Drop-in for the ``attn`` child of ``GroundingDinoMultiscaleDeformableAttention``.

    Uses the compiled kernel when ``use_native`` and it builds, else the fused gather.
    """

    def __init__(self, use_native: bool = True) -> None:
        super().__init__()
        self.use_native = use_native

    def forward(
        self,
        value: torch.Tensor,
        value_spatial_shapes: torch.Tensor,
        value_spatial_shapes_list: list[tuple[int, int]],
        level_start_index: torch.Tensor,
        sampling_locations: torch.Tensor,
        attention_weights: torch.Tensor,
        im2col_step: int,
    ) -> torch.Tensor:
        if self.use_native:
            from groundlabel.inference.native import native_sample

            out = native_sample(value, value_spatial_shapes_list, sampling_locations, attention_weights)
            if out is not None:
                return out
        return deformable_sample(value, value_spatial_shapes_list, sampling_locations, attention_weights)
