"""The review project: one folder of images, its classes, boxes and review decisions.

Qt-free and torch-free; the desktop reviewer and the CLI (``detect --into-project``,
``import``, ``export``) share it. Storage is ``FOLDER/.groundlabel/project.db`` (SQLite,
WAL, ``synchronous=FULL``); the user's images are only ever read.

Opening and querying::

    project = ReviewProject.open(folder)        # creates or reopens; scans file NAMES only
    project.images(state=ImageState.PREDICTED)  # ImageRecord list, path order, box counts
    project.images(class_id=3)                  # images holding a non-rejected box of class 3
    project.state_counts()                      # {ImageState: n}
    project.boxes(image.id)                     # BoxRecord list (xyxy pixels as shown)
    project.classes(); project.label_set()      # ClassRecord list in order; detector LabelSet
    project.ensure_image_info(image.id)         # fill size as shown + sha256 lazily (header read)
    project.model = "IDEA-Research/grounding-dino-tiny"   # remembered per project
    project.get_setting("box_threshold", 0.35); project.set_setting(key, json_value)

Edits a person makes are commands (``groundlabel.project.commands``) with undo/redo::

    project.execute(AddBox(image.id, cls.id, (x0, y0, x1, y1)))   # hand box, accepted
    project.execute(SetBoxGeometry(box.id, xyxy)); project.execute(RelabelBoxes([box.id], cls.id))
    project.execute(AcceptBoxes(ids)); project.execute(RejectBoxes(ids)); DeleteBoxes(ids)
    project.execute(SetImageState(image.id, ImageState.REVIEWED))
    project.execute(SetMasks({box.id: MaskValue(rle, score, model), other.id: None}))  # set / clear
    AddClass(name, aliases, colour), RenameClass, RecolourClass, SetClassAliases, DeleteClass,
    ReorderClasses, MacroCommand([...], "accept all")            # one undo step, one transaction
    project.history.undo(); project.history.redo(); project.history.can_undo / undo_description

Predictions (from ``Detector.detect``)::

    key = prediction_key(model, labels, settings)
    if project.needs_prediction(image.id, key):
        project.record_prediction(image.id, result, model, labels, settings)

Every change is one transaction; ``with project.batch():`` groups several (an import)
into one. ``project.subscribe(callback)`` calls ``callback(ProjectChange)`` after each
commit, on the committing thread (a Qt front end re-emits it as a queued signal).

Threads: every public method may be called from any thread. Each thread gets its own
SQLite connection, and in-process writes are serialised by a lock (other processes wait
on SQLite's busy timeout), so a detection worker can call ``record_prediction`` while the
UI thread reads and edits. Two things belong to one thread (the UI thread): the undo
stack (``project.history`` / ``execute``) and ``close()``. Records are frozen dataclasses,
safe to hand between threads. The low-level ``insert_*``/``update_*``/``delete_*`` methods
are not undoable: user edits go through commands.
"""

from groundlabel.project.class_table import PALETTE
from groundlabel.project.commands import (
    AcceptBoxes,
    AddBox,
    AddClass,
    Command,
    DeleteBox,
    DeleteBoxes,
    DeleteClass,
    MacroCommand,
    RecolourClass,
    RejectBoxes,
    RelabelBoxes,
    RenameClass,
    ReorderClasses,
    SetBoxGeometry,
    SetBoxStatus,
    SetClassAliases,
    SetImageState,
    SetMasks,
    UndoStack,
    UpdateClass,
)
from groundlabel.project.models import (
    BoxRecord,
    BoxSource,
    BoxStatus,
    ClassRecord,
    ImageRecord,
    ImageState,
    MaskValue,
    ProjectChange,
)
from groundlabel.project.store import (
    ProjectError,
    ReviewProject,
    StaleEditError,
    prediction_key,
)

__all__ = [
    "PALETTE",
    "AcceptBoxes",
    "AddBox",
    "AddClass",
    "BoxRecord",
    "BoxSource",
    "BoxStatus",
    "ClassRecord",
    "Command",
    "DeleteBox",
    "DeleteBoxes",
    "DeleteClass",
    "ImageRecord",
    "ImageState",
    "MacroCommand",
    "MaskValue",
    "ProjectChange",
    "ProjectError",
    "RecolourClass",
    "RejectBoxes",
    "RelabelBoxes",
    "RenameClass",
    "ReorderClasses",
    "ReviewProject",
    "SetBoxGeometry",
    "SetBoxStatus",
    "SetClassAliases",
    "SetImageState",
    "SetMasks",
    "StaleEditError",
    "UndoStack",
    "UpdateClass",
    "prediction_key",
]
