"""A trained model ready to animate faces: loaded from a checkpoint without Lightning, with the
prior setting and frame size it was trained with, and the face crop of its inputs."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from megen.animation.animate import FaceInput
from megen.animation.errors import GenerationError
from megen.animation.native import DRIVING_NATIVE, native_size, to_tensor_frames
from megen.config.choices import Backend, GeneratePrecision, Render
from megen.face.crop import crop_and_resize, crop_box, transform_points
from megen.face.keypoints import default_keypoints, keypoint_set
from megen.face.landmarks import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.face.prior import PriorSetting
from megen.models.full import MotionTransferModel, build_model
from megen.runtime.checkpoints import load_checkpoint, model_state


def _square(gray: np.ndarray, top: int, left: int, side: int) -> np.ndarray:
    h, w = gray.shape
    if (h, w) == (side, side):
        return gray
    return cv2.copyMakeBorder(gray, top, side - h - top, left, side - w - left, cv2.BORDER_REPLICATE)


@dataclass
class Animator:
    """A trained model ready to animate, with the settings its checkpoint was trained with."""

    model: MotionTransferModel
    prior: PriorSetting
    frame_size: int
    family: str
    engine: object | None = None     # an OnnxFrameEngine running the per-frame part (backend=onnxruntime)
    precision: str = "fp32"          # fp32 | bf16: what animating with it runs at (megen.animation.precision)
    trained_motion_px: float | None = None   # the largest training motion, px of the model's frame (None: unknown)

    @classmethod
    def from_checkpoint(cls, path, device="cpu", family: str | None = None, backend: Backend = Backend.TORCH,
                        precision: GeneratePrecision = GeneratePrecision.FP32) -> "Animator":
        """``backend``: ``torch``, or ``onnxruntime`` (the per-frame part exported to ONNX and run by ONNX
        Runtime on the CPU; FOMM models, needs the ``export`` extra). ``precision``: ``fp32``, or ``bf16``
        (torch only; fast where the CPU has bf16 instructions)."""
        try:
            backend, precision = Backend.parse(backend, "backend"), GeneratePrecision.parse(precision, "precision")
        except ValueError as err:
            raise GenerationError(str(err)) from None
        if precision != GeneratePrecision.FP32 and backend != Backend.TORCH:
            raise GenerationError(f"precision={precision} is not valid with backend={backend}; valid: fp32")
        if backend == Backend.ONNXRUNTIME and not str(device).startswith("cpu"):
            raise GenerationError(f"backend=onnxruntime runs on the CPU, not {device}: pass device=cpu or backend=torch")
        path = Path(path)
        ckpt = load_checkpoint(path, map_location="cpu")
        hp = ckpt.get("hyper_parameters") or {}
        if not {"model", "prior"} <= set(hp) or "state_dict" not in ckpt:
            raise GenerationError(f"{path} is not a megen training checkpoint (no model/prior hyper-parameters)")
        if family and hp["model"]["family"] != family:
            raise GenerationError(f"{path} holds a {hp['model']['family']!r} model, not {family!r}")
        frame_size = hp.get("frame_size") or int(round(hp["prior"]["map_size"] / hp["model"]["motion"]["scale_factor"]))
        try:
            prior = PriorSetting.from_config(hp["prior"], frame_size, hp["model"]["motion"]["scale_factor"])
        except (ValueError, KeyError) as err:
            raise GenerationError(f"checkpoint {path} has an unusable prior setting: {err}") from err
        model = build_model(hp["model"], prior.model_args())
        state = model_state(ckpt["state_dict"])
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as err:
            raise GenerationError(f"checkpoint {path} does not match its own config: {str(err)[:300]}") from err
        animator = cls(model.to(device).eval(), prior, int(frame_size), hp["model"]["family"], precision=precision)
        if hp.get("motion_px") and hp.get("motion_px_at"):
            animator.trained_motion_px = float(max(hp["motion_px"])) * int(frame_size) / float(hp["motion_px_at"])
        if backend == Backend.ONNXRUNTIME:
            from megen.animation.onnx_backend import OnnxFrameEngine

            animator.engine = OnnxFrameEngine.from_model(animator.model, animator.frame_size, prior.channels,
                                                         prior.map_size)
        return animator

    def driving_native(self, render: str, magnify: float = 1.0) -> tuple[int, int] | None:
        """(low, high) px of the driving clip's full-resolution crop where its motion is measured, or None:
        the flow-guided family measures its optical flow there; key points tracked from the onset
        (``landmarks`` mode) are tracked there when rendering natively (``render=decoder`` keeps the
        paper's tracking at the model's frame size); ``magnify`` > 1 magnifies the driver's motion there."""
        if self.model.measures_flow or (render == Render.NATIVE and (self.model.tracks_landmarks or magnify != 1.0)):
            return DRIVING_NATIVE
        return None

    def face_input(self, frames: list[np.ndarray], crop: bool = True, source: str = "image",
                   landmarks: np.ndarray | None = None, native: tuple[int, int] | None = None) -> FaceInput:
        """Crop frames with one box from the first (onset) frame's face and build its prior.

        Without a detectable face: an error when ``crop``; otherwise the frames are only padded to
        square and resized and the reference's default key points stand in (``face_found`` False).
        ``native`` (low, high): also keep the crop at its own size clipped to [low, high] px, in colour
        when the frames are (``FaceInput.native``), for rendering and measuring motion at full resolution.
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
            # padded to square (edge pixels repeated) rather than squashed, so faces keep their shape
            h, w = first.shape
            side = max(h, w)
            top, left = (side - h) // 2, (side - w) // 2
            box = (-left, -top, side - left, side - top)
            gray = [_square(to_gray_uint8(f), top, left, side) for f in frames]
            gray = [crop_and_resize(g, (0, 0, side, side), size) if side != size else g for g in gray]
            if landmarks is not None:
                landmarks = transform_points(landmarks, box, size)
        full_landmarks = None if landmarks is None else native_landmarks_of(landmarks, box, size)
        name = self.prior.keypoints
        if landmarks is not None:
            kp = keypoint_set(name, landmarks)
        elif name == "paper18":
            kp = default_keypoints(size)
        else:
            raise GenerationError(f"no face in {source} and no default key points for set {name!r}; use a "
                                  f"paper18 model or a frame with a detectable face")
        face = FaceInput.build(np.stack(gray), kp, self.prior, landmarks, face_found)
        if native is not None:
            n = native_size(box[2] - box[0], None, *native)
            face.native = to_tensor_frames(np.stack([_native_crop(f, box, n) for f in frames]))
            face.native_landmarks = None if full_landmarks is None else transform_points(full_landmarks, box, n)
        return face


    def prepared_input(self, arrays: dict, frames=slice(None)) -> FaceInput:
        """A clip of the prepared cache (``PreparedSet.load``: frames (T, S, S) uint8 cropped, onset
        landmarks in their pixels) as the model's input, ``frames`` selecting which.

        S above the model's frame size: reduced to it, with the cache's crop kept as the native one.
        The native crop is where motion is measured, so it is kept only where it is >= 256 px, and a
        synthetic clip's stored fine-render guides (``guide_flow``) are carried as its measured motion.
        A cache smaller than the model's frames is refused.
        """
        stack = np.asarray(arrays["frames"])[frames]
        landmarks = np.asarray(arrays["landmarks"], dtype=np.float64)
        side, size = int(stack.shape[-1]), self.frame_size
        if side < size:
            raise GenerationError(f"the model animates {size}-px frames but the prepared clip holds {side}-px ones; "
                                  f"prepare the set with dataset.frame_size={size} or larger")
        small, small_landmarks = stack, landmarks
        if side > size:
            small = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in stack])
            small_landmarks = transform_points(landmarks, (0, 0, side, side), size)
        face = FaceInput.build(small, keypoint_set(self.prior.keypoints, small_landmarks), self.prior,
                               small_landmarks, bool(arrays.get("face_found", True)))
        if side >= DRIVING_NATIVE[0]:
            face.native, face.native_landmarks = to_tensor_frames(stack), landmarks
        if "guide_flow" in arrays and frames == slice(None):
            from megen.face.flow import DriverFlow

            face.measured = DriverFlow(np.asarray(arrays["guide_flow"], np.float32), np.eye(2, 3), landmarks)
        return face


def native_landmarks_of(landmarks: np.ndarray, box, size: int) -> np.ndarray:
    """Landmarks of the (size x size) crop of ``box`` back in the full image's pixels."""
    x0, y0, x1, _ = box
    return (np.asarray(landmarks, np.float64) + 0.5) * ((x1 - x0) / size) - 0.5 + np.array([x0, y0])


def _native_crop(frame: np.ndarray, box, n: int) -> np.ndarray:
    """The crop ``box`` of a frame (padded by edge replication where it leaves the image) at n px, gray or RGB uint8."""
    img = np.asarray(frame)
    if img.ndim == 3 and img.shape[2] == 4:
        img = img[..., :3]
    if img.dtype != np.uint8 or (img.ndim == 3 and img.shape[2] == 1):
        img = to_gray_uint8(img)
    if img.ndim == 3 and (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all():
        img = img[..., 0]
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return crop_and_resize(img, (x0, y0, x1, y1), n)
