"""Per-user preferences that are not part of a project: recent folders, window layout.

Stored with QSettings in an INI file. The location can be moved with the constructor
argument or ``GROUNDLABEL_DESKTOP_SETTINGS`` (tests point it into a temporary folder, so
they never touch the user's real settings). Per-project choices (model, thresholds)
live in the project itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ENV_VAR = "GROUNDLABEL_DESKTOP_SETTINGS"
MAX_RECENT = 10


class AppSettings:
    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        path = path or os.environ.get(ENV_VAR)
        if path:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(
                QSettings.Format.IniFormat, QSettings.Scope.UserScope, "groundlabel", "desktop"
            )

    @property
    def path(self) -> str:
        return self.qsettings.fileName()

    def recent_folders(self) -> list[str]:
        value = self.qsettings.value("recent_folders", [])
        if isinstance(value, str):
            value = [value]
        return [v for v in (value or []) if Path(v).is_dir()]

    def add_recent_folder(self, folder: str | os.PathLike[str]) -> list[str]:
        folder = str(Path(folder).resolve())
        folders = [folder] + [f for f in self.recent_folders() if f != folder]
        self.qsettings.setValue("recent_folders", folders[:MAX_RECENT])
        self.qsettings.sync()
        return folders[:MAX_RECENT]

    def geometry(self) -> QByteArray | None:
        value = self.qsettings.value("window/geometry")
        return value if isinstance(value, QByteArray) else None

    def window_state(self) -> QByteArray | None:
        value = self.qsettings.value("window/state")
        return value if isinstance(value, QByteArray) else None

    def save_window(self, geometry: QByteArray, state: QByteArray) -> None:
        self.qsettings.setValue("window/geometry", geometry)
        self.qsettings.setValue("window/state", state)
        self.qsettings.sync()

    def value(self, key: str, default: object = None) -> object:
        return self.qsettings.value(key, default)

    def set_value(self, key: str, value: object) -> None:
        self.qsettings.setValue(key, value)
        self.qsettings.sync()

    # The mask model is a per-user choice (one SAM for every project), unlike the detector.
    def mask_model(self) -> str:
        """Hub id or folder of the mask model (SAM, SAM-HQ, SAM 2.1); "" for none."""
        return str(self.qsettings.value("masks/model", "") or "")

    def mask_device(self) -> str:
        return str(self.qsettings.value("masks/device", "auto") or "auto")

    def set_mask_model(self, model: str, device: str | None = None) -> None:
        self.qsettings.setValue("masks/model", model.strip())
        if device:
            self.qsettings.setValue("masks/device", device)
        self.qsettings.sync()
