"""The PySide6 desktop reviewer behind ``groundlabel review FOLDER``.

Widgets only: storage, undo commands and exporters live in the Qt-free
``groundlabel.project`` and ``groundlabel.formats``; the detector in
``groundlabel.detector``. Nothing in ``groundlabel`` imports this package.
"""
