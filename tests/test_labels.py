"""Label sets and prompts: parsing, sanitising, validation, splitting long class lists."""

from __future__ import annotations

import pytest
from transformers import BertTokenizerFast

from groundlabel.devtools.random_model import VOCAB_PATH
from groundlabel.errors import LabelSetError
from groundlabel.labels import LabelSet, build_prompts, sanitize_phrase


@pytest.fixture(scope="module")
def tokenizer() -> BertTokenizerFast:
    return BertTokenizerFast(vocab=str(VOCAB_PATH), do_lower_case=True)


def count_with(tokenizer):
    return lambda phrase: len(tokenizer(phrase, add_special_tokens=False)["input_ids"])


def test_parse_names_and_aliases():
    labels = LabelSet.parse("cat, remote control=remote|tv remote , Dog")
    assert labels.names == ["cat", "remote control", "Dog"]
    assert labels.classes[1].phrases == ("remote", "tv remote")
    assert labels.classes[2].phrases == ("dog",)


def test_parse_list_form_equals_string_form():
    assert LabelSet.parse(["cat", "remote control=remote|tv remote"]) == LabelSet.parse(
        "cat, remote control=remote|tv remote"
    )


def test_prompt_is_lower_case_dot_joined_with_trailing_dot(tokenizer):
    labels = LabelSet.parse("Cat, Remote Control")
    (chunk,) = build_prompts(labels, count_with(tokenizer))
    assert chunk.text == "cat. remote control."
    assert [chunk.text[s:e] for s, e, _ in chunk.spans] == ["cat", "remote control"]


def test_delimiters_inside_a_name_are_sanitised_but_name_is_kept(tokenizer):
    labels = LabelSet.parse("st. bernard, what?")
    (chunk,) = build_prompts(labels, count_with(tokenizer))
    assert chunk.text == "st bernard. what."
    assert labels.names == ["st. bernard", "what?"]
    assert sanitize_phrase("  A.B?c  ") == "a b c"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty"),
        ("cat,,dog", "empty"),
        ("cat, cat", "listed twice"),
        ("cat, kitty=cat", "used by both"),
        ("st. bernard, st bernard", "used by both"),
        ("dog=hound|", "alias is empty"),
        ("...", "no words"),
    ],
)
def test_bad_label_sets_are_clear_errors(spec, message):
    with pytest.raises(LabelSetError, match=message):
        LabelSet.parse(spec)


def test_long_class_lists_split_into_whole_phrase_chunks(tokenizer):
    names = [f"object number {i} with a longish description" for i in range(300)]
    labels = LabelSet.from_names(names)
    chunks = build_prompts(labels, count_with(tokenizer), max_tokens=256)
    assert len(chunks) > 1
    owners = [owner for chunk in chunks for _, _, owner in chunk.spans]
    assert owners == list(range(300)), "every class appears exactly once, in order"
    for chunk in chunks:
        ids = tokenizer(chunk.text)["input_ids"]
        assert len(ids) <= 256
        for start, end, owner in chunk.spans:
            assert chunk.text[start:end] == names[owner]
            assert chunk.text[end] == "."


def test_a_phrase_longer_than_the_model_reads_is_an_error(tokenizer):
    labels = LabelSet.from_names(["word " * 300])
    with pytest.raises(LabelSetError, match="shorten"):
        build_prompts(labels, count_with(tokenizer), max_tokens=256)
