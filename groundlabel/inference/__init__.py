"""Faster, numerically equivalent Grounding DINO inference on CPU.

``accelerate`` patches one loaded model instance (never the transformers classes):

* ``deformable`` / ``native``: multi-scale deformable sampling as one fused gather
  (compiled kernel when a toolchain is present, PyTorch ``embedding_bag`` otherwise)
  instead of per-level ``grid_sample`` plus stack, multiply and sum;
* ``fusion``: the image-text fusion attention with its products regrouped around the
  short prompt (about 30 GFLOP less per encoder layer);
* ``ffn``: the encoder feed-forward through a reused buffer with an in-place ReLU;
* ``text_cache``: the text encoder's output reused for an unchanged prompt;
* ``allocator``: glibc malloc thresholds raised so freed tensors are reused rather
  than zero-filled again by the kernel (process-wide).

``prefetch`` overlaps decoding and preprocessing of the next images with the model.
Each piece is held to the reference within 1e-4 by ``tests/test_fast_inference.py``;
``python -m benchmarks.detector_speed`` prints the speed and the measured drift.
"""
