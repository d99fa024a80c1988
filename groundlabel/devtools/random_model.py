"""Checkpoints of every supported family with random weights, for tests and benchmarks.

Real weights cannot be downloaded where groundlabel is developed, so tests save a tiny
random model with the real tokenizer files (bert-base-uncased's vocabulary for
(MM) Grounding DINO, CLIP's BPE for OWL; ``random_families`` holds the other families)
and load it back through the
same ``from_pretrained`` path users take; benchmarks build the full-size architecture
from the real config, which has the real model's compute. Nothing here fakes outputs:
the model runs for real, its weights are just untrained.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from transformers import GroundingDinoConfig, GroundingDinoProcessor

# The repository's assets/ (tokenizer files, configs); an installed wheel has none, so
# GROUNDLABEL_REFERENCE_DIR points it at a checkout's assets/reference.
REFERENCE_DIR = Path(
    os.environ.get("GROUNDLABEL_REFERENCE_DIR")
    or Path(__file__).resolve().parents[2] / "assets" / "reference"
)
VOCAB_PATH = REFERENCE_DIR / "bert-base-uncased-vocab.txt"
FULL_CONFIG_PATH = REFERENCE_DIR / "grounding-dino-tiny.config.json"


def tiny_config(max_text_len: int = 256) -> GroundingDinoConfig:
    """A Grounding DINO config with every dimension shrunk; loads in well under a second."""
    from transformers import GroundingDinoConfig

    return GroundingDinoConfig(
        backbone_config={
            "model_type": "swin",
            "embed_dim": 16,
            "depths": [1, 1, 1, 1],
            "num_heads": [1, 1, 2, 2],
            "window_size": 7,
            "out_features": ["stage2", "stage3", "stage4"],
            "out_indices": [2, 3, 4],
        },
        text_config={
            "model_type": "bert",
            "vocab_size": 30522,
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 512,
        },
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,  # transformers ties decoder box heads; one layer breaks the tie
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=30,
        max_text_len=max_text_len,
        encoder_n_points=2,
        decoder_n_points=2,
    )


def full_config() -> GroundingDinoConfig:
    from transformers import GroundingDinoConfig

    return GroundingDinoConfig.from_json_file(str(FULL_CONFIG_PATH))


def build_processor(shortest_edge: int = 800, longest_edge: int = 1333) -> GroundingDinoProcessor:
    """The processor grounding-dino-tiny ships: bert-base-uncased tokenizer, DETR-style resize."""
    from transformers import BertTokenizerFast, GroundingDinoImageProcessorPil, GroundingDinoProcessor

    # vocab= (not vocab_file=): transformers 5 ignores vocab_file and maps every token to [UNK].
    tokenizer = BertTokenizerFast(vocab=str(VOCAB_PATH), do_lower_case=True)
    image_processor = GroundingDinoImageProcessorPil(
        size={"shortest_edge": shortest_edge, "longest_edge": longest_edge}
    )
    return GroundingDinoProcessor(image_processor=image_processor, tokenizer=tokenizer)


def save_random_model(
    directory: str | Path,
    *,
    family: str = "grounding-dino",
    full_size: bool = False,
    seed: int = 0,
    shortest_edge: int | None = None,
    longest_edge: int | None = None,
) -> Path:
    """Write a random Grounding DINO plus processor with ``save_pretrained``; return the directory.

    The tiny model defaults to a small input (short side 200) to keep tests fast; the
    full-size one keeps the real 800/1333. ``family`` is a ``config.model_type``:
    grounding-dino, mm-grounding-dino, owlv2, owlvit (see ``random_families``).
    """
    from transformers import GroundingDinoForObjectDetection

    if family != "grounding-dino":
        from groundlabel.devtools.random_families import save_random_family

        return save_random_family(directory, family, full_size=full_size, seed=seed)
    directory = Path(directory)
    torch.manual_seed(seed)
    config = full_config() if full_size else tiny_config()
    model = GroundingDinoForObjectDetection(config).eval()
    model.save_pretrained(directory)
    short = shortest_edge or (800 if full_size else 200)
    long = longest_edge or (1333 if full_size else 333)
    build_processor(short, long).save_pretrained(directory)
    return directory


def main(argv: list[str] | None = None) -> int:
    """``python -m groundlabel.devtools.random_model DIR``: a local model directory for offline trials."""
    import argparse

    parser = argparse.ArgumentParser(description="Save a detector with random weights (tests, benchmarks).")
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--family",
        default="grounding-dino",
        help="config model_type: grounding-dino, mm-grounding-dino, owlv2, owlvit (default: grounding-dino)",
    )
    parser.add_argument(
        "--full-size", action="store_true", help="the real architecture (689 MB) instead of a tiny one"
    )
    args = parser.parse_args(argv)
    print(save_random_model(args.directory, family=args.family, full_size=args.full_size))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
