"""Label Studio configs read through label-studio-sdk's LabelInterface into box targets."""

from __future__ import annotations

import pytest
from groundlabel.backend.label_config import LabelConfigError, parse_box_targets
from groundlabel.backend.model_version import model_version
from groundlabel.backend.predictions import Box, prediction, region

from groundlabel.detector import DetectionSettings

TWO_IMAGES = """
<View>
  <Image name="photo" value="$image"/>
  <Image name="thermal" value="$ir"/>
  <RectangleLabels name="objects" toName="photo" model_score_threshold="0.6">
    <Label value="Cat" predicted_values="cat,kitten"/>
    <Label value="TV remote"/>
  </RectangleLabels>
  <RectangleLabels name="heat" toName="thermal">
    <Label value="Person"/>
  </RectangleLabels>
  <RectangleLabels name="manual" toName="photo" model_skip="true">
    <Label value="Scratch"/>
  </RectangleLabels>
  <Choices name="quality" toName="photo"><Choice value="good"/></Choices>
  <TextArea name="prompt" toName="photo"/>
</View>
"""


def test_every_rectangle_control_on_an_image_becomes_a_target():
    targets = parse_box_targets(TWO_IMAGES)
    assert [(t.from_name, t.to_name, t.data_key) for t in targets] == [
        ("objects", "photo", "image"),
        ("heat", "thermal", "ir"),
    ]
    objects, heat = targets
    assert objects.labels.names == ["Cat", "TV remote"]
    assert objects.labels.classes[0].phrases == ("cat", "kitten")
    assert objects.labels.classes[1].phrases == ("tv remote",)
    assert objects.score_threshold == 0.6
    assert objects.prompt_controls == ("prompt",)
    assert heat.score_threshold is None
    assert heat.prompt_controls == ()


def test_model_skip_drops_the_control():
    assert "manual" not in [t.from_name for t in parse_box_targets(TWO_IMAGES)]


@pytest.mark.parametrize(
    "config",
    [
        "",
        "<View><Image name='i' value='$image'/><Choices name='c' toName='i'><Choice value='a'/></Choices></View>",
        "<View><Image name='i' value='$image'/>"
        "<RectangleLabels name='r' toName='i' model_skip='true'><Label value='a'/></RectangleLabels></View>",
        "<View><Image name='i' value='$image'",
    ],
)
def test_config_without_usable_control_is_one_clear_error(config):
    with pytest.raises(LabelConfigError) as caught:
        parse_box_targets(config)
    message = str(caught.value)
    assert "RectangleLabels" in message or "cannot be parsed" in message or "no labeling config" in message


def test_bad_threshold_falls_back_to_the_default():
    config = (
        "<View><Image name='i' value='$image'/><RectangleLabels name='r' toName='i' model_score_threshold='high'>"
        "<Label value='a'/></RectangleLabels></View>"
    )
    assert parse_box_targets(config)[0].score_threshold is None


def test_model_version_is_deterministic_and_tracks_settings():
    settings = DetectionSettings(0.35, 0.25)
    first = model_version("IDEA-Research/grounding-dino-tiny", settings)
    assert first == model_version("IDEA-Research/grounding-dino-tiny", DetectionSettings(0.35, 0.25))
    assert first.startswith("groundlabel-grounding-dino-tiny-")
    assert first != model_version("IDEA-Research/grounding-dino-tiny", DetectionSettings(0.4, 0.25))
    assert first != model_version("IDEA-Research/grounding-dino-base", settings)


def test_region_is_in_percent_of_the_shown_image_and_clamped():
    inside = region(Box(45.1, 30, 225.5, 150, 0.9, "Cat"), "objects", "photo", (451, 300), "r1")
    value = inside["value"]
    assert value["rectanglelabels"] == ["Cat"]
    assert [value[k] for k in ("x", "y", "width", "height")] == pytest.approx([10.0, 10.0, 40.0, 40.0])
    assert (inside["original_width"], inside["original_height"], inside["image_rotation"]) == (451, 300, 0)
    assert (inside["from_name"], inside["to_name"], inside["type"]) == ("objects", "photo", "rectanglelabels")
    outside = region(Box(-5, -5, 500, 400, 0.5, "Cat"), "objects", "photo", (451, 300), "r2")["value"]
    assert (outside["x"], outside["y"], outside["width"], outside["height"]) == (0.0, 0.0, 100.0, 100.0)
    whole = prediction([inside, {**inside, "score": 0.5}], "v1")
    assert whole["score"] == pytest.approx(0.7)
    assert whole["model_version"] == "v1"
    assert prediction([], "v1") == {"result": [], "score": 0.0, "model_version": "v1"}
