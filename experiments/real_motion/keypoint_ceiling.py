"""How much of a real micro-expression survives being reduced to K key points? The ceiling of the key-point
families' representation, measured without training anything.

    python experiments/real_motion/keypoint_ceiling.py --pairs <pairs.csv> --guide dis \
        --estimators deepflow,tvl1 --out experiments/real_motion/results/keypoint_ceiling.json

For each real pair the driver's dense flow is measured on its 256-px face crop by ``--guide`` (as the flow
transfer and the flow-guided default measure it). Then, per key-point set (``--sets``, ``megen.face.keypoints``):

* ``<set>``: the flow read at the set's onset key points only (K displacements per frame) and spread over the
  face again by the smoothing thin-plate spline through them (``megen.face.correspondence.thin_plate_spline``):
  what a key-point model could render at best if it tracked every key point exactly and interpolated between
  them as smoothly as possible (FOMM's first-order terms, MRAA's regions and TPS's warps are other
  interpolants of the same K points, learned);
* ``<set> first-order`` (``--first-order``): FOMM's own representation, filled in exactly: at each key point the
  flow's value and local affine (its first-order terms, least squares under a Gaussian of the model's mask width
  around the point), blended by that Gaussian against a constant background of zero motion, with the width and
  background level of the key-point recipe's mask prior (``model.dense_motion.mask_prior_variance`` and
  ``background_level`` of ``model=fomm``); and ``... no background``, the same with the background's weight 0 (every
  pixel owned by its nearest key points): the best the K first-order motions can render with the model's masks;
* ``dense``: the whole measured flow, the same transfer without the reduction (its ceiling above).

With ``--ckpt`` (a key-point checkpoint tracking its key points, ``keypoint_mode=landmarks``), more rows per
checkpoint: as trained (the driving key points tracked by Lucas-Kanade on the driver's full-resolution crop);
with the key points tracked by ``--guide`` instead (its flow read at the key points): whether the trained model
loses the motion in its tracking; and (``--stabilise``) driven by the driver with its rigid head motion taken
out of its frames (the similarity ``megen.face.controls.head_motion`` fits to ``--guide``'s flow, undone by
warping each frame): whether the head's motion, often larger than the expression, drowns it. Two more split the
ceiling's two parts: ``--jacobians``, the key points' displacement *and* Jacobian read from ``--guide``'s flow
(least squares under the mask prior's Gaussian) under the learned masks; ``--prior-masks``, the model's own key
points and Jacobians under the ceiling's masks (the prior's Gaussians, no background). ``--only-checkpoints``
leaves the reduction rows out.

Each is carried into the target and rendered natively by the flow transfer (``megen.animation.flow_transfer``),
and scored by ``--estimators`` (defaults DeepFlow and TV-L1: neither is the guide) beside the static copy,
the Farnebäck flow transfer and the published outputs. Only numbers are written, never frames.
"""
from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

import megen.animation.sources as sources
from megen.animation import Animator
from megen.animation.flow_transfer import transfer
from megen.config.compose import compose_train
from megen.evaluation.real_pairs import model_system, onset_landmarks, read_pairs, score_pairs
from megen.face.controls import head_motion, sample_flow
from megen.face.correspondence import pixel_grid, thin_plate_spline
from megen.face.flow import DriverFlow, driver_flows
from megen.face.keypoints import keypoint_set
from megen.models.tracking import to_gray
from megen.ops.flow import estimator, optical_flow
from megen.runtime.io import atomic_write_text
from megen.runtime.video import read_image, to_uint8

#: the spline's smoothing through the key points' displacements (as the correspondence's: they land on them)
SMOOTHING = 1e-4


def reduced(driver: DriverFlow, points: np.ndarray) -> DriverFlow:
    """The driver's flows (T, S, S, 2) read at ``points`` (K, 2) of its crop only, spread by the thin-plate
    spline through them: the same DriverFlow with its flows replaced."""
    size = driver.flows.shape[1]
    grid = pixel_grid(size, size)
    flows = np.stack([thin_plate_spline(points, sample_flow(f, points), SMOOTHING)(grid) for f in driver.flows])
    return DriverFlow(flows.astype(np.float32), driver.to_crop, driver.landmarks, driver.reference)


def first_order_fit(points: np.ndarray, shape: tuple[int, int], sd_px: float):
    """K first-order motions at ``points`` (K, 2, px) of an (H, W) grid, each the least squares of a flow under a
    Gaussian of ``sd_px`` about its point: ``(design (K, P, 3), weights (K, P), fit)``, where ``fit(flow (H, W, 2))``
    gives the coefficients (K, 3, 2): each point's value and the flow's x and y derivatives there."""
    grid = pixel_grid(*shape).reshape(-1, 2).astype(np.float64)
    offsets = grid[None] - np.asarray(points, np.float64)[:, None]                  # (K, P, 2)
    weights = np.exp(-0.5 * (offsets ** 2).sum(-1) / sd_px ** 2)                     # (K, P)
    design = np.concatenate([np.ones_like(offsets[..., :1]), offsets], axis=-1)      # (K, P, 3)
    normal = np.einsum("kp,kpi,kpj->kij", weights, design, design)                   # (K, 3, 3)

    def fit(flow: np.ndarray) -> np.ndarray:
        return np.linalg.solve(normal, np.einsum("kp,kpi,pc->kic", weights, design,
                                                 np.asarray(flow, np.float64).reshape(-1, 2)))
    return design, weights, fit


def first_order(driver: DriverFlow, points: np.ndarray, variance: float, background: float) -> DriverFlow:
    """The driver's flows (T, S, S, 2) as K first-order motions at ``points`` (K, 2): per point the value and
    Jacobian fitted by least squares under the Gaussian of ``variance`` ([-1, 1] units of the crop) around it,
    blended by the same Gaussians against ``background`` (a zero motion's weight; 1 = a point's at its centre)."""
    size = driver.flows.shape[1]
    design, weights, fit = first_order_fit(points, (size, size), np.sqrt(variance) * size / 2)
    masks = weights / (weights.sum(0, keepdims=True) + background)
    flows = [np.einsum("kp,kpi,kic->pc", masks, design, fit(flow)).reshape(size, size, 2) for flow in driver.flows]
    return DriverFlow(np.stack(flows).astype(np.float32), driver.to_crop, driver.landmarks, driver.reference)


def system(guide: str, keypoints: str | None, masks: tuple[float, float] | None = None):
    """A real-pair System: the transfer of the driver's flow, whole (``keypoints`` None) or reduced to the key
    points, by the thin-plate spline or (``masks``: variance, background) as first-order motions."""
    def run(frames, landmarks, target_path: Path) -> np.ndarray:
        driver = driver_flows(frames, landmarks, 256, estimator(guide))
        if keypoints is not None:
            points = keypoint_set(keypoints, driver.landmarks)
            driver = first_order(driver, points, *masks) if masks is not None else reduced(driver, points)
        target = read_image(target_path)
        return transfer(target, onset_landmarks(target, str(target_path)), driver)
    return run


def flow_tracking(guide: str):
    """A stand-in for ``megen.models.motion_networks.track_anchors``: the anchors' displacement (B, K, 2), [-1, 1]
    units, read from ``guide``'s flow from the reference to each frame (B, C, H, W) instead of Lucas-Kanade."""
    method = estimator(guide)

    def track(frame: torch.Tensor, reference: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        return read_at(forward_flows(frame, reference, method), anchors)
    return track


def forward_flows(frame: torch.Tensor, reference: torch.Tensor, method) -> torch.Tensor:
    """(B, H, W, 2) px: ``method``'s forward flow reference -> frame (B, C, H, W in [0, 1], as the driver's crops
    reach track_anchors): the reference's content at p is at p + flow(p) in the frame."""
    def gray(x):
        return to_uint8(to_gray(x), gray_as_rgb=False)
    return torch.from_numpy(np.stack([optical_flow(r, f, method) for f, r in zip(gray(frame), gray(reference))]))


def read_at(flows: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """The flows (B, H, W, 2, px) at ``anchors`` (B, K, 2, [-1, 1] units) -> (B, K, 2), [-1, 1] units."""
    h, w = flows.shape[1:3]
    read = F.grid_sample(flows.permute(0, 3, 1, 2).float(), anchors[:, :, None, :].float(), mode="bilinear",
                         padding_mode="border", align_corners=False)[..., 0].permute(0, 2, 1)
    return (read * torch.tensor([2.0 / w, 2.0 / h])).to(anchors.dtype)


def local_affines(flows: torch.Tensor, anchors: torch.Tensor, sd_px: float) -> torch.Tensor:
    """(B, K, 2, 2): the local affine ``I + grad f`` of the forward flows (B, H, W, 2, px) around each anchor (B, K, 2,
    [-1, 1] units), ``first_order_fit`` under a Gaussian of ``sd_px`` (FOMM's first-order term: the driving frame's
    Jacobian against the reference's, the identity there)."""
    h, w = flows.shape[1:3]
    centres = (anchors.detach().double().cpu().numpy() + 1) * np.array([w / 2.0, h / 2.0]) - 0.5     # (B, K, 2) px
    jacobians = [np.eye(2) + first_order_fit(c, (h, w), sd_px)[2](f)[:, 1:].transpose(0, 2, 1)
                 for f, c in zip(flows.detach().double().cpu().numpy(), centres)]
    return torch.from_numpy(np.stack(jacobians)).to(anchors.dtype)


def flow_first_order(guide: str, sd_fraction: float):
    """Stand-ins for ``track_anchors`` and a model's ``transferred_motion`` that give the driving key points the
    value *and* the Jacobian of ``guide``'s flow (``local_affines``, under a Gaussian of ``sd_fraction`` of the
    crop's width), the start frame's Jacobian the identity: the model's masks and decoder fed FOMM's first-order
    terms measured, where it learned its Jacobians from the 64-px frames."""
    method = estimator(guide)
    measured = {}

    def track(frame: torch.Tensor, reference: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
        flows = forward_flows(frame, reference, method)
        measured["jacobian"] = local_affines(flows, anchors, sd_fraction * flows.shape[2])
        return read_at(flows, anchors)

    def transferred(own):
        def run(motion_s, motion_d, motion_d0, relative=True, scale=1.0):
            jac = measured["jacobian"].to(motion_d["value"])
            eye = torch.eye(2).to(jac).expand_as(jac)
            return own({**motion_s, "jacobian": motion_s.get("jacobian", eye)}, {**motion_d, "jacobian": jac},
                       {**motion_d0, "jacobian": eye}, relative, scale)
        return run
    return track, transferred


def _affine3(m: np.ndarray) -> np.ndarray:
    return np.vstack([m, [0.0, 0.0, 1.0]])


def stabilised(frames, landmarks: np.ndarray, guide: str) -> list[np.ndarray]:
    """The clip's frames (T, H, W[, C]) with the head's rigid motion taken out: frame k shows the onset's pose.
    The head similarity M_k (onset point of frame pixel p: M_k p) is fitted to ``guide``'s backward flow on the
    face crop, moved into the frame's pixels, and frame k is resampled at M_k^-1 q (bicubic: warpAffine inverts
    the map it is given)."""
    driver = driver_flows(frames, landmarks, 256, estimator(guide))
    to_crop = _affine3(driver.to_crop)
    out = []
    for frame, m in zip(frames, head_motion(driver.flows, driver.landmarks)):
        in_frame = np.linalg.inv(to_crop) @ _affine3(m) @ to_crop              # frame pixels -> onset pixels
        h, w = np.asarray(frame).shape[:2]
        out.append(cv2.warpAffine(np.ascontiguousarray(frame), in_frame[:2], (w, h), flags=cv2.INTER_CUBIC,
                                  borderMode=cv2.BORDER_REPLICATE))
    return out


def checkpoint_systems(ckpt: str, guide: str, stabilise: bool = False, jacobians: bool = False,
                       prior_masks: bool = False) -> dict:
    """label -> System: the checkpoint as trained, with its driving key points tracked by ``guide``,
    (``jacobians``) with their Jacobians measured from ``guide``'s flow as well, (``prior_masks``) with its learned
    masks replaced by its mask prior's Gaussians and no background, and (``stabilise``) driven by the
    head-stabilised driver."""
    animator = Animator.from_checkpoint(ckpt)
    plain = model_system(animator)
    tracked_by_flow = flow_tracking(guide)

    def by_flow(frames, landmarks, target_path):
        own = sources.track_anchors
        sources.track_anchors = tracked_by_flow
        try:
            return plain(frames, landmarks, target_path)
        finally:
            sources.track_anchors = own
    name = Path(ckpt).parent.parent.parent.name + "/" + Path(ckpt).parent.parent.name     # <row>/<seed>
    systems = {f"{name}: as trained": plain, f"{name}: key points tracked by {guide}": by_flow}
    if jacobians:
        # the mask width the recipe's prior starts from, as the first-order rows above
        sd_fraction = float(np.sqrt(compose_train("model=fomm").model.dense_motion.mask_prior_variance)) / 2
        track, transferred = flow_first_order(guide, sd_fraction)

        def by_first_order(frames, landmarks, target_path):
            own_track, own_transfer = sources.track_anchors, animator.model.transferred_motion
            sources.track_anchors, animator.model.transferred_motion = track, transferred(own_transfer)
            try:
                return plain(frames, landmarks, target_path)
            finally:
                sources.track_anchors = own_track
                animator.model.transferred_motion = own_transfer
        systems[f"{name}: key points and Jacobians from {guide}"] = by_first_order
    if prior_masks:
        # the model's own key points and Jacobians, each pixel owned by its nearest key points (the first-order
        # ceiling's masks): what the learned masks cost
        owned = copy.deepcopy(animator)
        dense = owned.model.dense_motion
        torch.nn.init.zeros_(dense.mask.weight)
        torch.nn.init.zeros_(dense.mask.bias)
        dense.mask_prior, dense.background_level = True, 0.0
        systems[f"{name}: the prior's masks, no background"] = model_system(owned)
    if stabilise:
        systems[f"{name}: driver stabilised by {guide}"] = lambda frames, landmarks, target_path: plain(
            np.stack(stabilised(frames, landmarks, guide)), landmarks, target_path)
    return systems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--guide", default="dis", help="the estimator measuring the driver (megen.ops.flow)")
    parser.add_argument("--sets", default="paper18,au24,all68", help="key-point sets, comma-separated")
    parser.add_argument("--estimators", default="deepflow,tvl1", help="the scorers, comma-separated")
    parser.add_argument("--cache", default=compose_train().real.motion_cache,
                        help="the real-pair motion cache folder (default: real.motion_cache's)")
    parser.add_argument("--ckpt", action="append", default=[], help="a key-point checkpoint (repeatable)")
    parser.add_argument("--stabilise", action="store_true", help="with --ckpt: also the head-stabilised driver")
    parser.add_argument("--only-stabilised", action="store_true", help="with --ckpt: that row alone")
    parser.add_argument("--jacobians", action="store_true",
                        help="with --ckpt: also the key points' Jacobians measured from --guide's flow")
    parser.add_argument("--prior-masks", action="store_true",
                        help="with --ckpt: also the model's masks replaced by its prior's, no background")
    parser.add_argument("--only-checkpoints", action="store_true", help="with --ckpt: no reduction rows")
    parser.add_argument("--first-order", action="store_true", help="also each set as FOMM's first-order motions")
    parser.add_argument("--no-spline", action="store_true", help="without the thin-plate spline rows")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    start = time.time()
    sets = [s for s in args.sets.split(",") if s]
    systems = {} if args.only_checkpoints else {f"dense ({args.guide})": system(args.guide, None)}
    if not args.no_spline and not args.only_checkpoints:
        systems.update({f"{s} ({args.guide})": system(args.guide, s) for s in sets})
    if args.first_order:
        fomm = compose_train("model=fomm").model.dense_motion
        for s in sets:
            systems[f"{s} first-order ({args.guide})"] = system(
                args.guide, s, (fomm.mask_prior_variance, fomm.background_level))
            systems[f"{s} first-order, no background ({args.guide})"] = system(
                args.guide, s, (fomm.mask_prior_variance, 0.0))
    for ckpt in args.ckpt:
        rows = checkpoint_systems(ckpt, args.guide, args.stabilise or args.only_stabilised, args.jacobians,
                                  args.prior_masks)
        systems.update({k: v for k, v in rows.items() if not args.only_stabilised or "stabilised" in k})
    estimators = args.estimators.split(",")
    scored = score_pairs(read_pairs(args.pairs), systems, None, face_metrics=False, sheets=False,
                         estimators=estimators, motion_cache=args.cache)
    for label, s in scored["mean"].items():
        print(f"{label:24s} " + "  ".join(f"{e} {s[f'cosine/{e}']:.3f} / {s[f'amplitude/{e}']:.3f}" for e in estimators))
    per_pair = [{"pair": p["pair"], **{label: {k: v for k, v in s.items() if "/" in k} for label, s in p["systems"].items()}}
                for p in scored["pairs"]]
    result = {"guide": args.guide, "sets": sets, "checkpoints": args.ckpt, "estimators": estimators, "smoothing": SMOOTHING,
              "mean": scored["mean"], "mean_published": scored.get("mean_published"), "pairs": per_pair,
              "seconds": round(time.time() - start)}
    atomic_write_text(Path(args.out), json.dumps(result, indent=2, default=float))


if __name__ == "__main__":
    main()
