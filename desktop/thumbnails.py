"""Small previews for the file list, made lazily on a background thread.

The list view asks for a row's icon only when the row is painted, so thumbnails are
made for what is on screen, newest request first; requests for rows scrolled past are
dropped before they are decoded. Thumbnails are previews only: Qt's reader (EXIF applied,
scaled while decoding where the format allows), not the detector's decode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, QRunnable, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader

from groundlabel.errors import GroundlabelError

THUMB_SIZE = QSize(48, 36)
_KEEP = Qt.AspectRatioMode.KeepAspectRatio
MAX_PENDING = 120  # requests kept; older ones (rows scrolled past) are dropped
MAX_CACHED = 3000  # about 7 KB each


def make_thumbnail(path: str, size: QSize = THUMB_SIZE) -> QImage | None:
    """A preview no larger than ``size``, or None for a file Qt cannot read."""
    reader = QImageReader(path)
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid() and not full.isEmpty():
        reader.setScaledSize(full.scaled(size, _KEEP))  # JPEG decodes at the small size directly
    image = reader.read()
    if image.isNull():
        return None
    if image.width() > size.width() or image.height() > size.height():
        image = image.scaled(size, _KEEP)
    return image.convertToFormat(QImage.Format.Format_RGB32)


class _Signals(QObject):
    done = Signal(int, object)  # image id, QImage | None


class _Task(QRunnable):
    def __init__(self, provider: ThumbnailProvider, image_id: int) -> None:
        super().__init__()
        self.provider, self.image_id = provider, image_id

    def run(self) -> None:
        path = self.provider._take(self.image_id)
        if path is None:
            return  # scrolled past meanwhile
        try:  # a video's frame: decoded here, off the GUI thread (desktop.frame_files)
            path = path() if callable(path) else path
        except GroundlabelError:
            self.provider._signals.done.emit(self.image_id, None)
            return
        self.provider._signals.done.emit(self.image_id, make_thumbnail(path))


class ThumbnailProvider(QObject):
    """``thumbnail(id, path)`` answers from the cache or queues a request; ``ready(id)`` follows."""

    ready = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # the detector and the image loader need the cores more
        self._signals = _Signals()
        self._signals.done.connect(self._on_done)
        self._lock = threading.Lock()
        self._pending: OrderedDict[int, str | Callable[[], str]] = OrderedDict()
        self._cache: OrderedDict[int, QImage | None] = OrderedDict()

    def thumbnail(self, image_id: int, path: str | Callable[[], str]) -> QImage | None:
        """The cached preview, or None after queueing ``path`` (a callable: called on the pool thread)."""
        if image_id in self._cache:
            self._cache.move_to_end(image_id)
            return self._cache[image_id]
        with self._lock:
            queued = image_id in self._pending
            self._pending[image_id] = path
            self._pending.move_to_end(image_id)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        if not queued:
            self.pool.start(_Task(self, image_id))
        return None

    def has(self, image_id: int) -> bool:
        return image_id in self._cache

    def _take(self, image_id: int) -> str | Callable[[], str] | None:
        with self._lock:
            return self._pending.pop(image_id, None)

    def _on_done(self, image_id: int, image: QImage | None) -> None:
        self._cache[image_id] = image
        while len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        self.ready.emit(image_id)

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
        self.pool.waitForDone(10000)
        self._cache.clear()
