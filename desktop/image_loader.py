"""Decoding images off the GUI thread, with a small cache and read-ahead.

Pixels come from ``groundlabel.images.load_image`` (EXIF-upright RGB), the same decode
the detector uses, so boxes drawn on screen sit where the model put them. An 8000×8000
image decodes in a pool thread while the window keeps painting; an unreadable file comes
back as an error message for the placeholder instead of an exception.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal
from PySide6.QtGui import QImage

from groundlabel.errors import GroundlabelError

if TYPE_CHECKING:
    from PIL import Image


def pil_to_qimage(image: Image.Image) -> QImage:
    """An RGB PIL image as a QImage that owns its pixels (safe once the PIL image is gone)."""
    data = image.tobytes("raw", "RGB")
    qimage = QImage(data, image.width, image.height, image.width * 3, QImage.Format.Format_RGB888)
    # RGB32 is what the raster paint engine draws from: converting here, on the loader
    # thread, keeps QPixmap.fromImage on the GUI thread a plain copy for 8000×8000 images.
    return qimage.convertToFormat(QImage.Format.Format_RGB32)


def decode(path: str | Path) -> tuple[QImage | None, str | None]:
    """(image, None) or (None, reason); never raises for a bad file."""
    from groundlabel.images import load_image

    try:
        return pil_to_qimage(load_image(path)), None
    except GroundlabelError as exc:
        return None, getattr(exc, "reason", str(exc))
    except (MemoryError, OSError, ValueError) as exc:
        return None, f"cannot decode this image ({type(exc).__name__}: {exc})"


STALE = "stale"  # the error of a task dropped before it decoded (nobody wants its image any more)


class _Signals(QObject):
    done = Signal(object, object, object)  # key, QImage | None, error | None


class _DecodeTask(QRunnable):
    """One decode; ``stale()`` is asked when the pool thread picks it up, so a drag across the
    timeline that queued 60 frames decodes only the ones still wanted, not a backlog."""

    def __init__(
        self,
        key: object,
        path: str | Callable[[], str],
        signals: _Signals,
        before: Callable[[], None] | None,
        stale: Callable[[], bool] = lambda: False,
    ) -> None:
        super().__init__()
        self.key, self.path, self.signals, self.before, self.stale = key, path, signals, before, stale

    def run(self) -> None:
        if self.stale():
            self.signals.done.emit(self.key, None, STALE)
            return
        if self.before is not None:
            self.before()
        try:  # a video's frame: its file is made here, off the GUI thread (desktop.frame_files)
            path = self.path() if callable(self.path) else self.path
        except GroundlabelError as exc:
            self.signals.done.emit(self.key, None, getattr(exc, "reason", str(exc)))
            return
        image, error = decode(path)
        self.signals.done.emit(self.key, image, error)


class ImageLoader(QObject):
    """``request(key, path)`` → ``loaded(key, image, error)`` on the GUI thread.

    The cache is bounded by count and by megabytes: a 1080p frame is 8 MB as RGB32, so 256 MB
    keeps the last ~30 frames of a scrub for instant steps back, while an 8000×8000 photo
    (256 MB) keeps only itself. ``drop_stale`` skips queued decodes that the user has moved past.
    """

    loaded = Signal(object, object, object)

    def __init__(
        self,
        cache_size: int = 32,
        parent: QObject | None = None,
        cache_mb: float = 256.0,
        drop_stale: bool = True,
    ) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(2)
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._cache: OrderedDict[object, tuple[QImage | None, str | None]] = OrderedDict()
        self._cache_size = cache_size
        self._cache_bytes = int(cache_mb * 1024 * 1024)
        self.drop_stale = drop_stale
        self._in_flight: set[object] = set()
        self._pending: dict[object, tuple[str | Callable[[], str], Callable[[], None] | None]] = {}
        self._wanted: object | None = None

    def request(
        self, key: object, path: str | Callable[[], str], before: Callable[[], None] | None = None
    ) -> None:
        """Load ``path`` (or the file a callable gives, called on the pool thread) for display;
        answers at once from the cache.

        ``before`` runs on the pool thread first (the project's lazy size/hash fill).
        """
        self._wanted = key
        if key in self._cache:
            self._cache.move_to_end(key)
            image, error = self._cache[key]
            self.loaded.emit(key, image, error)
            return
        self._start(key, path, before)

    def prefetch(self, key: object, path: str | Callable[[], str]) -> None:
        """Decode in the background so the next image shows at once."""
        if key not in self._cache:
            self._start(key, path)

    def forget(self, key: object) -> None:
        self._cache.pop(key, None)

    def _start(
        self, key: object, path: str | Callable[[], str], before: Callable[[], None] | None = None
    ) -> None:
        if key in self._in_flight:
            return
        self._in_flight.add(key)
        self._pending[key] = (path, before)
        owner = self._wanted  # a request or its read-ahead: stale once the user wants another image
        stale = (lambda: self._wanted != owner) if self.drop_stale else (lambda: False)
        self.pool.start(_DecodeTask(key, path, self._signals, before, stale))

    def cached_bytes(self) -> int:
        """Pixels held by the cache (what ``cache_mb`` bounds)."""
        return sum(image.sizeInBytes() for image, _ in self._cache.values() if image is not None)

    def _on_done(self, key: object, image: QImage | None, error: str | None) -> None:
        self._in_flight.discard(key)
        path, before = self._pending.pop(key, ("", None))
        if error == STALE:
            if key == self._wanted:  # wanted again after it was dropped: decode it after all
                self._start(key, path, before)
            return
        self._cache[key] = (image, error)
        self._cache.move_to_end(key)
        while len(self._cache) > 1 and (
            len(self._cache) > self._cache_size or self.cached_bytes() > self._cache_bytes
        ):
            self._cache.popitem(last=False)
        if key == self._wanted:
            self.loaded.emit(key, image, error)

    def wait(self, msecs: int = 30000) -> None:
        self.pool.waitForDone(msecs)
