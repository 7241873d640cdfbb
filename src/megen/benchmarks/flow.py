"""``python -m megen.bench flow``: every optical-flow estimator of ``megen.ops.flow`` at the real scale of a
micro-expression, against exact motion.

Faces: synthetic identities at 256 px (``bench.identities``, seed 1000 on: not the training set's), each
moved by known smooth regional motions (a Gaussian bump of ``bench.flow_sd`` px at a brow and one at a
mouth corner) of peak ``bench.flow_px`` (default 0.1, 0.2, 0.5, 1 and 2 px), rendered as the synthetic set
renders its frames (``bench.flow_render=fine``: the face drawn four times finer, moved there and area-reduced,
as a sensor integrates a finer scene) or warped bicubically at 256 px (``bicubic``: the frame is then an
interpolation of the onset, which flatters an estimator that itself warps bicubically), through
the camera's nuisances on both frames (``megen.synthetic.nuisance``): sensor noise of
``bench.flow_noise`` gray levels (sd), illumination flicker ``bench.flow_flicker``, a palette of
``bench.flow_levels`` gray levels and JPEG at ``bench.flow_jpeg`` (defaults: the levels measured on real
clips, docs/data.md "Nuisances"; no head motion, so that the magnitude ratio is the expression's).
``bench.flow_blink=<px>`` also closes both upper eyelids by that much in every moved frame
(``megen.synthetic.eyelids``: the lid covers a strip of the eye, an occlusion), and each line then gives the
error over the eyes as well (``eyes_epe``, beside ``eyes_zero``: zero flow's there).
The learned estimator (the packaged one, or ``bench.flow_checkpoint``) joins the classical ones
(a ``python -m megen.train_flow`` checkpoint). Per estimator and motion size:

* ``epe``: mean end-point error over the face, and its ratio to zero flow's (``epe_over_zero``);
* ``magnitude``: mean estimated / true flow magnitude where the motion is over half its peak (1 = exact);
* ``still``: mean estimated magnitude where the true motion is under 1 % of its peak (false motion, px);
* ``ms``: milliseconds per 256-px pair on this machine (median over the pairs), and for an estimator that
  measures many pairs at once (the learned one) ``ms_batched``, per pair when it gets every face's pair in
  one call.
"""
from __future__ import annotations

import time

import numpy as np

from megen.benchmarks.timing import say
from megen.config.choices import FlowEstimator, MovedFrameRender


def _bump(grid: np.ndarray, centre, vector, sd: float) -> np.ndarray:
    w = np.exp(-((grid - np.asarray(centre)) ** 2).sum(-1) / (2 * sd * sd))
    return (w[..., None] * np.asarray(vector, np.float32)).astype(np.float32)


def _batched_ms(method, pairs) -> float:
    """ms per pair when an estimator that takes many pairs at once (``pairs``) gets them all in one call."""
    method.pairs([f for f, _ in pairs[:1]], [o for _, o in pairs[:1]])      # warm-up
    start = time.perf_counter()
    method.pairs([f for f, _ in pairs], [o for _, o in pairs])
    return 1000 * (time.perf_counter() - start) / len(pairs)


def estimator_accuracy(settings, overrides: list[str]) -> None:
    """One line per (estimator, motion size), then one per estimator over every size."""
    from megen.face.flow import pixel_grid, warp_backward
    from megen.metrics.expression import region_masks
    from megen.models.microflow import flow_estimator
    from megen.ops.flow import ESTIMATORS, optical_flow
    from megen.synthetic.eyelids import Lid, lids_field
    from megen.synthetic.flow_pairs import render_moved
    from megen.synthetic.generator import SyntheticSpec, make_identities
    from megen.synthetic.nuisance import Nuisance, photometric

    size = 256
    render = settings.get("flow_render", "fine")       # fine | bicubic (megen.config.check.validate_bench)
    spec = SyntheticSpec(seed=1000, frame_size=size, n_subjects=int(settings.identities), variation=1.0)
    faces = make_identities(spec)
    rng = np.random.default_rng(0)
    grid = pixel_grid(size, size)
    checkpoint = settings.get("flow_checkpoint")
    names = list(settings.get("estimators") or [*ESTIMATORS, FlowEstimator.LEARNED])      # learned: the packaged one by default
    methods = {n: flow_estimator(n, checkpoint) for n in names}   # an unknown name fails here, naming the valid ones
    quality = settings.get("flow_jpeg")
    levels = settings.get("flow_levels")
    nuisance = Nuisance(noise=float(settings.flow_noise), jpeg_quality=None if quality is None else int(quality),
                        flicker=float(settings.get("flow_flicker") or 0.0), levels=None if levels is None else int(levels),
                        dither=bool(settings.get("flow_dither", False)),
                        shading=float(settings.get("flow_shading") or 0.0))
    blink = float(settings.get("flow_blink") or 0.0)
    totals = {n: {"epe": [], "zero": [], "ms": []} for n in names}
    for peak in [float(p) for p in settings.flow_px]:
        rows = {n: {"epe": [], "zero": [], "mag": [], "still": [], "ms": [], "eyes": [], "eyes_zero": []} for n in names}
        pairs = []
        for face in faces:
            lm = np.asarray(face.landmarks, np.float64)
            image = face.image.astype(np.float32) * 255.0
            # backward field: frame pixel p shows the onset at p + field(p); a brow raise and a mouth corner pull
            bumps = (_bump(grid, lm[17:22].mean(0), (0.0, peak), settings.flow_sd)
                     + _bump(grid, lm[48], (-peak, 0.0), settings.flow_sd))
            lids = [Lid.on(lm, eye, blink) for eye in (0, 1)] if blink > 0 else []
            lid_field = lids_field(lids, grid[..., 0], grid[..., 1])
            field = bumps + lid_field
            onset = photometric(image, nuisance, rng)
            moved = (render_moved(face, bumps, tuple(lids)) if render == MovedFrameRender.FINE
                     else warp_backward(image, field))
            frame = photometric(moved, nuisance, rng)
            pairs.append((frame, onset))
            _, inside = region_masks(lm, size)
            true = np.linalg.norm(field, axis=-1)
            # the bumps' masks: the magnitude ratio and false motion stay the regional motions' own
            bump_size = np.linalg.norm(bumps, axis=-1)
            lidded = np.linalg.norm(lid_field, axis=-1) > 0
            moving, still = inside & (bump_size > 0.5 * peak), inside & (true < 0.01 * peak)
            for name in names:
                start = time.perf_counter()
                est = optical_flow(frame, onset, methods[name])       # backward: frame -> onset
                rows[name]["ms"].append(1000 * (time.perf_counter() - start))
                err = np.linalg.norm(est - field, axis=-1)
                mag = np.linalg.norm(est, axis=-1)
                rows[name]["epe"].append(err[inside].mean())
                rows[name]["zero"].append(true[inside].mean())
                rows[name]["mag"].append(mag[moving].mean() / true[moving].mean())
                rows[name]["still"].append(mag[still].mean())
                if lidded.any():
                    rows[name]["eyes"].append(err[lidded].mean())
                    rows[name]["eyes_zero"].append(true[lidded].mean())
        batched = {name: _batched_ms(methods[name], pairs) for name in names if hasattr(methods[name], "pairs")}
        for name in names:
            r = rows[name]
            epe, zero = float(np.mean(r["epe"])), float(np.mean(r["zero"]))
            totals[name]["batched"] = totals[name].get("batched", []) + ([batched[name]] if name in batched else [])
            totals[name]["epe"].append(epe)
            totals[name]["zero"].append(zero)
            totals[name]["ms"] += r["ms"]
            say(f"flow {name} peak_px={peak:g} epe={epe:.4f} epe_over_zero={epe / zero:.3f} "
                f"magnitude={np.mean(r['mag']):.3f} still_px={np.mean(r['still']):.4f} ms={np.median(r['ms']):.1f}"
                + (f" ms_batched={batched[name]:.1f}" if name in batched else "")
                + (f" eyes_epe={np.mean(r['eyes']):.4f} eyes_zero={np.mean(r['eyes_zero']):.4f}" if r["eyes"] else ""))
    for name in names:
        t = totals[name]
        say(f"flow {name} all epe={np.mean(t['epe']):.4f} epe_over_zero={np.sum(t['epe']) / np.sum(t['zero']):.3f} "
            f"ms={np.median(t['ms']):.1f}" + (f" ms_batched={np.median(t['batched']):.1f}" if t.get("batched") else "")
            + f" (identities={len(faces)} render={render} noise_sd={nuisance.noise:g} "
            f"levels={nuisance.levels}{' dithered' if nuisance.dither else ''} flicker={nuisance.flicker:g} "
            f"shading={nuisance.shading:g} jpeg={nuisance.jpeg_quality} "
            f"bump_sd_px={float(settings.flow_sd):g} blink_px={blink:g})")


__all__ = ["estimator_accuracy"]
