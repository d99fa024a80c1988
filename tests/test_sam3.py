"""SAM 3 and SAM 3 LiteText against the transformers reference path, and through every front end.

The reference (``Sam3Processor``, the model, ``post_process_instance_segmentation``)
needs torchvision, so it runs in the readers venv (``tests/readers/sam3_reference.py``)
on the same tiny random checkpoints and images; groundlabel's path runs here, where
torchvision is not installed at all. Boxes and scores must agree within 1e-4 and masks
pixel for pixel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from groundlabel import Detector, LabelSet, load_image
from groundlabel import masks as mask_codec
from groundlabel.boxes import box_iou
from groundlabel.cli import main as cli_main
from groundlabel.families.sam3 import SAME_OBJECT_IOU
from groundlabel.project import ReviewProject

PHOTOS = Path(__file__).resolve().parents[1] / "assets" / "reference" / "photos"
REFERENCE_SCRIPT = Path(__file__).parent / "readers" / "sam3_reference.py"
FAMILIES = ["sam3", "sam3_lite_text"]
PHRASES = ["cat", "remote control", "tv remote"]
# Inside each tiny model's score range: some queries pass, some do not.
THRESHOLDS = {"sam3": 0.05, "sam3_lite_text": 0.2}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    """The reference photos as groundlabel decodes them, so both paths read the same pixels."""
    folder = tmp_path_factory.mktemp("sam3-photos")
    paths = []
    for name in ("chelsea.png", "astronaut.png"):
        load_image(PHOTOS / name).save(folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def reference(family_model, photos, readers_venv, tmp_path_factory) -> Path:
    """Run the reference once for both families; its outputs land under the returned folder."""
    root = tmp_path_factory.mktemp("sam3-reference")
    request = {
        "models": {f: {"folder": str(family_model(f)), "threshold": THRESHOLDS[f]} for f in FAMILIES},
        "images": [str(p) for p in photos],
        "phrases": PHRASES,
    }
    (root / "request.json").write_text(json.dumps(request))
    python = readers_venv
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(root)}
    run = subprocess.run(
        [str(python), str(REFERENCE_SCRIPT), str(root / "request.json"), str(root)],
        capture_output=True, text=True, env=env, timeout=600, cwd=root,
    )  # fmt: skip
    assert "SAM3-REFERENCE-DONE" in run.stdout, run.stdout[-3000:] + run.stderr[-3000:]
    return root


@pytest.fixture(scope="module", params=FAMILIES)
def family(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def detector(family, family_model) -> Detector:
    return Detector.load(str(family_model(family)), device="cpu")


def reference_found(reference: Path, family: str, image: int, phrase: str, size: tuple[int, int]):
    """(scores, clamped boxes, masks) of one reference pass, best score first."""
    found = json.loads((reference / family / "result.json").read_text())["images"][str(image)][phrase]
    masks = np.load(reference / family / f"{image}-{PHRASES.index(phrase)}.npy")
    scores = torch.tensor(found["scores"])
    boxes = torch.tensor(found["boxes"]).reshape(-1, 4)
    width, height = size
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, width)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, height)
    order = torch.argsort(scores, descending=True, stable=True)
    return scores[order], boxes[order], masks[order.numpy()]


@pytest.mark.slow  # the reference path runs in the readers venv
def test_the_image_half_equals_the_processor(detector, family, reference, photos):
    for index, photo in enumerate(photos):
        ours = detector.adapter.pixels([load_image(photo)])["pixel_values"]
        theirs = torch.from_numpy(np.load(reference / family / f"{index}.pixels.npy"))
        assert ours.shape == theirs.shape and torch.equal(ours, theirs)


@pytest.mark.slow  # the reference path runs in the readers venv
@pytest.mark.parametrize("phrase", ["cat", "remote control"])
def test_one_phrase_equals_the_reference_path(detector, family, reference, photos, phrase):
    assert "torchvision" not in sys.modules
    for index, photo in enumerate(photos):
        image = load_image(photo)
        result = next(detector.detect(image, LabelSet.parse(phrase), box_threshold=THRESHOLDS[family]))
        everything = next(detector.detect(image, LabelSet.parse(phrase), box_threshold=0.0))
        scores, boxes, masks = reference_found(reference, family, index, phrase, image.size)
        assert result.ok and 0 < len(result.boxes) < len(everything.boxes)
        assert len(result.boxes) == len(scores) == len(result.masks) == len(result.mask_scores)
        assert (torch.tensor(result.scores) - scores).abs().max() < 1e-4
        assert (torch.tensor(result.boxes) - boxes).abs().max() < 1e-4
        assert set(result.labels) == {phrase}
        for rle, expected, score, mask_score in zip(
            result.masks, masks, result.scores, result.mask_scores, strict=True
        ):
            decoded = mask_codec.decode(rle)
            assert decoded.shape == (image.height, image.width) and decoded.any()
            assert np.array_equal(decoded, expected)
            assert mask_score == score


@pytest.mark.slow  # the reference path runs in the readers venv
def test_aliases_and_classes_give_each_object_one_class(detector, family, reference, photos):
    """Every kept box is a reference box of one of its class's phrases; an object several
    phrases found is kept once, from the phrase that scores it highest."""
    labels = LabelSet.parse("cat, remote control=remote control|tv remote")
    for index, photo in enumerate(photos):
        image = load_image(photo)
        result = next(detector.detect(image, labels, box_threshold=THRESHOLDS[family]))
        candidates = []  # (score, box, class, pass) over every phrase's reference pass
        for number, (phrase, owner) in enumerate(labels.phrase_owners()):
            scores, boxes, _ = reference_found(reference, family, index, phrase, image.size)
            candidates += [(float(s), b, owner, number) for s, b in zip(scores, boxes, strict=True)]
        kept = []
        for box, score, class_id in zip(result.boxes, result.scores, result.class_ids, strict=True):
            twins = [
                c
                for c in candidates
                if abs(c[0] - score) < 1e-4 and (c[1] - torch.tensor(box)).abs().max() < 1e-4
            ]
            assert twins and twins[0][2] == class_id
            kept.append(twins[0])
        assert len(set(result.labels)) >= 1 and set(result.labels) <= set(labels.names)
        for a in kept:  # no object twice from two passes
            for b in kept:
                if a is not b and a[3] != b[3]:
                    assert box_iou(a[1][None], b[1][None]).item() <= SAME_OBJECT_IOU
        for score, box, _, number in candidates:  # each dropped box lost to a better one of another pass
            if not any(k[3] == number and k[0] == score for k in kept):
                assert any(
                    k[3] != number
                    and k[0] >= score
                    and box_iou(k[1][None], box[None]).item() > SAME_OBJECT_IOU
                    for k in kept
                )


def test_nms_and_max_detections_apply_as_for_every_family(detector, photos):
    image = load_image(photos[0])
    labels = LabelSet.parse("cat")
    plain = next(detector.detect(image, labels, box_threshold=0.0))
    fewer = next(detector.detect(image, labels, box_threshold=0.0, nms_iou=0.5, max_detections=3))
    assert 0 < len(fewer.boxes) <= 3 < len(plain.boxes)
    assert fewer.scores == sorted(fewer.scores, reverse=True) and len(fewer.masks) == len(fewer.boxes)
    overlaps = box_iou(torch.tensor(fewer.boxes), torch.tensor(fewer.boxes))
    assert (overlaps.triu(1) <= 0.5).all()


def test_a_phrase_too_long_for_the_text_tower_is_refused(detector):
    from groundlabel.errors import LabelSetError

    with pytest.raises(LabelSetError, match="32"):
        detector.prompts(LabelSet.parse("word " * 40))


def test_example_boxes_say_why_sam3_cannot_use_them(detector, photos):
    from groundlabel.exemplars import Exemplar, ExemplarError

    with pytest.raises(ExemplarError, match=r"roi_align.*torchvision"):
        list(detector.detect_like(photos[0], [Exemplar(photos[0], (10, 10, 60, 60), "cat")]))


def test_detect_cli_writes_coco_with_masks(family, family_model, photo_dir, tmp_path):
    output = tmp_path / "out.json"
    code = cli_main(
        ["detect", str(photo_dir), "-l", "cat, person", "--model", str(family_model(family)), "--device", "cpu",
         "--box-threshold", str(THRESHOLDS[family]), "-o", str(output)]
    )  # fmt: skip
    assert code == 0
    coco = json.loads(output.read_text())
    assert len(coco["images"]) == 2 and coco["annotations"] and coco["info"]["family"] == family
    sizes = {image["id"]: [image["height"], image["width"]] for image in coco["images"]}
    for annotation in coco["annotations"]:  # SAM 3's masks, exact (RLE)
        segmentation = annotation["segmentation"]
        assert segmentation["size"] == sizes[annotation["image_id"]] and mask_codec.area(segmentation) > 0


def test_detect_into_project_stores_the_masks(family_model, photo_dir):
    model = str(family_model("sam3"))
    code = cli_main(
        ["detect", str(photo_dir), "-l", "cat", "--model", model, "--device", "cpu",
         "--box-threshold", str(THRESHOLDS["sam3"]), "--into-project"]
    )  # fmt: skip
    assert code == 0
    detector = Detector.load(model, device="cpu")
    with ReviewProject.open(photo_dir) as project:
        for image in project.images():
            boxes = sorted(project.boxes(image.id), key=lambda b: -(b.score or 0))
            expected = next(
                detector.detect(
                    photo_dir / image.path, LabelSet.parse("cat"), box_threshold=THRESHOLDS["sam3"]
                )
            )
            assert (
                boxes
                and len(boxes) == len(expected.masks)
                and project.image(image.id).mask_count == len(boxes)
            )
            for box, mask, score in zip(boxes, expected.masks, expected.scores, strict=True):
                assert mask_codec.normalise(box.mask) == mask_codec.normalise(mask)
                assert box.mask_score == pytest.approx(score) and box.mask_model == f"sam3:{model}"


def test_serve_predicts_with_sam3(family_model, photo_dir):
    from fastapi.testclient import TestClient
    from groundlabel.backend.app import create_app
    from groundlabel.backend.predictor import Predictor
    from groundlabel.backend.settings import BackendSettings
    from groundlabel.backend.task_images import TaskImageFetcher

    from groundlabel.detector import DetectionSettings

    detector = Detector.load(str(family_model("sam3")), device="cpu")
    settings = BackendSettings(local_files_root=photo_dir.parent.resolve())
    predictor = Predictor(detector, DetectionSettings(THRESHOLDS["sam3"], 0.0), TaskImageFetcher(settings))
    config = '<View><Image name="image" value="$image"/><RectangleLabels name="label" toName="image">' \
        '<Label value="cat"/></RectangleLabels></View>'  # fmt: skip
    body = {
        "tasks": [{"id": 1, "data": {"image": "/data/local-files/?d=photos/chelsea.png"}}],
        "label_config": config,
        "project": "1.1",
    }
    with TestClient(create_app(predictor, settings)) as client:
        response = client.post("/predict", json=body)
    assert response.status_code == 200, response.text
    (entry,) = response.json()["results"]
    rectangles = [r for r in entry["result"] if r["type"] == "rectanglelabels"]
    assert rectangles and all(r["value"]["rectanglelabels"] == ["cat"] for r in rectangles)
    assert "sam3" in entry["model_version"]


def _hub_error(kind: str, status: int):
    import httpx2
    from huggingface_hub import errors

    request = httpx2.Request("GET", "https://huggingface.co/facebook/sam3/resolve/main/config.json")
    return getattr(errors, kind)(f"{status} Client Error", response=httpx2.Response(status, request=request))


@pytest.mark.parametrize(("kind", "status"), [("GatedRepoError", 403), ("RepositoryNotFoundError", 401),
                                              ("HfHubHTTPError", 403)])  # fmt: skip
def test_a_gated_checkpoint_says_how_to_get_access(kind, status, tmp_path, photo_dir, monkeypatch, capsys):
    """The hub cannot be reached here: its answer is raised from a patched download."""
    import transformers.utils.hub

    from groundlabel import model_loading
    from groundlabel.errors import ModelLoadError

    def refuse(*args, **kwargs):
        raise _hub_error(kind, status)

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(model_loading, "_require_hub", lambda model: None)
    monkeypatch.setattr(transformers.utils.hub, "hf_hub_download", refuse)
    with pytest.raises(ModelLoadError) as caught:
        model_loading.load_model("facebook/sam3", device="cpu")
    message = str(caught.value)
    assert "\n" not in message and f"HTTP {status}" in message
    for part in ("'facebook/sam3'", "request access on https://huggingface.co/facebook/sam3", "hf auth login",
                 "--model DIR"):  # fmt: skip
        assert part in message
    code = cli_main(["detect", str(photo_dir), "-l", "cat", "--model", "facebook/sam3", "--device", "cpu",
                     "-o", str(tmp_path / "x.json")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "request access" in err and "Traceback" not in err


def test_other_model_kinds_share_the_gated_explanation():
    from groundlabel.errors import ModelLoadError
    from groundlabel.model_loading import explain_hub_refusal

    expected = r"facebook/sam2\.1-hiera-tiny.*request access.*hf auth login"
    with pytest.raises(ModelLoadError, match=expected), explain_hub_refusal("facebook/sam2.1-hiera-tiny"):
        try:
            raise _hub_error("GatedRepoError", 403)
        except OSError as exc:
            raise OSError("You are trying to access a gated repo.") from exc
    with pytest.raises(OSError, match="disk full"), explain_hub_refusal("x/y"):
        raise OSError("disk full")


def test_a_hub_id_with_the_older_preprocessor_file_loads_the_same(
    family_model, photos, tmp_path, monkeypatch
):
    """A cached hub snapshot, its image settings in ``preprocessor_config.json`` (older processors)."""
    import shutil

    snapshot = tmp_path / "hub" / "models--example--sam3" / "snapshots" / ("0" * 40)
    shutil.copytree(family_model("sam3"), snapshot)
    processor = json.loads((snapshot / "processor_config.json").read_text())
    (snapshot / "preprocessor_config.json").write_text(json.dumps(processor["image_processor"]))
    (snapshot / "processor_config.json").unlink()
    (tmp_path / "hub" / "models--example--sam3" / "refs").mkdir()
    (tmp_path / "hub" / "models--example--sam3" / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    from_hub = Detector.load("example/sam3", device="cpu")
    local = Detector.load(str(family_model("sam3")), device="cpu")
    assert from_hub.adapter.processor.preprocessing == local.adapter.processor.preprocessing
    assert from_hub.adapter.processor.preprocessing.height == 112
    a = next(from_hub.detect(photos[0], LabelSet.parse("cat"), box_threshold=THRESHOLDS["sam3"]))
    b = next(local.detect(photos[0], LabelSet.parse("cat"), box_threshold=THRESHOLDS["sam3"]))
    assert a.boxes == b.boxes and a.masks == b.masks and a.boxes
