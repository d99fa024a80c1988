"""Class lists read the same everywhere: typed text as --labels, and the files people hold."""

from __future__ import annotations

import json

import pytest

from groundlabel.class_lists import (
    parse_class_text,
    plan_additions,
    read_class_list,
)
from groundlabel.cli import main as cli_main
from groundlabel.errors import GroundlabelError
from groundlabel.labels import LabelClass

PASTED = "cup=mug, spoon, saucer=plate|dish"
EXPECTED = [("cup", ("mug",)), ("spoon", ()), ("saucer", ("plate", "dish"))]


def pairs(classes) -> list[tuple[str, tuple[str, ...]]]:
    return [(c.name, tuple(c.aliases)) for c in classes]


def test_pasted_list_is_three_classes_as_in_the_cli(tiny_model_dir, photo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("GROUNDLABEL_NO_NATIVE", "1")  # about labels, not speed: skip the kernel build
    assert pairs(parse_class_text(PASTED)) == EXPECTED
    assert pairs(parse_class_text("spoon, saucer=plate|dish")) == [
        ("spoon", ()),
        ("saucer", ("plate", "dish")),
    ]
    # A block pasted one class per line: line breaks count as commas.
    assert pairs(parse_class_text("cup=mug,\n  spoon\r\n\nsaucer=plate|dish\n")) == EXPECTED
    # The CLI reads the same text into the same categories.
    out = tmp_path / "predictions.json"
    code = cli_main(
        ["detect", str(photo_dir / "astronaut.png"), "--labels", PASTED, "--model", str(tiny_model_dir),
         "--device", "cpu", "-o", str(out)]
    )  # fmt: skip
    assert code == 0
    assert [c["name"] for c in json.loads(out.read_text())["categories"]] == ["cup", "spoon", "saucer"]


def test_duplicates_are_refused_naming_the_existing_class():
    existing = [LabelClass("cup", ("mug",)), LabelClass("Spoon")]
    entries = [*parse_class_text("tea cup=mug, spoon, saucer"), LabelClass("saucer", ("plate",))]
    plan = plan_additions(existing, entries)
    assert [(p.cls.name, p.added) for p in plan] == [
        ("tea cup", False),
        ("spoon", False),
        ("saucer", True),
        ("saucer", False),
    ]
    assert "“mug” already prompts the class “cup”" in plan[0].refused
    assert "already a class “Spoon”" in plan[1].refused
    assert "listed twice" in plan[3].refused


def test_bad_typed_text_is_the_parsers_message():
    with pytest.raises(GroundlabelError, match="an alias is empty"):
        parse_class_text("cup=mug|, spoon")
    with pytest.raises(GroundlabelError, match="'saucer' is listed twice"):
        parse_class_text("saucer, saucer=plate")


def test_text_file_one_class_per_line(tmp_path):
    path = tmp_path / "classes.txt"
    path.write_text("# kitchen\ncup=mug\n\nsalt, pepper\nsaucer=plate|\nspoon\n", encoding="utf-8")
    result = read_class_list(path)
    assert pairs(result.classes) == [("cup", ("mug",)), ("salt, pepper", ()), ("spoon", ())]
    assert result.problems == ("classes.txt: line 5: class 'saucer': an alias is empty in 'saucer=plate|'",)


def test_coco_categories_in_id_order(tmp_path):
    path = tmp_path / "instances.json"
    categories = [
        {"id": 3, "name": "saucer"},
        {"id": 1, "name": "cup"},
        {"id": 2, "name": "spoon"},
        {"id": 4},
    ]
    path.write_text(json.dumps({"images": [], "annotations": [], "categories": categories}))
    result = read_class_list(path)
    assert [c.name for c in result.classes] == ["cup", "spoon", "saucer"]
    assert result.problems == ('instances.json: categories[3]: needs a text "name"',)
    path.write_text(json.dumps({"images": []}))
    with pytest.raises(GroundlabelError, match='expected an object with a "categories" list'):
        read_class_list(path)


def test_label_studio_config_labels_with_predicted_values(tmp_path):
    path = tmp_path / "labeling-config.xml"
    path.write_text(
        """<View>
  <Image name="image" value="$image"/>
  <Choices name="quality" toName="image"><Choice value="good"/></Choices>
  <RectangleLabels name="label" toName="image">
    <Label value="cup" predicted_values="mug, tea cup" background="red"/>
    <Label value="spoon"/>
    <Label/>
  </RectangleLabels>
</View>"""
    )
    result = read_class_list(path)
    assert pairs(result.classes) == [("cup", ("mug", "tea cup")), ("spoon", ())]
    assert len(result.problems) == 1 and 'label 3: has no "value"' in result.problems[0]
    # A config for other tasks: its *Labels control still names the classes.
    path.write_text(
        '<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Label value="a"/></Labels></View>'
    )
    assert [c.name for c in read_class_list(path).classes] == ["a"]
    path.write_text("<View><Image name='i' value='$i'/>")
    with pytest.raises(GroundlabelError, match="not a readable labeling config"):
        read_class_list(path)


def test_unreadable_files_are_one_message(tmp_path):
    with pytest.raises(GroundlabelError, match="no such file"):
        read_class_list(tmp_path / "missing.txt")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9\n".encode("latin-1"))
    with pytest.raises(GroundlabelError, match="not UTF-8"):
        read_class_list(tmp_path / "latin1.txt")
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(GroundlabelError, match="holds no class names"):
        read_class_list(tmp_path / "empty.txt")
