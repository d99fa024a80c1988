"""groundlabel.cvat through cvat-sdk's own code: its spec classes and its driver's validation.

No CVAT server runs here (it needs its own container images), and no fake one is written.
What cvat-cli's ``task auto-annotate`` does with a function, apart from downloading frames and
uploading shapes, is cvat-sdk code, and that code is what these tests run:
- ``cvat_cli._internal.common.FunctionLoader`` loads the module and calls ``create(**params)``
  as ``--function-module groundlabel.cvat -p ...`` does (a private name: no public loader exists);
- the function's ``spec`` is a ``cvat_sdk.auto_annotation.DetectionFunctionSpec`` (public; its
  validator runs on construction);
- each frame's shapes go through ``cvat_sdk.auto_annotation.driver._AnnotationMapper``'s
  ``validate_and_remap`` against a task's labels, with the driver's context class
  ``_DetectionFunctionContextImpl``: both private, the only entry points to the checks
  ``annotate_task`` applies without a server.
Boxes, masks and polygons are then decoded and compared with what groundlabel's core computes
on its own (``Detector.detect``, a segmenter's ``add_masks``, ``groundlabel.masks``).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

cvataa = pytest.importorskip("cvat_sdk.auto_annotation", reason="the cvat extra is not installed")
import cvat_sdk.models as cvat_models  # noqa: E402
import groundlabel.cvat as gl_cvat  # noqa: E402
from cvat_sdk.auto_annotation.driver import (  # noqa: E402
    _AnnotationMapper,
    _DetectionFunctionContextImpl,
)
from cvat_sdk.masks import decode_mask  # noqa: E402
from groundlabel.cvat import GroundlabelFunction  # noqa: E402
from groundlabel.cvat.params import CvatParameterError, parse_parameters  # noqa: E402
from PIL import Image  # noqa: E402

from groundlabel import masks as mask_codec  # noqa: E402
from groundlabel.labels import LabelSet  # noqa: E402

PHOTO = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos" / "chelsea.png"
LABELS = "cat, dog=puppy|hound"
FAMILIES = ["grounding-dino", "mm-grounding-dino", "owlv2", "owlvit"]


@pytest.fixture(scope="module")
def image() -> Image.Image:
    return Image.open(PHOTO).convert("RGB")


@pytest.fixture(scope="module")
def checkpoint(tiny_model_dir, family_model):
    return lambda family: tiny_model_dir if family == "grounding-dino" else family_model(family)


def context(conf_threshold: float | None = None, conv_mask_to_poly: bool = False):
    return _DetectionFunctionContextImpl(
        frame_name="frame_000003.png", conf_threshold=conf_threshold, conv_mask_to_poly=conv_mask_to_poly
    )


def task_labels(kind: str, names: tuple[str, ...] = ("dog", "person", "cat")) -> list:
    """A task's labels as the server sends them (ids its own, order its own, one extra label)."""
    return [
        cvat_models.Label._from_openapi_data(
            name=name, id=200 + i, type=kind, color="#33ddff", attributes=[], sublabels=[], has_parent=False
        )
        for i, name in enumerate(names)
    ]


def validate(function, shapes, kind: str, conv_mask_to_poly: bool = False, frame: int = 3) -> list:
    """cvat-sdk's driver check of one frame's output against the task's labels; the remapped shapes."""
    mapper = _AnnotationMapper(
        logging.getLogger("test"),
        function.spec.labels,
        task_labels(kind),
        allow_unmatched_labels=False,
        conv_mask_to_poly=conv_mask_to_poly,
    )
    tags, remapped = mapper.validate_and_remap(shapes, frame)
    assert tags == []
    return remapped


def core_result(function, image, threshold: float):
    """groundlabel's own answer for the same image: the detector's ``detect``, best first."""
    return next(
        function.detector.detect(image, LabelSet.parse(LABELS), box_threshold=threshold, text_threshold=0.0)
    )


_LOADED: dict[str, object] = {}


def build(model: Path, **params):
    """The function for these parameters, its detector and segmenter loaded once per module.

    ``create`` itself (parameters, loading) runs in the spec test and the parameter tests; the
    others share the loaded models, because loading dominates their time.
    """
    from groundlabel.class_thresholds import ClassThresholds
    from groundlabel.detector import Detector
    from groundlabel.segmenters.base import load_segmenter

    parsed = parse_parameters({"labels": LABELS, "model": str(model), "text_threshold": 0.0, **params})
    if str(model) not in _LOADED:
        _LOADED[str(model)] = Detector.load(str(model), device="cpu")
    segmenter = None
    if parsed.masks:
        if parsed.masks not in _LOADED:
            _LOADED[parsed.masks] = load_segmenter(parsed.masks, device="cpu")
        segmenter = _LOADED[parsed.masks]
    thresholds = (
        ClassThresholds.load_json(parsed.class_thresholds) if parsed.class_thresholds else ClassThresholds()
    )
    return GroundlabelFunction(
        _LOADED[str(model)], LabelSet.parse(parsed.labels), parsed, thresholds, segmenter
    )


def task_ids_of(result) -> list[int]:
    """Task label ids the driver must give each box (task_labels: dog 200, person 201, cat 202)."""
    return [{"cat": 202, "dog": 200}[name] for name in result.labels]


def test_the_spec_follows_the_class_list_and_cvat_accepts_it(tiny_model_dir, sam_dir):
    boxes = gl_cvat.create(labels=LABELS, model=str(tiny_model_dir), device="cpu")
    assert isinstance(boxes.spec, cvataa.DetectionFunctionSpec)
    assert [(label.name, label.id, label.type) for label in boxes.spec.labels] == [
        ("cat", 0, "rectangle"),
        ("dog", 1, "rectangle"),
    ]
    assert [c.aliases for c in boxes.labels.classes] == [(), ("puppy", "hound")]  # prompted with the aliases
    masks = gl_cvat.create(labels=LABELS, model=str(tiny_model_dir), masks=str(sam_dir), device="cpu")
    assert [label.type for label in masks.spec.labels] == ["mask", "mask"]
    # cvat-sdk's own check of a spec bites: two labels with one id are refused.
    with pytest.raises(cvataa.BadFunctionError, match="same ID"):
        cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec("a", 0), cvataa.label_spec("b", 0)])


@pytest.mark.parametrize("family", FAMILIES)
def test_rectangles_of_every_family_pass_the_driver_and_equal_the_detector(family, checkpoint, image):
    function = build(checkpoint(family), box_threshold=0.0)
    assert function.detector.family == family
    shapes = function.detect(context(), image)
    expected = core_result(function, image, 0.0)
    assert expected.boxes, "the tiny model must give boxes for this test to mean anything"
    remapped = validate(function, shapes, "rectangle")
    assert [s.type.value for s in remapped] == ["rectangle"] * len(expected.boxes)
    assert [s.label_id for s in remapped] == task_ids_of(expected)
    assert {(s.frame, s.source) for s in remapped} == {(3, "auto")}
    np.testing.assert_allclose([s.points for s in remapped], expected.boxes, rtol=0, atol=1e-4)
    # A task whose labels lack one of the classes is refused by the driver, as CVAT would.
    mapper_labels = task_labels("rectangle", ("cat", "person"))
    with pytest.raises(cvataa.BadFunctionError, match="'dog' is not in dataset"):
        _AnnotationMapper(
            logging.getLogger("test"),
            function.spec.labels,
            mapper_labels,
            allow_unmatched_labels=False,
            conv_mask_to_poly=False,
        )


def test_cvat_conf_threshold_replaces_the_box_threshold(tiny_model_dir, image):
    function = build(tiny_model_dir, box_threshold=1.0)
    everything = core_result(function, image, 0.0)
    scores = sorted(everything.scores)
    cut = scores[len(scores) // 2]
    shapes = function.detect(context(conf_threshold=cut), image)
    wanted = [box for box, score in zip(everything.boxes, everything.scores, strict=True) if score >= cut]
    assert 0 < len(wanted) < len(everything.boxes)
    np.testing.assert_allclose([s.points for s in validate(function, shapes, "any")], wanted, atol=1e-4)
    # Without CVAT's threshold, the function's own box threshold decides (1.0: no box passes).
    assert function.detect(context(), image) == []


def test_a_class_thresholds_file_cuts_its_class_and_never_goes_below_cvat(tiny_model_dir, image, tmp_path):
    everything = core_result(build(tiny_model_dir), image, 0.0)
    cat_scores = sorted(s for s, n in zip(everything.scores, everything.labels, strict=True) if n == "cat")
    own = cat_scores[len(cat_scores) // 2]
    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"Cat": own, "dog": None}))  # keys matched as calibrate writes them
    function = build(tiny_model_dir, box_threshold=0.0, class_thresholds=str(thresholds))

    def kept(conf: float | None) -> list[tuple[str, float]]:
        return [(function.labels.names[k.class_id], k.score) for k in function.kept(image, conf)]

    cats = [score for name, score in kept(None) if name == "cat"]
    assert cats and min(cats) >= own and len(cats) < len(cat_scores)
    assert sum(name == "dog" for name, _ in kept(None)) == everything.labels.count("dog")
    high = max(everything.scores)
    assert all(score >= high for _, score in kept(high)) and kept(high)


@pytest.mark.parametrize("family", FAMILIES)
def test_masks_and_polygons_pass_the_driver_and_decode_to_the_segmenters_masks(
    family, checkpoint, sam_dir, image
):
    from groundlabel.segmenters.base import load_segmenter
    from groundlabel.segmenters.refine import add_masks

    function = build(checkpoint(family), box_threshold=0.0, masks=str(sam_dir), max_detections=4)
    expected = core_result(function, image, 0.0)
    expected = add_masks(load_segmenter(str(sam_dir), device="cpu"), image, expected)
    order = np.argsort([-s for s in expected.scores], kind="stable")[:4]
    want = [expected.masks[i] for i in order]
    width, height = image.size

    shapes = function.detect(context(), image)
    remapped = validate(function, shapes, "mask")
    assert [s.type.value for s in remapped] == ["mask"] * len(want)
    for shape, rle in zip(remapped, want, strict=True):
        decoded = decode_mask(shape.points, image_width=width, image_height=height)
        assert np.array_equal(decoded, mask_codec.decode(rle))
    assert any(mask_codec.area(rle) for rle in want), "the masks must have pixels to compare"
    # A mask label of the task cannot take rectangles, nor a rectangle label masks: the driver says so.
    with pytest.raises(cvataa.BadFunctionError, match="'mask' in the function"):
        validate(function, shapes, "rectangle")
    # CVAT's conv_mask_to_poly: polygons, the driver refuses masks then, and they are the masks' contours.
    with pytest.raises(cvataa.BadFunctionError, match=r"type 'mask' \(expected 'polygon'\)"):
        validate(function, function.detect(context(), image), "any", conv_mask_to_poly=True)
    polygons = validate(function, function.detect(context(conv_mask_to_poly=True), image), "polygon", True)
    assert [s.points for s in polygons] == [p for rle in want for p in mask_codec.to_polygons(rle)]
    assert polygons and {s.type.value for s in polygons} == {"polygon"}


@pytest.mark.parametrize(("family", "threshold"), [("sam3", 0.05), ("sam3_lite_text", 0.2)])
def test_sam3_masks_come_from_the_detector_itself(family, threshold, family_model, image):
    """SAM 3 gives a mask per box without a segmenter: mask labels, its own masks, its polygons."""
    function = build(family_model(family), box_threshold=threshold)
    assert [label.type for label in function.spec.labels] == ["mask", "mask"]
    expected = core_result(function, image, threshold)
    assert expected.masks and all(rle is not None for rle in expected.masks)
    width, height = image.size
    remapped = validate(function, function.detect(context(), image), "mask")
    assert [s.label_id for s in remapped] == task_ids_of(expected)
    for shape, rle in zip(remapped, expected.masks, strict=True):
        decoded = decode_mask(shape.points, image_width=width, image_height=height)
        assert np.array_equal(decoded, mask_codec.decode(rle))
    polygons = validate(function, function.detect(context(conv_mask_to_poly=True), image), "polygon", True)
    assert [s.points for s in polygons] == [p for rle in expected.masks for p in mask_codec.to_polygons(rle)]


LOAD = "from cvat_cli._internal.common import FunctionLoader; FunctionLoader('groundlabel.cvat', None, {}).load()"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"labels": "cat", "modle": "x"}, "unknown parameter 'modle'; groundlabel.cvat takes: labels, model"),
        ({"labels": "cat", "box_threshold": "high"}, "box_threshold must be a float, not a str"),
        ({"model": "x"}, "the class list is missing"),
        ({"labels": "cat", "model": "/no/such/model"}, "/no/such/model"),
    ],
)
def test_a_wrong_parameter_ends_cvat_cli_with_one_line(params, message):
    """As ``cvat-cli ... --function-module groundlabel.cvat -p ...`` loads it (its FunctionLoader)."""
    code = LOAD.replace("{}", repr(params))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert lines and lines[-1].startswith("groundlabel.cvat: ") and message in lines[-1], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"labels": "cat", "box_threshold": 1.5}, "box_threshold is 1.5: give a number from 0 to 1"),
        ({"labels": "cat", "max_detections": 0}, "max_detections is 0"),
        ({"labels": "cat", "dtype": "fp8"}, "dtype is 'fp8'"),
        ({"labels": "cat,,dog"}, "empty"),
        ({"labels": "cat", "class_thresholds": "/no/such.json"}, "no such thresholds file"),
    ],
)
def test_every_bad_value_is_named_before_a_model_loads(params, message):
    with pytest.raises(SystemExit, match=message) as raised:
        gl_cvat.create(model="/never/loaded", **params)
    assert str(raised.value).startswith("groundlabel.cvat: ") and "\n" not in str(raised.value)
    with pytest.raises(CvatParameterError):
        parse_parameters({"labels": "cat", "box_threshold": True})
