"""``python -m megen.generate``: drive a target face with a micro-expression clip.

    python -m megen.generate ckpt=<file> target=<image> driving=<frames folder | video | dataset:clip> out=<folder>
    python -m megen.generate ckpt=<file> protocol=megc2021 megc_root=<test kit> out=<folder>
"""
from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import hydra
import numpy as np
import torch
from omegaconf import DictConfig

from megen.animate import FaceInput, animate, animate_from_best_frame, best_frame, default_batch_size
from megen.checkpoints import load_checkpoint
from megen.face.crop import crop_and_resize, crop_box, transform_points
from megen.face.keypoints import keypoint_set
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.models.full import MotionTransferModel, build_model
from megen.video import (
    VIDEO_SUFFIXES,
    contact_sheet,
    difference,
    frame_paths,
    read_image,
    read_video,
    to_uint8,
    write_gif,
    write_png,
    write_video,
)

DEFAULT_FPS = 100.0   # the reference animation frame rate


class GenerationError(RuntimeError):
    """Bad generation input; the message names the file or setting."""


@dataclass
class Generator:
    """A trained model ready to animate, with the settings its checkpoint was trained with."""

    model: MotionTransferModel
    prior: dict
    frame_size: int
    family: str

    @classmethod
    def from_checkpoint(cls, path, device="cpu", family: str | None = None) -> "Generator":
        path = Path(path)
        ckpt = load_checkpoint(path, map_location="cpu")
        hp = ckpt.get("hyper_parameters") or {}
        if not {"model", "prior"} <= set(hp) or "state_dict" not in ckpt:
            raise GenerationError(f"{path} is not a megen training checkpoint (no model/prior hyper-parameters)")
        if family and hp["model"]["family"] != family:
            raise GenerationError(f"{path} holds a {hp['model']['family']!r} model, not {family!r}")
        model = build_model(hp["model"], hp["prior"])
        state = {k[len("model."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise GenerationError(f"checkpoint {path} does not match its own config: {str(err)[:300]}") from err
        frame_size = hp.get("frame_size") or int(round(hp["prior"]["map_size"] / hp["model"]["motion"]["scale_factor"]))
        return cls(model.to(device).eval(), hp["prior"], int(frame_size), hp["model"]["family"])

    def face_input(self, frames: list[np.ndarray], crop: bool = True, source: str = "image",
                   landmarks: np.ndarray | None = None) -> FaceInput:
        """Crop frames with one box from the first (onset) frame's face and build its prior.

        Without a detectable face: an error when ``crop``; otherwise the frames are only resized
        and the reference's default key points stand in (``face_found`` False).
        """
        first = to_gray_uint8(frames[0])
        size = self.frame_size
        face_found = True
        if landmarks is None:
            try:
                landmarks = detect_landmarks(first, fallback=True, source=source)
            except FaceNotFoundError as err:
                if crop:
                    raise GenerationError(f"{err}; pass crop=false to use the image as it is") from err
                face_found = False
        if crop and landmarks is not None:
            box = crop_box(landmarks, first.shape)
            gray = [crop_and_resize(to_gray_uint8(f), box, size) for f in frames]
            landmarks = transform_points(landmarks, box, size)
        else:
            h, w = first.shape
            gray = [crop_and_resize(to_gray_uint8(f), (0, 0, w, h), size) if (h, w) != (size, size)
                    else to_gray_uint8(f) for f in frames]
            if landmarks is not None:
                landmarks = np.asarray(landmarks) * np.array([size / w, size / h])
        from megen.data.priors import default_keypoints

        name = self.prior["keypoints"]
        if landmarks is not None:
            kp = keypoint_set(name, landmarks)
        elif name == "paper18":
            kp = default_keypoints(size)
        else:
            raise GenerationError(f"no face in {source} and no default key points for set {name!r}; use a "
                                  f"paper18 model or a frame with a detectable face")
        return FaceInput.build(np.stack(gray), kp, self.prior, landmarks, face_found)


def load_driving(spec: str, cache_dir: str | None = None) -> tuple[list[np.ndarray], float | None, str, np.ndarray | None]:
    """Frames, frame rate, a name and (for prepared clips) the onset landmarks of a driving clip.

    ``spec``: a folder of frames, a video file, or ``<dataset>:<clip>`` from the prepared cache.
    """
    path = Path(spec)
    if path.is_dir():
        frames = [read_image(p) for p in frame_paths(path)]
        fps, name, landmarks = None, path.name, None
    elif path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        frames, fps = read_video(path)
        name, landmarks = path.stem, None
    elif ":" in spec:
        frames, fps, landmarks = _prepared_clip(spec, cache_dir)
        name = spec.split(":", 1)[1]
    else:
        raise GenerationError(f"driving {spec!r} is neither a frame folder, a video file nor <dataset>:<clip>")
    if len(frames) < 2:
        raise GenerationError(f"driving clip {spec} has {len(frames)} frame(s); at least 2 are needed")
    return frames, fps, name, landmarks


def _prepared_clip(spec: str, cache_dir: str | None):
    from megen.data.cache import PreparedSet

    dataset, clip = spec.split(":", 1)
    root = Path(cache_dir or "./data/cache")
    for folder in sorted(root.glob(f"{dataset}-*")):
        if not (folder / "manifest.csv").is_file():
            continue
        prepared = PreparedSet.open(folder)
        for i, row in enumerate(prepared.rows):
            if row["clip"] == clip:
                arrays = prepared.load(i)
                return list(arrays["frames"]), float(row["fps"]), arrays["landmarks"]
    raise GenerationError(f"clip {clip!r} of dataset {dataset!r} not found in prepared caches under {root} "
                          f"(run `python -m megen.prepare dataset={dataset}` first)")


def write_outputs(out_dir: Path, name: str, target: torch.Tensor, driving: torch.Tensor, generated: torch.Tensor,
                  fps: float, amplify: float = 10.0, max_columns: int = 12) -> Path:
    """Frames (PNG), MP4, GIF and a contact sheet for one pair, into ``out_dir/name``.

    Written under a hidden partial name and renamed at the end, so an interrupted run never
    leaves a folder that looks complete.
    """
    final = out_dir / name
    partial = out_dir / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    (partial / "frames").mkdir(parents=True)
    frames = to_uint8(generated)
    for i, f in enumerate(frames):
        write_png(partial / "frames" / f"{i:05d}.png", f)
    write_video(partial / f"{name}.mp4", frames, fps)
    write_gif(partial / f"{name}.gif", frames, fps)
    idx = np.unique(np.linspace(0, len(generated) - 1, min(max_columns, len(generated))).round().astype(int))
    t = target[:1].expand(len(idx), -1, -1, -1)
    sheet = contact_sheet([
        torch.cat([target[:1], driving[idx]]),
        torch.cat([target[:1], generated[idx]]),
        torch.cat([torch.zeros_like(target[:1]), difference(driving[idx], driving[:1].expand(len(idx), -1, -1, -1), amplify)]),
        torch.cat([torch.zeros_like(target[:1]), difference(generated[idx], t, amplify)]),
    ])
    write_png(partial / "sheet.png", sheet)
    if final.exists():
        shutil.rmtree(final)
    partial.rename(final)
    return final


def generate_pair(gen: Generator, target_path, driving_spec: str, out_dir, relative: bool = True,
                  adapt_movement_scale: bool = False, find_best_frame: bool = False, crop: bool = True,
                  fps: float | None = None, batch_size: int = 8, cache_dir: str | None = None,
                  name: str | None = None) -> Path:
    """Generate one (target, driving) pair and write its outputs; returns the output folder."""
    target_img = read_image(target_path)
    target = gen.face_input([target_img], crop=crop, source=str(target_path))
    frames, clip_fps, drv_name, drv_landmarks = load_driving(str(driving_spec), cache_dir)
    driving = gen.face_input(frames, crop=crop and drv_landmarks is None, source=str(driving_spec),
                             landmarks=drv_landmarks)
    kw = {"relative": relative, "adapt_movement_scale": adapt_movement_scale, "batch_size": batch_size}
    if find_best_frame and target.landmarks is not None:
        per_frame = []
        for f in to_uint8(driving.frames):
            try:
                per_frame.append(detect_landmarks(f))
            except FaceNotFoundError:
                per_frame.append(None)
        generated = animate_from_best_frame(gen.model, target, driving, best_frame(target.landmarks, per_frame), **kw)
    else:
        generated = animate(gen.model, target, driving, **kw)
    name = name or f"{drv_name}-{Path(target_path).stem}"
    return write_outputs(Path(out_dir), name, target.frames, driving.frames, generated, fps or clip_fps or DEFAULT_FPS)


def run(cfg: DictConfig) -> list[Path]:
    if not cfg.get("ckpt"):
        raise GenerationError("ckpt=<checkpoint file> is required")
    device = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    gen = Generator.from_checkpoint(cfg.ckpt, device=device, family=cfg.get("family"))
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    batch_size = default_batch_size(device) if cfg.batch_size == "auto" else int(cfg.batch_size)
    options = dict(relative=cfg.relative, adapt_movement_scale=cfg.adapt_movement_scale,
                   find_best_frame=cfg.find_best_frame, crop=cfg.crop, fps=cfg.fps, batch_size=batch_size,
                   cache_dir=cfg.paths.cache_dir)
    if cfg.get("protocol"):
        from megen.megc import run_protocol

        return run_protocol(gen, cfg.protocol, cfg.megc_root, out, **options)
    if not cfg.get("target") or not cfg.get("driving"):
        raise GenerationError("target=<image> and driving=<frames folder | video | dataset:clip> are required "
                              "(or protocol=megc2021|megc2022 megc_root=<kit>)")
    folder = generate_pair(gen, cfg.target, cfg.driving, out, **options)
    print(f"wrote {folder}")
    return [folder]


@hydra.main(version_base="1.3", config_path="../../conf", config_name="generate")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (GenerationError, OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
