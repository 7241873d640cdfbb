"""How much of an expression does the head estimate take for head motion? Synthetic clips whose expression and
head motion are both known: each identity's expression program is rendered (its exact apex flow, no head motion),
then a random rigid head motion (a similarity: translation, rotation, scale) is put on top. Each head estimate of
``ESTIMATES`` fits the head to the apex flow, and the error of its head field against the
true one is measured over the face. That error is exactly what ``head=remove`` leaves in, or takes out of, the
expression.

    python experiments/controls/head_estimate.py --out experiments/controls/results/head_estimate.json

Flows: the exact ones (``truth``), and DeepFlow between the onset and the apex frame moved by the head (with
sensor noise), which neither head estimate uses otherwise. Head motion: none (the AU basis's synthetic clips, and
the expression's own leak alone), drawn (sd ``--head-px`` px of a 256-px face in translation, rotation and
scale each at half the face's width), or that similarity with a turn in depth (``turn_field``: the nose moves
further than the outline, as on a real face; the ``similarity floor`` row is the least any similarity can leave of
it). Errors are px of a 256-px face, RMS over the face's landmark hull (``px``), as a share of the expression's own
RMS there (``share``), and the length of their mean over the face (``mean_px``: the drift the real-pair scorer
reads); mean ± sd over clips.

``--real <pairs.csv>`` adds the real driving clips of a pairs file, whose head motion is not known: each clip on the
canonical 256-px face of the real-pair scorer, its flow from the onset by DeepFlow, and per estimate the drift of
the face's mean flow once the fitted head is taken off (the largest over frames, px; what ``head=remove`` leaves of
the whole face's motion, and what the scorer counts as head drift), beside the drift with the head kept. A real head
turns in depth, which no similarity holds whole, so what an estimate leaves there is head motion as well as the
expression's own translation. Only numbers are written.
"""
from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np

from megen.evaluation.real_pairs import onset_landmarks, read_clip, read_pairs
from megen.face.align import fit_similarity
from megen.face.controls import (
    HEAD_ITERATIONS,
    HEAD_TUKEY,
    face_points,
    head_motion,
    head_points,
    robust_similarity,
    sample_flow,
    similarity_field,
    tukey_weights,
)
from megen.face.correspondence import eye_distance, hull_distance, pixel_grid
from megen.metrics.expression import canonical_clip, drift, onset_flows, region_masks
from megen.ops.flow import estimator
from megen.runtime.io import atomic_write_text
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, render

#: what facial actions move, each a hull: the brows, the eyes, the nose's wings and the mouth
EXPRESSIVE = (range(17, 22), range(22, 27), range(36, 42), range(42, 48), range(31, 36), range(48, 68))
#: landmarks no facial action moves, held by bone and tendon: the nasal root and the inner eye corners; and the
#: outline beside the eyes, a fifth of the way in towards the nose tip so that the background does not pull it
ANCHORS, SIDES = (27, 28, 39, 42), (0, 1, 15, 16)


def stable_points(landmarks: np.ndarray, shape: tuple[int, int], margin: float = 0.25) -> np.ndarray:
    """The face's grid points at least ``margin`` eye distances from every expressive feature's hull."""
    points = head_points(landmarks)
    distance = hull_distance([landmarks[list(r)] for r in EXPRESSIVE], shape)
    return points[nearest(distance, points) >= margin * eye_distance(landmarks)]


def nearest(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``image`` (H, W) at the pixels nearest ``points`` (P, 2), clipped to the image: (P,)."""
    at = np.clip(np.rint(points).astype(int), 0, np.array(image.shape[1::-1]) - 1)
    return image[at[:, 1], at[:, 0]]


def face_grid(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The grid ``head_motion`` fits over (``head_points``), as ``fit_on`` asks for points."""
    return head_points(landmarks)


def anchor_points(landmarks: np.ndarray, radius: float = 0.15) -> np.ndarray:
    """Points on discs of ``radius`` eye distances about ``ANCHORS`` and the upper sides (``SIDES``)."""
    sides = landmarks[list(SIDES)] + 0.2 * (landmarks[30] - landmarks[list(SIDES)])
    r = radius * eye_distance(landmarks)
    step = max(float(np.ptp(landmarks[:, 0])) / 64, 0.5)
    offsets = np.stack(np.meshgrid(*(np.arange(-r, r + 1e-9, step),) * 2), -1).reshape(-1, 2)
    return (np.concatenate([landmarks[list(ANCHORS)], sides])[:, None] + offsets[np.linalg.norm(offsets, axis=1) <= r]
            ).reshape(-1, 2)


def robust_affine(src: np.ndarray, dst: np.ndarray, tukey: float = HEAD_TUKEY) -> np.ndarray:
    """The (2, 3) affine map taking ``src`` (P, 2) to ``dst`` (P, 2), reweighted as ``robust_similarity`` is: a head
    turning in depth foreshortens a flat face, which a similarity cannot follow and an affine can."""
    design = np.hstack([src, np.ones((len(src), 1))])
    weights = np.ones(len(src))
    for _ in range(HEAD_ITERATIONS + 1):
        w = np.sqrt(weights)[:, None]
        m = np.linalg.lstsq(design * w, dst * w, rcond=None)[0].T
        weights = tukey_weights(np.linalg.norm(design @ m.T - dst, axis=1), tukey)
    return m


def face_depth(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float64: a face's depth (px) seen from the front, guessed from its 68 ``landmarks``: a half-ellipsoid
    over them (half-axes their half width and half height, depth their half width) with a nose of a third of an eye
    distance on it (a Gaussian of a quarter eye distance about the nose tip, landmark 30)."""
    grid = pixel_grid(*shape).astype(np.float64)
    centre, half = landmarks.mean(0), np.ptp(landmarks, axis=0) / 2
    eyes = eye_distance(landmarks)
    depth = half[0] * np.sqrt(np.clip(1.0 - (((grid - centre) / half) ** 2).sum(-1), 0.0, None))
    return depth + eyes / 3 * np.exp(-((grid - landmarks[30]) ** 2).sum(-1) / (2 * (eyes / 4) ** 2))


def robust_turn(src: np.ndarray, dst: np.ndarray, depth: np.ndarray, tukey: float = HEAD_TUKEY) -> np.ndarray:
    """A similarity plus a turn in depth taking ``src`` (P, 2) to ``dst`` (P, 2): d(p) = [[a, -b], [b, a]] p + t +
    depth(p) (yaw, pitch) for small angles, each point's ``depth`` (P,) given; reweighted as ``robust_similarity``
    is. Returns its parameters (a, b, tx, ty, yaw, pitch)."""
    x, y, one, zero = src[:, 0], src[:, 1], np.ones(len(src)), np.zeros(len(src))
    design = np.concatenate([np.stack([x, -y, one, zero, depth, zero], 1), np.stack([y, x, zero, one, zero, depth], 1)])
    target = np.concatenate([dst[:, 0] - x, dst[:, 1] - y])
    weights = np.ones(len(src))
    for _ in range(HEAD_ITERATIONS + 1):
        w = np.sqrt(np.concatenate([weights, weights]))
        params = np.linalg.lstsq(design * w[:, None], target * w, rcond=None)[0]
        weights = tukey_weights(np.linalg.norm(src + (design @ params).reshape(2, -1).T - dst, axis=1), tukey)
    return params


def turn_estimate(flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The head as a similarity plus a turn in depth (``robust_turn``) over the face's grid: its field (H, W, 2)."""
    points = head_points(landmarks)
    depth = face_depth(landmarks, flow.shape[:2])
    a, b, tx, ty, yaw, pitch = robust_turn(points, points + sample_flow(flow, points), nearest(depth, points))
    grid = pixel_grid(*flow.shape[:2]).astype(np.float64)
    x, y = grid[..., 0], grid[..., 1]
    return np.stack([a * x - b * y + tx + yaw * depth, b * x + a * y + ty + pitch * depth], -1).astype(np.float32)


def fit_on(points_of, fit=robust_similarity):
    def estimate(flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        points = points_of(landmarks, flow.shape[:2])
        return fit(points, points + sample_flow(flow, points))
    return estimate


#: the head estimates compared: ``face`` is ``megen.face.controls.head_motion`` (head=remove's, Tukey scale
#: ``HEAD_TUKEY``); ``face_c<c>`` the same fit at another Tukey scale (4.685: the textbook one, used before)
ESTIMATES = {
    "face": lambda flow, landmarks: head_motion(flow[None], landmarks)[0],
    **{f"face_c{c:g}": fit_on(face_grid, lambda s, d, c=c: robust_similarity(s, d, tukey=c))
       for c in (4.685, 3.0, 2.0, 1.5, 1.0, 0.5) if c != HEAD_TUKEY},
    "affine": fit_on(face_grid, robust_affine),
    "turn": turn_estimate,
    "stable": fit_on(stable_points),
    "anchors": fit_on(lambda lm, shape: anchor_points(lm)),
}


#: the head motions each clip is put under: none; a similarity (with and without the expression); and that
#: similarity with a turn in depth (``turn_field``), with and without the expression
MOTIONS = ("none", "drawn", "drawn, no expression", "turned", "turned, no expression")


def head_field(fit: str, flow: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The head motion (H, W, 2) that estimate ``fit`` of ``ESTIMATES`` finds in ``flow`` (H, W, 2)."""
    head = ESTIMATES[fit](flow, landmarks)
    return head if head.ndim == 3 else similarity_field(head[None], flow.shape[:2])[0]


def draw_similarity(rng: np.random.Generator, centre: np.ndarray, px: float, half_width: float) -> np.ndarray:
    """A backward head similarity (2, 3) about ``centre``: translation sd ``px``, rotation and scale whose
    displacement at ``half_width`` from the centre has sd ``px`` each."""
    angle, scale = rng.normal(0.0, px / half_width), 1.0 + rng.normal(0.0, px / half_width)
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    m = np.array([[c, -s], [s, c]])
    return np.hstack([m, (centre - m @ centre + rng.normal(0.0, px, 2))[:, None]])


def turn_field(rng: np.random.Generator, landmarks: np.ndarray, shape: tuple[int, int], px: float) -> np.ndarray:
    """The backward field (H, W, 2) of a head turning in depth (yaw and pitch, sd ``px`` at the nose tip): seen
    from the front a point moves by the turn's angle times its depth, so the nose moves further than the cheeks and
    the face's outline least, which no similarity holds (the depth: ``face_depth``)."""
    depth = face_depth(landmarks, shape)
    nose = depth[int(round(landmarks[30, 1])), int(round(landmarks[30, 0]))]
    yaw, pitch = rng.normal(0.0, px / nose, 2)
    return np.stack([yaw * depth, pitch * depth], -1).astype(np.float32)


def with_head(expression: np.ndarray, head: np.ndarray) -> np.ndarray:
    """The backward flow (H, W, 2) of a frame whose head moved by the backward field ``head`` (H, W, 2) after the
    expression: frame pixel p shows the expression's frame at p + head(p), which shows the onset there plus the
    expression's flow at that point."""
    at = pixel_grid(*expression.shape[:2]) + head
    moved = cv2.remap(expression, at[..., 0], at[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return head + moved


def moved_frame(frame: np.ndarray, head: np.ndarray) -> np.ndarray:
    """``frame`` (H, W) moved by the backward field ``head`` (H, W, 2): pixel p shows frame at p + head(p) (bicubic)."""
    at = pixel_grid(*frame.shape[:2]) + head
    return cv2.remap(frame.astype(np.float32), at[..., 0], at[..., 1], cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT)


def noisy(frame: np.ndarray, rng: np.random.Generator, sd: float) -> np.ndarray:
    return np.clip(np.rint(frame.astype(np.float32) + rng.normal(0.0, sd, frame.shape)), 0, 255).astype(np.uint8)


def mean_sd(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4), "n": len(v)}


def real_drifts(pairs: str, fits: list[str]) -> dict:
    """{driver: {"kept": drift, estimate: drift left with its head taken off}} for the pairs file's driving clips."""
    deepflow, out = estimator("deepflow"), {}
    for path in sorted({pair.driving for pair in read_pairs(pairs)}, key=str):
        frames = read_clip(path)
        gray, lm = canonical_clip(frames, onset_landmarks(frames[0], str(path)))
        face = region_masks(lm)[1]
        flows = onset_flows(gray, deepflow)
        row = {"kept": round(drift(flows[:, face].mean(axis=1)), 3)}
        for fit in fits:
            heads = np.stack([head_field(fit, f, lm) for f in flows])
            row[fit] = round(drift((flows - heads)[:, face].mean(axis=1)), 3)
        out[path.name] = row
        print(path.name, row)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--clips", type=int, default=6, help="expression programs per identity")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--head-px", type=float, default=1.5, help="head motion's sd, px of a 256-px face")
    ap.add_argument("--noise", type=float, default=1.0, help="sensor noise (gray levels) on DeepFlow's frames")
    ap.add_argument("--fits", default=",".join(ESTIMATES),
                    help="head estimates to compare (ESTIMATES); differences are taken from the first")
    ap.add_argument("--seed", type=int, default=2000, help="the identities' seed (held out of training sets)")
    ap.add_argument("--real", help="a pairs file: also measure its driving clips' drift left (see above)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    start = time.time()
    fits = args.fits.split(",")
    spec = SyntheticSpec(seed=args.seed, frame_size=args.size, n_subjects=args.subjects, clips_per_subject=args.clips,
                         apex_px=(0.5, 2.0), apex_px_at=256, render_scale=2)
    to256 = 256.0 / args.size
    deepflow = estimator("deepflow")
    rng = np.random.default_rng(args.seed)
    turning = np.random.default_rng([args.seed, 1])   # its own stream: the planar conditions draw as they did alone
    scores: dict = {}
    for i, identity in enumerate(make_identities(spec)):
        for j in range(args.clips):
            program = program_for(spec, identity, i, j)
            clip = render(identity, program, identity.name, f"{identity.name}_{j}", seed=args.seed)
            landmarks = clip.landmarks[0].astype(np.float64)
            expression = clip.flows[program.apex]
            points = face_points(landmarks, 1.0)
            own = float(np.sqrt((sample_flow(expression, points) ** 2).sum(-1).mean()))
            centre = landmarks.mean(0)
            half = float(np.ptp(landmarks[:, 0])) / 2
            for motion in MOTIONS:
                draw = turning if motion.startswith("turned") else rng
                true_head = np.zeros_like(expression)
                if motion != "none":
                    true_head += similarity_field(draw_similarity(draw, centre, args.head_px / to256, half)[None],
                                                  expression.shape[:2])[0]
                if motion.startswith("turned"):
                    true_head += turn_field(draw, landmarks, expression.shape[:2], args.head_px / to256)
                onset = noisy(clip.frames[0], draw, args.noise)
                still = motion.endswith("no expression")
                apex = noisy(moved_frame(clip.frames[0 if still else program.apex], true_head), draw, args.noise)
                # the least any similarity can leave of this head motion: the best fit to it alone
                best = fit_similarity(points, points + sample_flow(true_head, points))
                residual = sample_flow(similarity_field(best[None], true_head.shape[:2])[0] - true_head, points)
                floor = float(np.sqrt((residual ** 2).sum(-1).mean()))
                floor_mean = float(np.linalg.norm(residual.mean(0)))
                flows = {"truth": with_head(expression * (0.0 if still else 1.0), true_head),
                         "deepflow": deepflow(apex, onset)}
                for source, flow in flows.items():
                    for fit in fits:
                        estimated = head_field(fit, flow, landmarks)
                        left = sample_flow(estimated - true_head, points)
                        error = float(np.sqrt((left ** 2).sum(-1).mean()))
                        cell = scores.setdefault(source, {}).setdefault(motion, {}).setdefault(
                            str(fit), {"px": [], "share": [], "mean_px": []})
                        cell["px"].append(error * to256)
                        cell["share"].append(error / max(own, 1e-9))
                        cell["mean_px"].append(float(np.linalg.norm(left.mean(0))) * to256)
                    cell = scores[source][motion].setdefault("similarity floor", {"px": [], "share": [], "mean_px": []})
                    cell["px"].append(floor * to256)
                    cell["share"].append(floor / max(own, 1e-9))
                    cell["mean_px"].append(floor_mean * to256)
    for by_motion in scores.values():    # each estimate's error less the library's on the same clips: paired
        for by_fit in by_motion.values():
            base = np.asarray(by_fit[fits[0]]["px"])
            for cell in by_fit.values():
                cell[f"px - {fits[0]}"] = list(np.asarray(cell["px"]) - base)
    table = {source: {motion: {fit: {k: mean_sd(v) for k, v in cell.items()} for fit, cell in by_fit.items()}
                      for motion, by_fit in by_motion.items()} for source, by_motion in scores.items()}
    result = {"args": {k: v for k, v in vars(args).items() if k != "real"}, "scores": table}
    if args.real:
        result["real_drift_px"] = real_drifts(args.real, fits)
    result["seconds"] = round(time.time() - start, 1)
    atomic_write_text(args.out, json.dumps(result, indent=1) + "\n")
    for source, by_motion in table.items():
        for motion, by_fit in by_motion.items():
            for fit, cell in by_fit.items():
                diff = cell[f"px - {fits[0]}"]
                print(f"{source:9s} head {motion:21s} {fit:9s} error {cell['px']['mean']:.3f} ± {cell['px']['sd']:.3f} px"
                      f" ({cell['share']['mean']:.3f} ± {cell['share']['sd']:.3f} of the expression); less {fits[0]}'s: "
                      f"{diff['mean']:+.3f} ± {diff['sd'] / np.sqrt(diff['n']):.3f} (se)")


if __name__ == "__main__":
    main()
