"""groundlabel.cvat.tracking through cvat-cli's own agent code: its worker set-up and its tracking driver.

No CVAT server runs here. What ``cvat-cli function run-agent`` does with a tracking function,
apart from polling the server and fetching frames, is cvat-cli code, and that code runs here:
- ``cvat_cli._internal.agent._worker_init`` loads the module as the agent's worker process does
  (``FunctionLoader`` -> ``create(**params)``), picks the driver for the spec
  (``get_function_driver_class``) and sets up its tracking-state store;
- ``AgentTrackingFunctionDriver`` gives the fields ``function create-native`` registers, checks
  a registered function against the spec, and answers ``init_tracking`` and ``track`` requests
  through ``calculate_result_for_ar`` (the request and result dicts the agent exchanges with the
  server): it converts the shapes, refuses a type the spec lacks, stores and retrieves the
  states by id, refuses a frame of another size and a shape of another type.
Only ``_get_sample_from_ar_params`` (which downloads the frame from the task) is replaced, by a
list of local frames, and the agent's process pool by an in-process one. All private names of
cvat-cli 2.80 (no public entry point to them exists).

Every frame's shape is then compared with what groundlabel's core gives for the same prompt
and frames: ``Sam2VideoTracker`` prompted with the box (itself held to transformers' reference
in ``test_track_sam2_video.py``), and, for a mask, the prompt transformers' own processor
writes into the session.
"""

from __future__ import annotations

import concurrent.futures
import os
import subprocess
import sys
import sys as _sys
from types import SimpleNamespace

import numpy as np
import pytest

cvataa = pytest.importorskip("cvat_sdk.auto_annotation", reason="the cvat extra is not installed")
import torch  # noqa: E402
from cvat_cli._internal import agent  # noqa: E402
from cvat_cli._internal.agent_driver import (  # noqa: E402
    BadArError,
    IncompatibleFunctionError,
    worker_current_function,
)
from cvat_cli._internal.agent_driver_tracking import AgentTrackingFunctionDriver  # noqa: E402
from cvat_cli._internal.common import FunctionLoader  # noqa: E402
from cvat_sdk.masks import decode_mask  # noqa: E402
from groundlabel.cvat.tracking import GroundlabelTrackingFunction, polygon_area  # noqa: E402
from PIL import Image  # noqa: E402

from groundlabel import masks as mask_codec  # noqa: E402
from groundlabel.devtools.random_trackers import save_random_video_tracker  # noqa: E402
from groundlabel.trackers.sam2_video import Sam2VideoTrackers  # noqa: E402
from groundlabel.trackers.single_object import SingleObjectTrack  # noqa: E402

MODULE = "groundlabel.cvat.tracking"
FRAMES, WIDTH, HEIGHT = 5, 90, 60
TASK = 7
BOX = [10.0, 10.0, 40.0, 35.0]
NEVER = _sys.maxsize


@pytest.fixture(scope="module")
def frames() -> list[Image.Image]:
    """A textured scene sliding 2 px a frame to the right."""
    base = np.random.default_rng(0).integers(0, 255, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    return [Image.fromarray(np.roll(base, 2 * t, axis=1)) for t in range(FRAMES)]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    root = tmp_path_factory.mktemp("cvat-tracking")
    return {
        "sam2_video": save_random_video_tracker(root / "sam2"),
        # EdgeTAM's seed-0 masks leave a margin, so its rectangles are not the whole frame.
        "edgetam_video": save_random_video_tracker(root / "edgetam", family="edgetam_video"),
        "hidden": save_random_video_tracker(root / "hidden", visible=-8.0),
    }


_LOADED: dict[str, Sam2VideoTrackers] = {}


def trackers(path) -> Sam2VideoTrackers:
    """A checkpoint loaded once per module (``create`` itself runs in the worker test)."""
    if str(path) not in _LOADED:
        _LOADED[str(path)] = Sam2VideoTrackers(str(path), "cpu")
    return _LOADED[str(path)]


class InProcess:
    """The agent's one-worker process pool, run in this process (the worker's globals are ours)."""

    def submit(self, fn, /, *args):
        future = concurrent.futures.Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:
            future.set_exception(exc)
        return future

    def result(self, future):
        return future.result()


class LocalFramesDriver(AgentTrackingFunctionDriver):
    """cvat-cli's tracking driver, its frames from a list instead of downloaded from task ``TASK``."""

    def __init__(self, spec, frames: list[Image.Image]) -> None:
        super().__init__(None, InProcess(), spec)
        self.frames = frames

    def _get_sample_from_ar_params(self, ar_params):
        image = self.frames[ar_params["frame"]]
        return SimpleNamespace(
            frame_index=ar_params["frame"], media=SimpleNamespace(load_image=image.copy)
        ), []


def start_worker(function: GroundlabelTrackingFunction) -> None:
    """What ``agent._worker_init`` does after loading: the current function, a fresh state store."""
    from cvat_cli._internal.agent_driver import set_worker_current_function

    set_worker_current_function(function)
    agent.get_function_driver_class(function.spec).init_worker(agent._default_tracking_state_id_generator)


def run_agent(function, frames, shapes: list[dict]) -> list[list[dict | None]]:
    """Shapes by frame as the agent would post them: ``init_tracking`` on frame 0, ``track`` on each next."""
    start_worker(function)
    driver = LocalFramesDriver(function.spec, frames)
    check_in = lambda **_: None  # noqa: E731
    init = driver.calculate_result_for_ar(
        {"type": "init_tracking", "task": TASK, "frame": 0, "shapes": shapes}, check_in
    )
    states = init["states"]
    assert len(states) == len(shapes) and len(set(states)) == len(states)
    out = []
    for t in range(1, len(frames)):
        result = driver.calculate_result_for_ar(
            {"type": "track", "task": TASK, "frame": t, "states": states}, check_in
        )
        assert result["states"] == states
        out.append(result["shapes"])
    return out


def core_boxes(path, frames, box) -> list:
    """The core clip tracker prompted with ``box`` on frame 0, then fed the frames with no detections."""
    tracker = trackers(path)(low_score=0.0, new_track_score=0.0, max_lost=NEVER)
    tracker.update(0, np.array([box]), np.array([1.0]), ["object"], image=frames[0])
    out = []
    for t, frame in enumerate(frames[1:], start=1):
        found = tracker.update(t, np.zeros((0, 4)), np.zeros(0), [], image=frame)
        out.append(found[0] if found else None)
    return out


def core_masks_from(path, frames, mask) -> list:
    track = SingleObjectTrack(trackers(path), frames[0], mask=mask)
    return [track.step(frame) for frame in frames[1:]]


def object_mask() -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[12:40, 20:45] = True
    mask[30:50, 45:60] = True
    return mask


def test_the_agent_worker_loads_the_module_and_the_sdk_takes_its_spec(checkpoints):
    loader = FunctionLoader(MODULE, None, {"model": str(checkpoints["sam2_video"]), "device": "cpu"})
    agent._worker_init(loader, agent._default_tracking_state_id_generator)
    function = worker_current_function()
    assert isinstance(function, GroundlabelTrackingFunction)
    _LOADED.setdefault(str(checkpoints["sam2_video"]), function.trackers)  # the other tests reuse it
    assert isinstance(function.spec, cvataa.TrackingFunctionSpec)
    driver_class = agent.get_function_driver_class(function.spec)
    assert driver_class is AgentTrackingFunctionDriver and driver_class.FUNCTION_KIND == "tracker"
    # What `function create-native` registers, and the agent's check of a registered function.
    assert driver_class.get_remote_function_fields(function.spec) == {
        "supported_shape_types": ["mask", "polygon", "rectangle"]
    }
    driver = driver_class(None, InProcess(), function.spec)
    driver.validate_function_compatibility({"supported_shape_types": ["rectangle", "polygon"]})
    with pytest.raises(IncompatibleFunctionError, match="'ellipse'"):
        driver.validate_function_compatibility({"supported_shape_types": ["rectangle", "ellipse"]})
    # The SDK's own spec check bites: a shape type CVAT does not have is refused.
    with pytest.raises(ValueError, match="circle"):
        cvataa.TrackingFunctionSpec(supported_shape_types=["circle"])


@pytest.mark.parametrize("family", ["sam2_video", "edgetam_video"])
def test_rectangles_through_the_agent_equal_the_core_trackers_boxes(family, checkpoints, frames):
    function = GroundlabelTrackingFunction(trackers(checkpoints[family]))
    posted = run_agent(function, frames, [{"type": "rectangle", "points": BOX}])
    expected = core_boxes(checkpoints[family], frames, BOX)
    assert all(box is not None for box in expected), "the tiny model must see the object for this test"
    for shapes, box in zip(posted, expected, strict=True):
        assert shapes == [{"type": "rectangle", "points": list(box.xyxy)}]
        assert list(box.xyxy) == list(mask_codec.bbox(box.mask))
    if family == "edgetam_video":  # a box that is not the whole frame, and moves from the prompt
        assert any(s[0]["points"] != [0.0, 0.0, WIDTH, HEIGHT] for s in posted)
    assert posted[0][0]["points"] != BOX


def test_masks_and_polygons_through_the_agent_equal_the_core_and_states_stay_apart(checkpoints, frames):
    path = checkpoints["sam2_video"]
    function = GroundlabelTrackingFunction(trackers(path))
    mask = object_mask()
    polygon = [20.0, 12.0, 45.0, 12.0, 45.0, 40.0, 20.0, 40.0]
    shapes = [
        {"type": "mask", "points": mask_codec.to_cvat_mask(mask)},
        {"type": "polygon", "points": polygon},
        {"type": "rectangle", "points": BOX},
    ]
    posted = run_agent(function, frames, shapes)  # three states in one request, followed together
    from_mask = core_masks_from(path, frames, mask)
    from_polygon = core_masks_from(
        path, frames, mask_codec.decode(mask_codec.from_polygons([polygon], WIDTH, HEIGHT))
    )
    boxes = core_boxes(path, frames, BOX)
    for t, (got, m, p, b) in enumerate(zip(posted, from_mask, from_polygon, boxes, strict=True)):
        assert [s["type"] for s in got] == ["mask", "polygon", "rectangle"], t
        decoded = decode_mask(got[0]["points"], image_width=WIDTH, image_height=HEIGHT)
        assert np.array_equal(decoded, mask_codec.decode(m.mask)), t
        parts = mask_codec.to_polygons(p.mask)
        assert got[1]["points"] == max(parts, key=polygon_area), t
        assert got[2]["points"] == list(b.xyxy), t
    # The polygon's and the mask's prompts differ, and so do their tracks: no shared session.
    assert any(not np.array_equal(mask_codec.decode(m.mask), mask_codec.decode(p.mask))
               for m, p in zip(from_mask, from_polygon, strict=True))  # fmt: skip
    # A real propagation: the followed mask changes along the clip.
    assert len({bytes(mask_codec.decode(m.mask)) for m in from_mask}) > 2


def test_a_mask_prompt_is_what_transformers_processor_writes_into_the_session(checkpoints, frames):
    from transformers.models.sam2_video.processing_sam2_video import Sam2VideoProcessor

    loaded = trackers(checkpoints["sam2_video"])
    # A frame larger than the model's side (so the mask is shrunk, antialiased) with a round edge.
    frame = frames[0].resize((300, 200))
    rows, cols = np.mgrid[:200, :300]
    mask = (cols - 140) ** 2 / 90**2 + (rows - 95) ** 2 / 55**2 <= 1.0
    ours = SingleObjectTrack(loaded, frame, mask=mask).tracker.session.mask_inputs_per_obj[0][0]
    session = loaded.family.session_class()(
        video=None, inference_device="cpu", inference_state_device="cpu", video_storage_device="cpu",
        dtype=torch.float32,
    )  # fmt: skip
    processor = SimpleNamespace(target_size=loaded.preprocessing.target_size)  # all the method reads of it
    Sam2VideoProcessor.process_new_mask_for_video_frame(processor, session, 0, [1], mask)
    reference = session.mask_inputs_per_obj[0][0]
    assert ours.shape == reference.shape == (1, 1, 128, 128)
    assert torch.equal(ours, reference) and 0 < float(ours.mean()) < 1


def test_an_object_the_model_cannot_see_is_none_and_the_driver_refuses_what_cvat_would(checkpoints, frames):
    function = GroundlabelTrackingFunction(trackers(checkpoints["hidden"]))
    posted = run_agent(function, frames, [{"type": "rectangle", "points": BOX}])
    assert posted == [[None]] * (FRAMES - 1)  # not seen anywhere: CVAT's "not found", the state kept
    driver = LocalFramesDriver(function.spec, frames)
    check_in = lambda **_: None  # noqa: E731
    with pytest.raises(BadArError, match="Unsupported shape type 'ellipse'"):
        driver.calculate_result_for_ar(
            {
                "type": "init_tracking",
                "task": TASK,
                "frame": 0,
                "shapes": [{"type": "ellipse", "points": BOX}],
            },
            check_in,
        )
    (state,) = driver.calculate_result_for_ar(
        {"type": "init_tracking", "task": TASK, "frame": 0, "shapes": [{"type": "rectangle", "points": BOX}]},
        check_in,
    )["states"]
    driver.frames = [frame.resize((WIDTH // 2, HEIGHT)) for frame in frames]
    with pytest.raises(BadArError, match="Image sizes"):
        driver.calculate_result_for_ar(
            {"type": "track", "task": TASK, "frame": 1, "states": [state]}, check_in
        )
    with pytest.raises(ValueError, match="xtl, ytl, xbr, ybr with some area"):
        driver.calculate_result_for_ar(
            {
                "type": "init_tracking",
                "task": TASK,
                "frame": 0,
                "shapes": [{"type": "rectangle", "points": [5, 5, 5, 9]}],
            },
            check_in,
        )


LOAD = f"from cvat_cli._internal.common import FunctionLoader; FunctionLoader({MODULE!r}, None, {{}}).load()"


def test_a_wrong_parameter_ends_cvat_cli_with_one_line(checkpoints, tiny_model_dir):
    """As ``cvat-cli ... --function-module groundlabel.cvat.tracking -p ...`` loads it."""
    code = LOAD.replace("{}", repr({"modle": "x"}))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 1, done.stderr
    assert lines[-1] == f"{MODULE}: unknown parameter 'modle'; {MODULE} takes: model, device", done.stderr
    assert "Traceback" not in done.stderr
    from groundlabel.cvat import tracking

    for params, message in [
        ({"model": 3}, "parameter model must be a str, not a int: -p model=str:..."),
        ({"model": " "}, "parameter model is empty"),
        ({"model": str(tiny_model_dir)}, "a grounding-dino checkpoint, not a video tracker; give a SAM 2.1"),
        ({"model": "/no/such/tracker"}, "/no/such/tracker"),
        ({"model": str(checkpoints["sam2_video"]), "device": "cuda:7"}, "cuda:7"),
    ]:
        if "cuda" in str(params.get("device")) and torch.cuda.is_available():
            continue
        with pytest.raises(SystemExit, match=message) as raised:
            tracking.create(**params)
        assert str(raised.value).startswith(f"{MODULE}: ") and "\n" not in str(raised.value)
