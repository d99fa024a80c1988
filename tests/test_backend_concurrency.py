"""Concurrent /predict work: one inference thread, few decoded images at once, the same boxes."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from groundlabel.backend.inference_owner import DEFAULT_MAX_IMAGES
from groundlabel.backend.predictor import Predictor
from groundlabel.backend.settings import BackendSettings
from groundlabel.backend.task_images import TaskImageFetcher

from groundlabel.detector import DetectionSettings

CONFIG = """
<View>
  <Image name="image" value="$image"/>
  <RectangleLabels name="label" toName="image"><Label value="Cat"/><Label value="remote"/></RectangleLabels>
</View>
"""


def test_concurrent_requests_share_one_inference_thread_and_keep_exact_outputs(
    tiny_detector, photo_dir: Path
):
    settings = BackendSettings(local_files_root=photo_dir.parent.resolve(), predict_budget_s=600)
    predictor = Predictor(tiny_detector, DetectionSettings(0.0, 0.0), TaskImageFetcher(settings))
    threads: set[str] = set()
    held = {"now": 0, "most": 0}
    lock = threading.Lock()
    fetch, detect = predictor.fetcher.fetch, tiny_detector.detect_image

    def counting_fetch(*args, **kwargs):
        with lock:
            held["now"] += 1
            held["most"] = max(held["most"], held["now"])
        return fetch(*args, **kwargs)

    def recording_detect(*args, **kwargs):
        threads.add(threading.current_thread().name)
        try:
            return detect(*args, **kwargs)
        finally:
            with lock:
                held["now"] -= 1

    predictor.fetcher.fetch = counting_fetch
    tiny_detector.detect_image = recording_detect
    names = ["chelsea.png", "astronaut.png"]
    tasks = [[{"id": i, "data": {"image": f"/data/local-files/?d=photos/{names[i % 2]}"}}] for i in range(12)]
    try:
        sequential = [predictor.predict_tasks(t, CONFIG).results for t in tasks[:2]]
        with ThreadPoolExecutor(8) as pool:
            concurrent = list(pool.map(lambda t: predictor.predict_tasks(t, CONFIG).results, tasks))
    finally:
        del tiny_detector.detect_image
        predictor.close()
    assert len(threads) == 1 and next(iter(threads)).startswith("groundlabel-inference"), threads
    assert held["most"] <= DEFAULT_MAX_IMAGES, held

    def regions(results: list) -> list:
        return [{k: v for k, v in region.items() if k != "id"} for region in results[0]["result"]]

    assert regions(sequential[0]) and regions(sequential[1])
    for index, results in enumerate(concurrent):
        assert regions(results) == regions(sequential[index % 2])  # the same boxes and scores, to the bit
