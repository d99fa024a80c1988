"""The backend's numbers for operators, in Prometheus text format at /metrics.

Why: Label Studio's own ML backend SDK serves /metrics, and without numbers an operator
cannot see a queue growing, failures piling up or memory creeping towards a container
limit. One registry per app (not prometheus_client's global one), so tests and several
apps in one process never collide.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from groundlabel.errors import GroundlabelError, ImageLoadError

CONTENT_TYPE = CONTENT_TYPE_LATEST
# From a small GPU pass to a full-size CPU pass on a busy machine.
INFERENCE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 40.0, 80.0)


def failure_reason(exc: BaseException) -> str:
    """A short, bounded label for why a task got no prediction."""
    from groundlabel.backend.label_config import LabelConfigError
    from groundlabel.backend.ls_client import LabelStudioApiError

    if isinstance(exc, ImageLoadError):
        return "image"
    if isinstance(exc, LabelConfigError):
        return "label_config"
    if isinstance(exc, LabelStudioApiError):
        return "label_studio"
    if isinstance(exc, GroundlabelError):
        return "task_data"
    return "internal"


class BackendMetrics:
    """Counters and gauges the predictor, the worker and the webhook update."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.predictions = Counter(
            "groundlabel_predictions",
            "Tasks handled, by outcome: predicted, failed, skipped (already done), deferred (to the queue)",
            ["outcome"],
            registry=self.registry,
        )
        self.failures = Counter(
            "groundlabel_prediction_failures",
            "Tasks that got no prediction, by reason",
            ["reason"],
            registry=self.registry,
        )
        self.inference_seconds = Histogram(
            "groundlabel_inference_seconds",
            "Seconds of one forward pass (one image, one set of labels)",
            buckets=INFERENCE_BUCKETS,
            registry=self.registry,
        )
        self.webhooks_refused = Counter(
            "groundlabel_webhooks_refused",
            "TASKS_CREATED webhooks refused, by reason (queue_full, too_large)",
            ["reason"],
            registry=self.registry,
        )
        self.queue_length = Gauge(
            "groundlabel_queue_length", "Tasks waiting in the background queue", registry=self.registry
        )
        self.queue_length.set_function(lambda: 0.0)
        # process_resident_memory_bytes, CPU seconds, open fds (Linux /proc).
        ProcessCollector(registry=self.registry)

    def count_queue(self, source: Callable[[], int]) -> None:
        self.queue_length.set_function(lambda: float(source()))

    def failed(self, exc: BaseException) -> None:
        self.predictions.labels("failed").inc()
        self.failures.labels(failure_reason(exc)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
