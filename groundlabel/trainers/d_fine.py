"""D-FINE (Apache-2.0; ``DFineForObjectDetection``): RT-DETR's design with an HGNetV2 backbone and
boxes refined as distributions (fine-grained distribution refinement); the same training loop."""

from __future__ import annotations

from typing import Any

from groundlabel.trainers.base import Architecture, tiny_detr_config


def tiny_config() -> dict[str, Any]:
    """A few hundred thousand parameters: HGNetV2 with one small block per stage, narrow everything."""
    return tiny_detr_config(
        {
            "model_type": "hgnet_v2",
            "embedding_size": 16,
            "depths": [1, 1, 1, 1],
            "hidden_sizes": [32, 64, 128, 256],
            "stem_channels": [3, 16, 16],
            "stage_in_channels": [16, 32, 64, 128],
            "stage_mid_channels": [16, 16, 32, 64],
            "stage_out_channels": [32, 64, 128, 256],
            "stage_num_blocks": [1, 1, 1, 1],
            "stage_downsample": [False, True, True, True],
            "stage_light_block": [False, False, True, True],
            "stage_kernel_size": [3, 3, 5, 5],
            "stage_numb_of_layers": [2, 2, 2, 2],
            "out_features": ["stage2", "stage3", "stage4"],
        },
        hidden_expansion=0.5,
        depth_mult=0.34,
    )


ARCHITECTURE = Architecture(
    name="d-fine",
    model_type="d_fine",
    config_class="DFineConfig",
    model_class="DFineForObjectDetection",
    default_checkpoint="ustc-community/dfine-small-coco",
    licence="Apache-2.0",
    tiny_config=tiny_config,
)
