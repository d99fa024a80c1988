"""`groundlabel report`: a self-contained HTML file whose plots all decode and name the classes."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

from calibration_helpers import reviewed_project
from PIL import Image

from groundlabel.cli import main
from groundlabel.project import ReviewProject
from groundlabel.report.data import gather


def test_report_from_a_reviewed_project(tmp_path: Path, capsys) -> None:
    folder = reviewed_project(tmp_path / "p")
    assert main(["calibrate", str(folder), "--target-precision", "1"]) == 0
    out = tmp_path / "out" / "report.html"
    assert main(["report", str(folder), "-o", str(out)]) == 0
    assert "6 of 6 image(s) reviewed, 3 class(es)" in capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    assert 'src="http' not in page and "<link" not in page  # nothing outside the file
    images = re.findall(r'<img alt="([^"]*)" src="data:(image/(?:png|jpeg));base64,([^"]+)"', page)
    titles = [alt for alt, _, _ in images]
    for name in ("cat", "dog", "bird"):
        assert f"Precision and recall: {name}" in titles
        assert f"<td>{name}</td>" in page
    assert {"Review progress", "Boxes per class", "Class confusions"} <= set(titles)
    decoded = [Image.open(io.BytesIO(base64.b64decode(data))) for _, _, data in images]
    for image in decoded:
        image.load()  # raises if the bytes are not a whole image
        assert image.width >= 48 and image.height >= 48
    # Thumbnails of the images with misses: the first image has two hand boxes.
    jpegs = [alt for alt, mime, _ in images if mime == "image/jpeg"]
    assert jpegs and jpegs[0] == "img00.png"
    assert "img00.png: 2 miss(es)" in page
    assert "only 5 decision(s), 20 needed" in page


def test_report_numbers(tmp_path: Path) -> None:
    folder = reviewed_project(tmp_path / "p")
    with ReviewProject.open(folder) as project:
        data = gather(project)
    assert data.boxes["cat"]["hand-drawn"] == 4 and data.boxes["dog"]["rejected"] == 8
    assert data.calibration.confusions == (("dog", "cat", 1),)
    assert data.reviewed == data.total_images == 6


def test_report_without_project_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "r.html")]) == 2
    assert "has no review project yet" in capsys.readouterr().err


def test_matplotlib_loads_only_when_a_plot_is_drawn() -> None:
    import subprocess
    import sys

    code = (
        "import sys, groundlabel.cli, groundlabel.report.plots, groundlabel.report.html, groundlabel.calibration\n"
        "groundlabel.cli.build_parser()\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported too early'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
