"""One class per box, decided through the token spans of each class's phrases."""

from __future__ import annotations

import torch
from transformers import BertTokenizerFast

from groundlabel.devtools.random_model import VOCAB_PATH
from groundlabel.label_assignment import assign_classes, token_owners
from groundlabel.labels import LabelSet, build_prompts


def prompt_owners(spec: str):
    tokenizer = BertTokenizerFast(vocab=str(VOCAB_PATH), do_lower_case=True)
    labels = LabelSet.parse(spec)
    (chunk,) = build_prompts(labels, lambda p: len(tokenizer(p, add_special_tokens=False)["input_ids"]))
    encoded = tokenizer(chunk.text, return_offsets_mapping=True)
    tokens = tokenizer.convert_ids_to_tokens(encoded["input_ids"])
    return labels, tokens, token_owners(encoded["offset_mapping"], chunk.spans)


def test_tokens_map_to_their_class_and_delimiters_to_none():
    _labels, tokens, owners = prompt_owners("cat, remote control=remote|tv remote, bicycle")
    by_token = dict(zip(tokens, owners.tolist(), strict=True))
    assert by_token["[CLS]"] == -1 and by_token["[SEP]"] == -1 and by_token["."] == -1
    assert by_token["cat"] == 0
    assert by_token["tv"] == 1 and by_token["remote"] == 1
    assert by_token["bicycle"] == 2


def test_highest_token_probability_picks_the_class_and_alias_counts_for_its_class():
    labels, tokens, owners = prompt_owners("cat, remote control=remote|tv remote")
    probs = torch.zeros(3, 256)
    cat = tokens.index("cat")
    tv = tokens.index("tv")
    dot = tokens.index(".")
    probs[0, cat] = 0.9  # plainly a cat
    probs[0, tv] = 0.5
    probs[1, cat] = 0.4  # the reference would decode "cat tv" here: a merged label
    probs[1, tv] = 0.8
    probs[2, dot] = 0.99  # only a delimiter fires: no phrase grounds this box
    probs[2, cat] = 0.1
    classes, class_probs = assign_classes(probs, owners, len(labels.classes))
    assert classes[:2].tolist() == [0, 1]
    assert torch.allclose(class_probs, torch.tensor([0.9, 0.8, 0.1]))


def test_padding_positions_beyond_the_prompt_never_win():
    _labels, tokens, owners = prompt_owners("cat")
    probs = torch.zeros(1, 256)
    probs[0, 200] = 1.0
    probs[0, tokens.index("cat")] = 0.3
    classes, class_probs = assign_classes(probs, owners, 1)
    assert classes.tolist() == [0] and abs(class_probs.item() - 0.3) < 1e-6
