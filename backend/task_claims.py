"""Which tasks this process is predicting, so /predict and the background never do one twice.

A Retrieve Predictions click (/predict) and background pre-labelling (webhooks, budget
overflow) can run at once over the same tasks. Both claim a task before predicting it.
The background skips tasks /predict has claimed, including for a while after /predict
answered (Label Studio stores the results only once the whole batch is back); /predict
skips tasks the background is predicting right now, and otherwise always predicts, so
asking Label Studio again (after deleting a prediction, say) is always answered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Literal

Owner = Literal["predict", "background"]

# How long /predict results stay claimed after answering, against the background only.
HOLD_AFTER_ANSWER_S = 120.0


class TaskClaims:
    """Task id → (owner, monotonic end of the claim; ``inf`` while being predicted)."""

    def __init__(self) -> None:
        self._claims: dict[int, tuple[Owner, float]] = {}
        self._lock = threading.Lock()

    def claim(self, task_ids: Iterable[int], owner: Owner) -> set[int]:
        """Claim what ``owner`` may take; returns the ids claimed (the rest are someone else's)."""
        now = time.monotonic()
        claimed: set[int] = set()
        with self._lock:
            for task_id, (_, until) in list(self._claims.items()):
                if until <= now:
                    del self._claims[task_id]
            for task_id in task_ids:
                holder = self._claims.get(task_id)
                if holder is None or (owner == "predict" and holder[0] == "predict"):
                    self._claims[task_id] = (owner, float("inf"))
                    claimed.add(task_id)
        return claimed

    def release(self, task_ids: Iterable[int], hold_s: float = 0.0) -> None:
        """End claims now, or keep them ``hold_s`` seconds more."""
        with self._lock:
            for task_id in task_ids:
                holder = self._claims.pop(task_id, None)
                if holder is not None and hold_s > 0:
                    self._claims[task_id] = (holder[0], time.monotonic() + hold_s)
