"""Play/pause on a video's frames (K): step to the next frame at the clip's rate.

Why a timer and not a decoder: each step selects the next frame as the arrow keys do, so the
canvas, track list and timeline follow as they always do, and the pixels come from the
project's frame cache (decoded once, then read back). Playing stops at the last frame, when
the window leaves the video and on any edit (an undo-stack change), so it never runs past
something the user just did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer, Signal

if TYPE_CHECKING:
    from groundlabel.desktop.track_control import TrackControl

DEFAULT_FPS = 25.0


class Player(QObject):
    """Plays ``control``'s video; ``playing_changed`` says when it starts or stops."""

    playing_changed = Signal(bool)

    def __init__(self, control: TrackControl) -> None:
        super().__init__(control)
        self.control = control
        self.timer = QTimer(self)
        self.timer.timeout.connect(self._advance)

    @property
    def playing(self) -> bool:
        return self.timer.isActive()

    def toggle(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> None:
        position = self.control.position
        if position is None:
            self.control.message.emit("Play needs a video's frame on screen")
            return
        if position.frame >= max(position.frame_ids, default=0):
            self.control.jump(min(position.frame_ids, default=0))  # at the end: play from the start
        fps = position.fps or DEFAULT_FPS
        self.timer.start(max(1, round(1000 / fps)))
        self.playing_changed.emit(True)

    def stop(self) -> None:
        if self.timer.isActive():
            self.timer.stop()
            self.playing_changed.emit(False)

    def _advance(self) -> None:
        position = self.control.position
        if position is None or position.frame >= max(position.frame_ids, default=0):
            self.stop()
            return
        self.control.step(1)
