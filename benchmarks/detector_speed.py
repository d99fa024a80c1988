"""Detector speed: groundlabel's detector against the transformers reference path.

Run ``python -m benchmarks.detector_speed`` from the repository root. It builds the
full-size grounding-dino-tiny architecture with random weights (the real model's
compute, no download), then in one process, on the reference photographs:

1. per image, several interleaved rounds of the reference path (decode, processor,
   model, ``post_process_grounded_object_detection``) and of ``Detector.detect``:
   median seconds, ratio, split by stage, peak RSS, and how far the two disagree
   (raw logits and boxes, and the final boxes and scores);
2. folder throughput of ``Detector.detect`` over a folder of copies of the photos,
   against the single-image rate from (1);
3. memory over many images, on a reduced input size (stated in the output);
4. on a CUDA machine, reference and detector throughput in fp32 and bf16 with batches;
5. ``--sections families``: CPU s/image of every detector family (``family_speed``).

Figures are medians of the rounds measured here; nothing is asserted.
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch

from benchmarks.speed_support import (
    STAGES,
    StageClock,
    build_full_size_model,
    current_rss_bytes,
    print_precision_header,
    rss_peak,
)

REPO = Path(__file__).resolve().parents[1]
PHOTOS = sorted((REPO / "assets" / "reference" / "photos").glob("*.png"))
CLASSES = ["cat", "person", "astronaut", "rocket", "flag"]
BOX_THRESHOLD, TEXT_THRESHOLD = 0.35, 0.25
MB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds per image (medians are printed)")
    parser.add_argument("--folder-images", type=int, default=20, help="images in the throughput run")
    parser.add_argument(
        "--folder-block", type=int, default=10, help="images per folder in the throughput run"
    )
    parser.add_argument(
        "--sections", nargs="+", default=["single", "folder", "memory", "gpu"],
        choices=["single", "folder", "memory", "gpu", "families"],
        help="which parts to run (families: CPU s/image of every detector family; benchmarks.family_speed)",
    )  # fmt: skip
    parser.add_argument("--memory-images", type=int, default=500, help="images in the memory run (0: skip)")
    parser.add_argument("--memory-edge", type=int, default=240, help="short side of the memory run's input")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "groundlabel-bench")
    parser.add_argument("--gpu-batches", type=int, nargs="+", default=[1, 4])
    return parser.parse_args(argv)


def reference_run(processor, model, clock: StageClock, path: Path, text: str):
    """The model card's path on one image file; returns (outputs, post-processed result, size)."""
    from groundlabel.images import load_image

    with clock.stage("decode"):
        image = load_image(path)
    with clock.stage("preprocess"):
        inputs = processor(images=[image], text=[text], return_tensors="pt")
    with torch.inference_mode():
        outputs = model(**inputs)
    with clock.stage("post-processing"):
        result = processor.post_process_grounded_object_detection(
            outputs,
            inputs["input_ids"],
            threshold=BOX_THRESHOLD,
            text_threshold=TEXT_THRESHOLD,
            target_sizes=[(image.height, image.width)],
        )[0]
    return outputs, result, image.size


def instrument_detector(detector, clock: StageClock, captured: list) -> None:
    """Time the detector's stages on this instance only, and keep its raw model outputs."""
    detector._prepare_all = clock.wrap_generator("decode", detector._prepare_all)
    detector._pixels = clock.wrap("preprocess", detector._pixels)
    detector.adapter.text_inputs = clock.wrap("preprocess", detector.adapter.text_inputs)
    detector._select = clock.wrap("post-processing", detector._select)
    detector._finish = clock.wrap("post-processing", detector._finish)
    forward = detector._forward

    def recording_forward(pixels, prompt):
        logits, boxes = forward(pixels, prompt)
        captured.append((logits, boxes))
        return logits, boxes

    detector._forward = recording_forward


def raw_drift(reference_outputs, logits: torch.Tensor, boxes: torch.Tensor) -> dict[str, float]:
    ref_logits = reference_outputs.logits.float()
    finite = torch.isfinite(ref_logits)
    same_mask = bool((finite == torch.isfinite(logits)).all())
    ref_scores = torch.sigmoid(ref_logits).max(-1).values
    scores = torch.sigmoid(logits).max(-1).values
    return {
        "logits": float((ref_logits[finite] - logits[finite]).abs().max()) if same_mask else float("inf"),
        "pred_boxes": float((reference_outputs.pred_boxes.float() - boxes).abs().max()),
        "query_scores": float((ref_scores - scores).abs().max()),
        # queries whose box moved: two proposals with near-equal encoder scores (random weights
        # give gaps under 1e-6) can swap places in the top-k; the final sets still agree
        "reordered": int(((reference_outputs.pred_boxes.float() - boxes).abs().amax(-1) > 1e-3).sum()),
    }


def final_drift(reference_result: dict, detection, size: tuple[int, int]) -> dict[str, float]:
    """Each detector box against the nearest reference box (clamped like the detector's)."""
    width, height = size
    ref_boxes = reference_result["boxes"].clone()
    ref_boxes[:, 0::2] = ref_boxes[:, 0::2].clamp(0, width)
    ref_boxes[:, 1::2] = ref_boxes[:, 1::2].clamp(0, height)
    ref_scores = reference_result["scores"]
    worst_box = worst_score = 0.0
    for box, score in zip(detection.boxes, detection.scores, strict=True):
        distance = (ref_boxes - torch.tensor(box)).abs().max(dim=1).values
        nearest = int(distance.argmin())
        worst_box = max(worst_box, float(distance[nearest]))
        worst_score = max(worst_score, abs(float(ref_scores[nearest]) - score))
    return {"kept_reference": len(ref_scores), "kept_groundlabel": len(detection.boxes),
            "box_px": worst_box, "score": worst_score}  # fmt: skip


def _prompt_text(model_dir: Path, labels) -> str:
    """The prompt groundlabel builds for ``labels``, from the tokenizer alone (no model load)."""
    from transformers import AutoTokenizer

    from groundlabel.labels import build_prompts

    tokenizer = AutoTokenizer.from_pretrained(model_dir)

    def count(phrase: str) -> int:
        return len(tokenizer(phrase, add_special_tokens=False)["input_ids"])

    return build_prompts(labels, count, 256)[0].text


def compare_single_images(args, model_dir: Path) -> dict:
    """Section 1: the per-image rounds. Returns what later sections need."""
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    from groundlabel import Detector, LabelSet

    processor = AutoProcessor.from_pretrained(model_dir)
    reference = AutoModelForZeroShotObjectDetection.from_pretrained(model_dir).eval()
    labels = LabelSet.from_names(CLASSES)
    ref_clock, fast_clock, captured = StageClock(), StageClock(), []
    ref_clock.hook_model(reference)
    # groundlabel raises glibc's malloc thresholds for the whole process when it loads, which
    # speeds up the reference too; so the reference is first timed as a plain script runs it.
    text = _prompt_text(model_dir, labels)
    untuned = {}
    reference_run(processor, reference, ref_clock, PHOTOS[0], text)
    for path in PHOTOS:
        seconds = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            reference_run(processor, reference, ref_clock, path, text)
            seconds.append(time.perf_counter() - start)
        untuned[path] = statistics.median(seconds)
    ref_clock.take()
    detector = Detector.load(str(model_dir), device="cpu")
    assert detector.prompts(labels)[0].chunk.text == text, "benchmark and detector prompts differ"
    print(f"prompt: {text!r}; groundlabel: {detector.acceleration.describe()}")
    fast_clock.hook_model(detector.model)
    instrument_detector(detector, fast_clock, captured)
    list(detector.detect([PHOTOS[0]], labels))  # warm-up: builds the native kernel once
    reference_run(processor, reference, ref_clock, PHOTOS[0], text)
    ref_clock.take(), fast_clock.take()
    captured.clear()

    summary = {"detector": detector, "labels": labels}
    for path in PHOTOS:
        times = {"reference": [], "groundlabel": []}
        cpu = {"reference": [], "groundlabel": []}
        stages = {"reference": [], "groundlabel": []}
        peaks = {"reference": 0, "groundlabel": 0}
        rises = {"reference": 0, "groundlabel": 0}
        drift: dict = {}
        for round_index in range(args.rounds):
            order = ("reference", "groundlabel") if round_index % 2 == 0 else ("groundlabel", "reference")
            for which in order:
                captured.clear()
                with rss_peak() as memory:
                    start, cpu_start = time.perf_counter(), time.process_time()
                    if which == "reference":
                        ref_out, ref_result, size = reference_run(processor, reference, ref_clock, path, text)
                    else:
                        detection = next(iter(detector.detect([path], labels, BOX_THRESHOLD, TEXT_THRESHOLD)))
                    times[which].append(time.perf_counter() - start)
                    cpu[which].append(time.process_time() - cpu_start)
                peaks[which] = max(peaks[which], memory["peak"])
                rises[which] = max(rises[which], memory["peak"] - memory["baseline"])
                stages[which].append((ref_clock if which == "reference" else fast_clock).take())
                if which == "groundlabel":
                    fast_logits, fast_boxes = captured[0]
            drift = {
                "raw": raw_drift(ref_out, fast_logits, fast_boxes),
                "final": final_drift(ref_result, detection, size),
            }
        ref_median = statistics.median(times["reference"])
        fast_median = statistics.median(times["groundlabel"])
        print(f"\n== {path.name} ({size[0]}x{size[1]}), {args.rounds} rounds, median seconds ==")
        print(f"reference {ref_median:7.3f}  groundlabel {fast_median:7.3f}  speed-up {ref_median / fast_median:5.2f}x"
              "  (interleaved rounds; groundlabel's allocator setting applies to both)")  # fmt: skip
        ref_cpu, fast_cpu = statistics.median(cpu["reference"]), statistics.median(cpu["groundlabel"])
        print(f"CPU seconds (all threads; less sensitive to other load): reference {ref_cpu:.2f}, "
              f"groundlabel {fast_cpu:.2f}, ratio {ref_cpu / fast_cpu:.2f}x")  # fmt: skip
        print(f"reference with the default allocator (timed before groundlabel loaded) {untuned[path]:7.3f}  "
              f"speed-up {untuned[path] / fast_median:5.2f}x")  # fmt: skip
        print(f"{'stage':<16}{'reference':>11}{'groundlabel':>13}")
        for stage in STAGES:
            ref_stage = statistics.median(s[stage] for s in stages["reference"])
            fast_stage = statistics.median(s[stage] for s in stages["groundlabel"])
            print(f"{stage:<16}{ref_stage:>11.3f}{fast_stage:>13.3f}")
        print(f"process RSS peak during a call: reference {peaks['reference'] / MB:.0f} MB, groundlabel "
              f"{peaks['groundlabel'] / MB:.0f} MB (one process holding both models); largest rise within a call: "
              f"reference {rises['reference'] / MB:.0f} MB, groundlabel {rises['groundlabel'] / MB:.0f} MB")  # fmt: skip
        raw, final = drift["raw"], drift["final"]
        print(f"largest difference, raw model outputs: logits {raw['logits']:.2e}, "
              f"pred_boxes {raw['pred_boxes']:.2e}, per-query score {raw['query_scores']:.2e}; "
              f"queries reordered by near-ties: {raw['reordered']}")  # fmt: skip
        print(f"largest difference, final detections: box {final['box_px']:.2e} px, score {final['score']:.2e} "
              f"(reference keeps {final['kept_reference']}, groundlabel {final['kept_groundlabel']} after its "
              "per-class text threshold)")  # fmt: skip
    return summary


def folder_throughput(args, detector, labels, workdir: Path) -> None:
    """Section 2: detect() over folders against one detect() call per image, interleaved.

    The images are split into blocks; each block is run both ways, in alternating order,
    so that load from other processes falls on both alike.
    """
    block = max(2, args.folder_block)
    blocks = []
    for start in range(0, args.folder_images, block):
        folder = workdir / f"block-{start:03d}"
        folder.mkdir(exist_ok=True)
        for index in range(start, min(start + block, args.folder_images)):
            source = PHOTOS[index % len(PHOTOS)]
            shutil.copy(source, folder / f"{index:03d}-{source.name}")
        blocks.append(folder)
    totals = {"folder": 0.0, "single": 0.0}
    count = 0
    for number, folder in enumerate(blocks):
        files = sorted(folder.iterdir())
        count += len(files)
        order = ("folder", "single") if number % 2 == 0 else ("single", "folder")
        for way in order:
            start = time.perf_counter()
            if way == "folder":
                results = list(detector.detect(folder, labels))
            else:
                results = [next(iter(detector.detect([path], labels))) for path in files]
            totals[way] += time.perf_counter() - start
            assert len(results) == len(files) and all(r.ok for r in results)
    folder_rate, single_rate = count / totals["folder"], count / totals["single"]
    print(f"\n== folder throughput, {count} images (copies of the photos) in blocks of {block}, "
          "each block run both ways, alternating order ==")  # fmt: skip
    print(f"one detect() call per folder {folder_rate:.3f} images/s; one call per image {single_rate:.3f} images/s; "
          f"ratio {folder_rate / single_rate:.2f}x")  # fmt: skip


def memory_run(args, workdir: Path) -> None:
    """Section 3: RSS over many images at a reduced input size (full-size architecture)."""
    from groundlabel import Detector, LabelSet

    edge = args.memory_edge
    model_dir = build_full_size_model(workdir.parent / f"full-size-{edge}", edge, edge * 1333 // 800)
    detector = Detector.load(str(model_dir), device="cpu")
    labels = LabelSet.from_names(CLASSES)
    paths = [PHOTOS[i % len(PHOTOS)] for i in range(args.memory_images)]
    warm = min(25, len(paths) // 4)
    samples = []
    start = time.perf_counter()
    for index, result in enumerate(detector.detect(paths, labels), start=1):
        assert result.ok, result.error
        if index in (warm, len(paths)) or index % 100 == 0:
            samples.append((index, current_rss_bytes()))
    elapsed = time.perf_counter() - start
    base = samples[0][1]
    growth = (samples[-1][1] - base) / base * 100
    print(f"\n== memory: {len(paths)} images through one detect() call, full-size architecture at short side "
          f"{edge} (reduced from 800 to keep the run short), {elapsed:.0f} s ==")  # fmt: skip
    print("RSS after image " + ", ".join(f"{i}: {rss / MB:.0f} MB" for i, rss in samples))
    print(f"growth from image {warm} to {len(paths)}: {growth:+.2f} %")


def _reference_gpu_pass(processor, model, images, text: str, dtype: torch.dtype, batch: int) -> None:
    # The detector's batching rule (groundlabel.batching): only images of one size share a
    # batch, so no padding changes the reference's results either.
    from groundlabel.batching import bucket_by_shape

    for indices in bucket_by_shape([image.size for image in images], batch):
        chunk = [images[i] for i in indices]
        inputs = processor(images=chunk, text=[text] * len(chunk), return_tensors="pt").to("cuda")
        inputs["pixel_values"] = inputs["pixel_values"].to(dtype)
        with torch.inference_mode():
            outputs = model(**inputs)
        sizes = [(image.height, image.width) for image in chunk]
        processor.post_process_grounded_object_detection(
            outputs,
            inputs["input_ids"],
            threshold=BOX_THRESHOLD,
            text_threshold=TEXT_THRESHOLD,
            target_sizes=sizes,
        )
    torch.cuda.synchronize()


def _images_per_second(run, count: int, repeats: int = 3) -> float:
    run()  # warm-up
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return count / statistics.median(seconds)


def gpu_run(args, model_dir: Path) -> None:
    """Section 4: CUDA throughput in fp32 and bf16 with batches, when a GPU is present."""
    print("\n== GPU ==")
    if not torch.cuda.is_available():
        print(
            "not measured: no CUDA device on this machine (fp32 and bf16, batches "
            + str(args.gpu_batches)
            + ")"
        )
        return
    from transformers import AutoModelForZeroShotObjectDetection, AutoProcessor

    from groundlabel import Detector, LabelSet
    from groundlabel.images import load_image

    print(torch.cuda.get_device_name(0))
    labels = LabelSet.from_names(CLASSES)
    paths = [PHOTOS[i % len(PHOTOS)] for i in range(16)]
    images = [load_image(path) for path in paths]
    processor = AutoProcessor.from_pretrained(model_dir)
    for dtype_name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        reference = AutoModelForZeroShotObjectDetection.from_pretrained(model_dir, dtype=dtype).cuda().eval()
        detector = Detector.load(str(model_dir), device="cuda", dtype=dtype_name)
        text = detector.prompts(labels)[0].chunk.text
        for batch in args.gpu_batches:
            ref_rate = _images_per_second(
                lambda b=batch, m=reference, d=dtype, t=text: _reference_gpu_pass(
                    processor, m, images, t, d, b
                ),
                len(images),
            )
            fast_rate = _images_per_second(
                lambda b=batch, det=detector: list(det.detect(paths, labels, batch_size=b)), len(paths)
            )
            print(
                f"{dtype_name} batch {batch}: reference {ref_rate:.1f} images/s, groundlabel {fast_rate:.1f} images/s"
            )
        del reference, detector
        torch.cuda.empty_cache()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    import transformers

    print("groundlabel detector speed benchmark")
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
          f"{platform.system()} {platform.release()}; python {platform.python_version()}, torch {torch.__version__}, "
          f"transformers {transformers.__version__}")  # fmt: skip
    print_precision_header()
    print(
        "model: grounding-dino-tiny architecture (full size, random weights), input short side 800, fp32, CPU"
    )
    if "families" in args.sections:
        from benchmarks.family_speed import run_families

        run_families(min(args.rounds, 3))
        if set(args.sections) == {"families"}:
            return
    args.cache.mkdir(parents=True, exist_ok=True)
    model_dir = build_full_size_model(args.cache / "full-size-800")
    summary = compare_single_images(args, model_dir) if "single" in args.sections else None
    with tempfile.TemporaryDirectory(dir=args.cache) as scratch:
        if "folder" in args.sections and args.folder_images:
            from groundlabel import Detector, LabelSet

            detector = summary["detector"] if summary else Detector.load(str(model_dir), device="cpu")
            folder_throughput(args, detector, LabelSet.from_names(CLASSES), Path(scratch))
            del detector
        summary = None
        if "memory" in args.sections and args.memory_images:
            memory_run(args, Path(scratch))
    if "gpu" in args.sections:
        gpu_run(args, model_dir)


if __name__ == "__main__":
    main()
