"""The names the CLI offers for dataset formats and image modes, without importing any writer.

Here, apart from ``registry`` and ``images_out`` (which import numpy and Pillow), so that
building the command-line parser (``groundlabel --help``) stays light.
"""

from __future__ import annotations

#: every dataset format ``export`` writes and ``import`` reads (``registry.get_format``)
FORMAT_NAMES = ("coco", "voc", "yolo", "hf", "labelstudio", "shards")
#: how an export puts the images beside the annotations (``images_out.ImageWriter``)
IMAGE_MODES = ("hardlink", "copy", "symlink", "none")
DEFAULT_IMAGE_MODE = "hardlink"
#: what ``track`` writes (``tracks_out.write_tracks``)
TRACK_FORMATS = ("coco-vid", "youtube-vis", "mot", "cvat-video", "label-studio")
#: what a video's frames are split by (``project.exchange.split_group``): never frame by frame
SPLIT_UNITS = ("auto", "video", "chunk")
DEFAULT_CHUNK_FRAMES = 150  # the longest chunk "auto" picks; a short clip gets about ten chunks
MIN_CHUNK_FRAMES = 10
