"""The Label Studio export imported into a real Label Studio 1.23.2 as is, and its export read back.

On the run's one Label Studio (``conftest.label_studio``), each test in projects of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from labelstudio_server import LabelStudio
from test_project_helpers import SIZES, copy_images_only, make_review_folder

from groundlabel.cli import main
from groundlabel.project import BoxSource, BoxStatus, ImageState, ReviewProject

pytestmark = pytest.mark.labelstudio


def boxes_by_image(folder: Path) -> dict[str, list[tuple[str, tuple[float, ...]]]]:
    with ReviewProject.open(folder) as project:
        names = {c.id: c.name for c in project.classes()}
        return {
            image.path: sorted(
                (names[b.class_id], tuple(round(v, 6) for v in b.xyxy)) for b in project.boxes(image.id)
            )
            for image in project.images()
        }


@pytest.mark.parametrize("mode", ["annotations", "predictions"])
def test_export_imports_into_label_studio_as_is(label_studio: LabelStudio, tmp_path: Path, mode: str) -> None:
    folder = label_studio.files_root / f"images-{mode}"
    expected = make_review_folder(folder)
    out = tmp_path / "ls"
    prefix = f"/data/local-files/?d={folder.name}/"
    assert (
        main(
            [
                "export",
                str(folder),
                "-f",
                "labelstudio",
                "-o",
                str(out),
                "--ls-as",
                mode,
                "--ls-url-prefix",
                prefix,
            ]
        )
        == 0
    )

    project_id = label_studio.create_project(f"export-{mode}", (out / "labeling-config.xml").read_text())
    tasks = json.loads((out / "tasks.json").read_text())
    answer = label_studio.api("POST", f"/api/projects/{project_id}/import", json=tasks)
    assert answer["task_count"] == len(expected)
    assert answer[f"{mode[:-1]}_count"] == len(expected)

    stored = {t["data"]["file_name"]: t for t in label_studio.tasks(project_id)}
    assert set(stored) == set(expected)
    for name, task in stored.items():
        items = task["annotations"] if mode == "annotations" else label_studio.predictions(task["id"])
        (item,) = items
        regions = item["result"]
        assert len(regions) == len(expected[name])
        for region in regions:
            assert (region["original_width"], region["original_height"]) == SIZES[name]

    # The URLs point at the files: Label Studio serves them once a local storage covers the folder.
    label_studio.api(
        "POST",
        "/api/storages/localfiles/",
        json={"project": project_id, "path": str(folder), "regex_filter": ".*", "use_blob_urls": True},
    )
    url = label_studio.url + stored["astronaut.png"]["data"]["image"]
    response = label_studio._http.get(url, headers=label_studio.access_header())
    assert response.status_code == 200 and response.content == (folder / "astronaut.png").read_bytes()

    if mode == "annotations":
        # Label Studio's own JSON export goes back into a fresh folder with the same boxes.
        exported = label_studio.api(
            "GET",
            f"/api/projects/{project_id}/export",
            params={"exportType": "JSON", "download_all_tasks": "true"},
        )
        export_file = tmp_path / "label-studio-export.json"
        export_file.write_text(json.dumps(exported))
        fresh = tmp_path / "fresh"
        copy_images_only(folder, fresh)
        assert main(["import", str(fresh), str(export_file), "-f", "labelstudio"]) == 0
        got = boxes_by_image(fresh)
        for name, boxes in expected.items():
            assert got[name] == sorted((c, tuple(round(v, 6) for v in xyxy)) for c, xyxy in boxes)
        with ReviewProject.open(fresh) as project:
            states = {i.path: i.state for i in project.images()}
            sources = {(b.source, b.status) for i in project.images() for b in project.boxes(i.id)}
        assert states["empty.png"] is ImageState.REVIEWED_EMPTY and states["sub/new.png"] is ImageState.NEW
        assert sources == {(BoxSource.IMPORT, BoxStatus.ACCEPTED)}


def test_the_export_folder_serves_its_own_images_through_a_local_storage(
    label_studio: LabelStudio, tmp_path: Path
) -> None:
    """The export holds the images: a Local Files storage on OUT serves every task's image."""
    folder = tmp_path / "photos"
    expected = make_review_folder(folder)
    out = label_studio.files_root / "ls-export"  # OUT below Label Studio's document root
    prefix = f"/data/local-files/?d={out.name}/"
    assert main(["export", str(folder), "-f", "labelstudio", "-o", str(out), "--ls-url-prefix", prefix]) == 0
    project_id = label_studio.create_project("export-folder", (out / "labeling-config.xml").read_text())
    answer = label_studio.api(
        "POST", f"/api/projects/{project_id}/import", json=json.loads((out / "tasks.json").read_text())
    )
    assert answer["task_count"] == len(expected)
    label_studio.api(
        "POST",
        "/api/storages/localfiles/",
        json={"project": project_id, "path": str(out), "regex_filter": ".*", "use_blob_urls": True},
    )
    for task in label_studio.tasks(project_id):
        response = label_studio._http.get(
            label_studio.url + task["data"]["image"], headers=label_studio.access_header()
        )
        assert response.status_code == 200
        assert response.content == (out / task["data"]["file_name"]).read_bytes()


@pytest.mark.parametrize("style", ["brush", "polygons"])
def test_masks_go_into_label_studio_and_come_back(
    label_studio: LabelStudio, tmp_path: Path, style: str
) -> None:
    """Brush RLE and polygons: Label Studio takes the config and the regions, and its own
    export imports back with the masks (exact for brush, IoU >= 0.98 for polygons)."""
    import numpy as np
    from mask_folder import make_mask_folder

    from groundlabel import masks

    folder = label_studio.files_root / f"masks-{style}"
    expected = make_mask_folder(folder)
    out = tmp_path / "ls"
    args = ["export", str(folder), "-f", "labelstudio", "-o", str(out), "--ls-masks", style]
    assert main([*args, "--ls-url-prefix", f"/data/local-files/?d={folder.name}/"]) == 0
    project_id = label_studio.create_project(f"masks-{style}", (out / "labeling-config.xml").read_text())
    tasks = json.loads((out / "tasks.json").read_text())
    answer = label_studio.api("POST", f"/api/projects/{project_id}/import", json=tasks)
    assert answer["task_count"] == answer["annotation_count"] == len(expected)
    exported = label_studio.api(
        "GET",
        f"/api/projects/{project_id}/export",
        params={"exportType": "JSON", "download_all_tasks": "true"},
    )
    kind = "brushlabels" if style == "brush" else "polygonlabels"
    assert any(r["type"] == kind for t in exported for r in t["annotations"][0]["result"])
    export_file = tmp_path / "label-studio-export.json"
    export_file.write_text(json.dumps(exported))
    fresh = tmp_path / "fresh"
    copy_images_only(folder, fresh)
    assert main(["import", str(fresh), str(export_file), "-f", "labelstudio"]) == 0
    with ReviewProject.open(fresh) as project:
        names = {c.id: c.name for c in project.classes()}
        for path, boxes in expected.items():
            got = [(names[b.class_id], b.mask) for b in project.boxes(project.image_by_path(path).id)]
            assert len(got) == len(boxes)
            for cls, mask, _ in boxes:
                if mask is None:
                    assert any(c == cls and m is None for c, m in got)
                    continue
                best = max((masks.iou(m, masks.encode(mask)) for c, m in got if c == cls and m is not None))
                assert best == 1.0 if style == "brush" else best >= 0.98
                if style == "brush":
                    assert any(m is not None and np.array_equal(masks.decode(m), mask) for _, m in got)
