"""``ls-prelabel --ray``'s driver skips tasks by the version its actors post, so it must compute the same one."""

from __future__ import annotations

import pytest
from groundlabel.backend.prelabel_ray_cli import actors_model_version
from groundlabel.backend.server import ModelOptions, build_predictor
from groundlabel.backend.settings import BackendSettings

from groundlabel.class_thresholds import ClassThresholds


@pytest.mark.slow  # starts Ray
@pytest.mark.parametrize("per_class", [None, {"cat": 0.5, "person": None}])
def test_the_driver_computes_the_version_a_predictor_posts(tiny_model_dir, per_class):
    thresholds = ClassThresholds.from_mapping(per_class) if per_class else None
    options = ModelOptions(str(tiny_model_dir), "cpu", "fp32", 0.3, 0.2, thresholds)
    predictor = build_predictor(options, BackendSettings())
    try:
        assert actors_model_version(options) == predictor.model_version
        assert predictor.model_version.startswith("groundlabel-grounding-dino-")
    finally:
        predictor.fetcher.close()


def test_the_driver_counts_the_mask_model_in_the_version(tiny_model_dir, sam_dir):
    options = ModelOptions(str(tiny_model_dir), "cpu", "fp32", 0.3, 0.2, masks=str(sam_dir))
    predictor = build_predictor(options, BackendSettings())
    try:
        assert actors_model_version(options) == predictor.model_version
        assert "+sam" in predictor.model_version
    finally:
        predictor.fetcher.close()
