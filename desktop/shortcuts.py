"""Every keyboard shortcut in one table, so the actions and the help overlay never disagree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shortcut:
    keys: tuple[str, ...]  # QKeySequence strings; the first is the one shown first
    description: str
    group: str


SHORTCUTS: dict[str, Shortcut] = {
    # Project
    "open": Shortcut(("Ctrl+O",), "Open a folder", "Project"),
    "export": Shortcut(("Ctrl+E",), "Export the dataset", "Project"),
    "import": Shortcut(("Ctrl+I",), "Import annotations", "Project"),
    "add_classes": Shortcut(("Ctrl+L",), "Add classes: a list as --labels reads it", "Project"),
    "settings": Shortcut(("Ctrl+,",), "Model, device and thresholds", "Project"),
    "quit": Shortcut(("Ctrl+Q",), "Quit (everything is already saved)", "Project"),
    # Detection
    "detect_current": Shortcut(("Ctrl+D",), "Detect on the current image", "Detection"),
    "detect_selection": Shortcut(("Ctrl+Shift+D",), "Detect on the selected images", "Detection"),
    "detect_remaining": Shortcut(("Ctrl+Alt+D",), "Detect on every image not yet predicted", "Detection"),
    "find_similar": Shortcut(
        ("Ctrl+Shift+F",), "Find similar in folder: boxes like the selected ones (OWL models)", "Detection"
    ),
    # Navigation
    "next_image": Shortcut(("Right", "PgDown"), "Next image", "Navigation"),
    "prev_image": Shortcut(("Left", "PgUp"), "Previous image", "Navigation"),
    "next_box": Shortcut(("Tab",), "Select the next box", "Navigation"),
    "prev_box": Shortcut(("Shift+Tab",), "Select the previous box", "Navigation"),
    "next_unreviewed": Shortcut(("N",), "Next unreviewed image", "Navigation"),
    "search": Shortcut(("Ctrl+F",), "Search file names", "Navigation"),
    # View
    "zoom_in": Shortcut(("+", "="), "Zoom in (or mouse wheel)", "View"),
    "zoom_out": Shortcut(("-",), "Zoom out", "View"),
    "zoom_fit": Shortcut(("0", "F"), "Fit the image to the window", "View"),
    "zoom_actual": Shortcut(("Ctrl+1",), "Actual size (1:1)", "View"),
    "toggle_rejected": Shortcut(("H",), "Hide or dim rejected boxes", "View"),
    "toggle_masks": Shortcut(("M",), "Show or hide masks", "View"),
    "help": Shortcut(("F1", "?"), "Show or hide this help", "View"),
    # Review
    "accept": Shortcut(
        ("A", "Return"), "Accept the selected box(es), or on a video the selected track", "Review"
    ),
    "reject": Shortcut(
        ("R", "Delete"), "Reject the selected box(es), or on a video the selected track", "Review"
    ),
    "delete": Shortcut(("Shift+Delete",), "Delete the selected box(es) for good", "Review"),
    "accept_all": Shortcut(
        ("Shift+A",), "Accept pending boxes at or above the score slider, reject the rest", "Review"
    ),
    "reject_all": Shortcut(("Shift+R",), "Reject every pending box on the image", "Review"),
    "mark_reviewed": Shortcut(("Space",), "Mark reviewed and go to the next unreviewed image", "Review"),
    "mark_empty": Shortcut(("E",), "Mark reviewed-empty (the image has no object)", "Review"),
    "pick_class": Shortcut(("C",), "Change the class of the selected box(es) from a list", "Review"),
    # Masks
    "refine_selected": Shortcut(("Ctrl+M",), "Refine the selected box(es) to masks", "Masks"),
    "refine_accepted": Shortcut(
        ("Ctrl+Shift+M",), "Refine every accepted box without a mask (whole project)", "Masks"
    ),
    "points_tool": Shortcut(
        ("P",), "Point tool: click adds a positive point, Shift+click a negative one", "Masks"
    ),
    "brush_tool": Shortcut(("B",), "Brush: paint pixels into the selected box mask", "Masks"),
    "eraser_tool": Shortcut(("Shift+B",), "Eraser: remove pixels from the selected box mask", "Masks"),
    "box_tool": Shortcut(("V",), "Box tool: draw, select, move (Escape also returns to it)", "Masks"),
    "brush_bigger": Shortcut(("]",), "Larger brush", "Masks"),
    "brush_smaller": Shortcut(("[",), "Smaller brush", "Masks"),
    # Video (a video's frames: the track list and the timeline)
    "prev_frame": Shortcut((",",), "Previous frame of the video", "Video"),
    "next_frame": Shortcut((".",), "Next frame of the video", "Video"),
    "prev_keyframe": Shortcut(("<",), "Previous keyframe of the selected track", "Video"),
    "next_keyframe": Shortcut((">",), "Next keyframe of the selected track", "Video"),
    "next_unreviewed_track": Shortcut(("Shift+N",), "Next track with undecided boxes", "Video"),
    "split_track": Shortcut(("S",), "Split the selected track at this frame", "Video"),
    "propagate": Shortcut(
        ("T",), "Propagate the selected track from this frame, both ways, to its next keyframes", "Video"
    ),
    "track_video": Shortcut(
        ("Ctrl+T",), "Track this video with the project detector and ByteTrack, as pending tracks", "Video"
    ),
    "play_pause": Shortcut(("K",), "Play or pause the video at its frame rate (stops on any edit)", "Video"),
    "undo": Shortcut(("Ctrl+Z",), "Undo", "Review"),
    "redo": Shortcut(("Ctrl+Shift+Z", "Ctrl+Y"), "Redo", "Review"),
}

# Shown in the help overlay but handled by the canvas itself, not by a QAction.
CANVAS_GESTURES: list[tuple[str, str]] = [
    ("Drag on the image", "Draw a new box in the current class"),
    ("Drag a box / its handles", "Move it / resize it"),
    ("1 … 9", "Set the class of the selected box(es), or the class for new boxes"),
    ("Arrow keys with Alt", "Nudge the selected box by 1 px (Shift: 10 px)"),
    ("Space + drag, middle drag", "Pan"),
    ("Mouse wheel", "Zoom around the cursor"),
    ("Escape", "Cancel drawing, clear the selection"),
    ("Click (point tool)", "Positive point: the box's mask is recomputed with it"),
    ("Shift+click (point tool)", "Negative point: “not this”"),
    ("Drag (brush / eraser)", "Paint into / erase from the box's mask"),
]


def grouped() -> dict[str, list[tuple[str, str]]]:
    """Shortcuts by group, keys joined for display, in table order."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for shortcut in SHORTCUTS.values():
        groups.setdefault(shortcut.group, []).append((" / ".join(shortcut.keys), shortcut.description))
    groups["Canvas"] = list(CANVAS_GESTURES)
    return groups
