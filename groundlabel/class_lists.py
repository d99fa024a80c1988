"""Class lists as people already hold them, read into ``LabelClass`` entries.

The desktop's class dialog, its File → Import classes…, and any other front end read
class lists here, so a list means the same thing everywhere:

- typed or pasted text is the ``--labels`` syntax, read by ``LabelSet.parse`` itself
  (commas separate classes, ``=`` introduces aliases, ``|`` separates aliases); line breaks
  in a pasted block count as commas;
- a text file holds one class per line, each line an entry of that syntax (so a name may
  contain a comma); blank lines and ``#`` comments are skipped;
- a Label Studio labeling config (XML, read with the standard library: the core does not
  depend on label-studio-sdk) gives the ``<Label value>`` of its ``RectangleLabels``
  controls (of any ``*Labels`` control when it has none), with ``predicted_values`` as
  aliases, as the ML backend reads them;
- a COCO file gives its ``categories`` names, in id order.

``plan_additions`` decides, against the classes a project already has, which entries are
added and why the others are refused, so a preview can show both before anything is
written.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from groundlabel.errors import GroundlabelError, LabelSetError
from groundlabel.labels import LabelClass, LabelSet, sanitize_phrase

TEXT_SUFFIXES = (".txt", ".names", ".labels", ".csv", "")
MAX_FILE_BYTES = 20 * 1024 * 1024  # a class list; a bigger file is a wrong pick


@dataclass(frozen=True)
class ClassList:
    """Entries read from a source, and one message per entry that could not be read."""

    classes: tuple[LabelClass, ...]
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClassAddition:
    """One entry of a list and whether it is added; ``refused`` says why not."""

    cls: LabelClass
    refused: str | None = None

    @property
    def added(self) -> bool:
        return self.refused is None


def parse_class_text(text: str) -> tuple[LabelClass, ...]:
    """Typed or pasted text, read by ``LabelSet.parse`` as ``groundlabel detect --labels`` is.

    One line is passed as is. A pasted block of lines (a list kept one class per line)
    has its line breaks read as commas, a comma ending a line included, instead of
    becoming part of a name.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        text = ", ".join(line.removesuffix(",").rstrip() for line in lines)
    return LabelSet.parse(text).classes


def plan_additions(existing: Sequence[LabelClass], new: Sequence[LabelClass]) -> list[ClassAddition]:
    """Which of ``new`` can join ``existing``: a class whose name or phrase is taken is refused,
    naming the class that holds it. Entries are checked in order, so the second of two equal
    entries is refused too."""
    names: dict[str, str] = {}
    phrases: dict[str, str] = {}
    for cls in existing:
        names[cls.name.casefold()] = cls.name
        for phrase in cls.phrases:
            phrases[phrase] = cls.name
    existing_names = set(names)
    plan: list[ClassAddition] = []
    for cls in new:
        reason = _refusal(cls, names, phrases)
        if reason is not None and cls.name.casefold() in names and cls.name.casefold() not in existing_names:
            reason = f"listed twice (“{names[cls.name.casefold()]}” comes first)"
        plan.append(ClassAddition(cls, reason))
        if reason is None:
            names[cls.name.casefold()] = cls.name
            for phrase in cls.phrases:
                phrases[phrase] = cls.name
    return plan


def _refusal(cls: LabelClass, names: dict[str, str], phrases: dict[str, str]) -> str | None:
    holder = names.get(cls.name.casefold())
    if holder is not None:
        return f"there is already a class “{holder}”"
    try:
        LabelSet((cls,))  # an empty name or a phrase with no words
    except LabelSetError as exc:
        return str(exc)
    for phrase in cls.phrases:
        if phrase in phrases:
            return f"the phrase “{phrase}” already prompts the class “{phrases[phrase]}”"
    return None


# -- files ---------------------------------------------------------------------------------
def read_class_list(path: str | Path) -> ClassList:
    """Classes from a Label Studio config (``.xml``), a COCO file (``.json``) or a text file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return read_label_studio_config(path)
    if suffix == ".json":
        return read_coco_categories(path)
    return read_text_lines(path)


def _read_text(path: Path) -> str:
    try:
        if path.is_dir():
            raise GroundlabelError(f"{path}: is a folder; choose a class list file (.txt, .xml or .json)")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise GroundlabelError(f"{path}: over {MAX_FILE_BYTES // 2**20} MB, not a class list")
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise GroundlabelError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise GroundlabelError(f"{path}: not UTF-8 text; save it as UTF-8 and import it again") from None
    except OSError as exc:
        raise GroundlabelError(f"{path}: cannot be read ({exc.strerror or exc})") from None


def _checked(path: Path, entries: list[tuple[str, LabelClass | str]]) -> ClassList:
    """Keep the entries that are a valid class; the others become problems naming where they were."""
    classes: list[LabelClass] = []
    problems: list[str] = []
    for where, entry in entries:
        if isinstance(entry, str):
            problems.append(f"{path.name}: {where}: {entry}")
            continue
        try:
            LabelSet((entry,))
        except LabelSetError as exc:
            problems.append(f"{path.name}: {where}: {exc}")
            continue
        classes.append(entry)
    if not classes and not problems:
        raise GroundlabelError(f"{path}: holds no class names")
    return ClassList(tuple(classes), tuple(problems))


def read_text_lines(path: str | Path) -> ClassList:
    """One class per line (``name`` or ``name=alias|alias``); blank lines and ``#`` comments skipped."""
    path = Path(path)
    entries: list[tuple[str, LabelClass | str]] = []
    for number, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            (cls,) = LabelSet.parse([line]).classes
        except LabelSetError as exc:
            entries.append((f"line {number}", str(exc)))
            continue
        entries.append((f"line {number}", cls))
    return _checked(path, entries)


def read_coco_categories(path: str | Path) -> ClassList:
    """The ``categories`` of a COCO file, in id order (other keys are not needed or checked)."""
    path = Path(path)
    try:
        document = json.loads(_read_text(path))
    except json.JSONDecodeError as exc:
        raise GroundlabelError(f"{path}: not readable JSON ({exc})") from None
    categories = document.get("categories") if isinstance(document, dict) else None
    if not isinstance(categories, list):
        raise GroundlabelError(f'{path}: not a COCO file: expected an object with a "categories" list')
    entries: list[tuple[int, str, LabelClass | str]] = []
    for i, category in enumerate(categories):
        where = f"categories[{i}]"
        name = category.get("name") if isinstance(category, dict) else None
        if not isinstance(name, str):
            entries.append((i, where, 'needs a text "name"'))
            continue
        entries.append((i, where, LabelClass(name=name.strip())))
    entries.sort(key=lambda e: _category_order(categories[e[0]], e[0]))
    return _checked(path, [(where, entry) for _, where, entry in entries])


def _category_order(category: object, index: int) -> tuple[int, float, int]:
    """COCO ids give the class order; entries without a numeric id keep their place after them."""
    cid = category.get("id") if isinstance(category, dict) else None
    if isinstance(cid, (int, float)) and not isinstance(cid, bool):
        return (0, float(cid), index)
    return (1, 0.0, index)


def read_label_studio_config(path: str | Path) -> ClassList:
    """The labels of a Label Studio labeling config's ``RectangleLabels`` (else any ``*Labels``)."""
    path = Path(path)
    return parse_label_studio_config(_read_text(path), path)


def parse_label_studio_config(xml_text: str, path: Path | None = None) -> ClassList:
    source = path or Path("labeling config")
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError as exc:
        raise GroundlabelError(f"{source}: not a readable labeling config ({exc})") from None
    controls = [e for e in root.iter() if e.tag == "RectangleLabels"]
    if not controls:
        controls = [e for e in root.iter() if e.tag.endswith("Labels")]
    if not controls:
        raise GroundlabelError(
            f"{source}: has no <RectangleLabels> (or other *Labels) control with <Label value=...> children"
        )
    entries: list[tuple[str, LabelClass | str]] = []
    for control in controls:
        control_name = control.get("name") or control.tag
        for number, label in enumerate((e for e in control.iter() if e.tag == "Label"), start=1):
            where = f"<{control.tag} name={control_name!r}> label {number}"
            value = label.get("value")
            if value is None or not value.strip():
                entries.append((where, 'has no "value"'))
                continue
            predicted = label.get("predicted_values") or ""
            aliases = tuple(p.strip() for p in predicted.split(",") if p.strip())
            entries.append((where, LabelClass(name=value.strip(), aliases=aliases)))
    return _checked(source, entries)


def describe(cls: LabelClass) -> str:
    """``name=alias|alias`` as the class would be typed."""
    return f"{cls.name}={'|'.join(cls.aliases)}" if cls.aliases else cls.name


def prompt_phrases(cls: LabelClass) -> str:
    """The phrases the detector is prompted with for ``cls``, for previews."""
    return ", ".join(sanitize_phrase(a) for a in (cls.aliases or (cls.name,)))
