"""Can a micro-expression be made from action units alone? The AU basis (``megen.expression``) fitted on the
synthetic set's coded clips, then asked for AU programs on identities it never saw, against their ground truth.

    python experiments/au_basis/study.py --out experiments/au_basis/runs/synthetic.json

Identities 0..F-1 give the fit's clips (CASME II-like emotions and AU sets, the set's own sampler; their sheet's
AU codes only, no intensity); identities F.. are held out. On each held-out face every test program is rendered
with its exact frames: single AUs, and AU combinations that no fitted clip has (``--unseen``). The basis then
makes each program from its AU list and its timing, carried into the held-out face by its landmarks, scored by
rMTE against the true frames (1 = the static copy, 0 = exact):

* ``au``: the AUs at intensity 1 (the fitted clips' mean apex);
* ``au, amplitude given``: the same field scaled to the program's true apex amplitude (one number an experimenter
  asks for; the pattern is the basis's);
* ``driven``: the same program recorded on a fitted identity and transferred by its measured optical flow
  (``method=flow_transfer``, DeepFlow), what a driving clip gives;
* ``true flow``: the held-out face warped by its own exact flow, the ceiling of any flow-warping renderer (the
  truth is rendered from a finer face);
* ``ideal basis``: the program's own true apex flows on four fitted identities, carried into the canonical face,
  averaged and held to the face as the fit holds its fields, at the program's amplitude: the best a basis of
  this form can give, whatever the fit.

Beside rMTE, the basis's apex field carried into the held-out face is compared with the true apex flow over the
frame: ``field cosine`` and ``field amplitude`` (the ratio of their norms).

Mean ± sd over (identity, program) pairs.
"""
from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path

import numpy as np

from megen.animation.flow_transfer import flow_transfer, transfer
from megen.expression.compose import landmark_peak
from megen.expression.fit import STRENGTH_ROUNDS, ClipFlow, fit_basis, to_canonical
from megen.face import controls
from megen.face.choices import HeadMotion, Retarget
from megen.face.controls import MotionControls, face_weight
from megen.face.flow import DriverFlow, target_fields
from megen.metrics.motion_transfer import clip_rmte
from megen.ops.flow import estimator
from megen.ops.timing import intensity_curve
from megen.runtime.io import atomic_write_text
from megen.synthetic.clips import ExpressionProgram
from megen.synthetic.generator import SyntheticSpec, make_identities, program_for, render

SINGLES = ((1,), (4,), (9,), (12,), (15,))
UNSEEN = ((1, 12), (4, 12), (9, 15))


def test_program(aus, identity, apex_px: float, size: int) -> ExpressionProgram:
    """The study's program of ``aus`` on ``identity``: 41 frames at 200 fps, apex at frame 16, ``apex_px`` px of a
    256-px face at its largest landmark."""
    return ExpressionProgram("test", aus, (1.0,) * len(aus), 41, 16, apex_px * size / 256 / identity.eye_distance,
                             fps=200.0)


def mean_sd(values) -> dict:
    v = np.asarray(values, np.float64)
    return {"mean": round(float(v.mean()), 4), "sd": round(float(v.std(ddof=1)) if len(v) > 1 else 0.0, 4), "n": len(v)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fit-subjects", type=int, default=12)
    ap.add_argument("--held-subjects", type=int, default=4)
    ap.add_argument("--clips", type=int, default=8, help="fitted clips per identity")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--apex-px", type=float, default=1.0, help="test programs' apex amplitude, px of a 256-px face")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strength-rounds", type=int, default=STRENGTH_ROUNDS,
                    help="the basis fit's per-clip strength rounds (0: plain ridge, every clip at strength 1)")
    ap.add_argument("--head", choices=HeadMotion.values(), default=HeadMotion.REMOVE.value,
                    help="the fit's head motion (aubasis.head): remove it from each clip, or keep it (these clips have none)")
    ap.add_argument("--retarget", choices=Retarget.values(), default=Retarget.SIMILARITY.value,
                    help="how the basis's fields and the driven clip are carried into the held-out face (retarget=)")
    ap.add_argument("--head-tukey", type=float, default=controls.HEAD_TUKEY,
                    help="the head fit's Tukey scale in robust sds (megen.face.controls.HEAD_TUKEY; a study knob)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.head_tukey != controls.HEAD_TUKEY:   # head_motion looks robust_similarity up in its module at each call
        controls.robust_similarity = functools.partial(controls.robust_similarity, tukey=args.head_tukey)
    carry = MotionControls(retarget=args.retarget) if args.retarget != Retarget.SIMILARITY else None
    start = time.time()
    spec = SyntheticSpec(seed=args.seed, frame_size=args.size, n_subjects=args.fit_subjects + args.held_subjects,
                         clips_per_subject=args.clips, apex_px=(0.5, 2.0), apex_px_at=256, render_scale=2)
    identities = make_identities(spec)
    clips = []
    for i in range(args.fit_subjects):
        for j in range(args.clips):
            program = program_for(spec, identities[i], i, j)
            if tuple(sorted(program.aus)) in UNSEEN:
                continue
            clip = render(identities[i], program, identities[i].name, f"{identities[i].name}_{j}", seed=args.seed)
            apex = program.apex
            clips.append(ClipFlow(clip.clip, "synthetic", program.emotion, {f"AU{a}": 1.0 for a in program.aus},
                                  clip.flows[apex], clip.landmarks[0].astype(np.float64),
                                  1000.0 * apex / program.fps, 1000.0 * (program.n_frames - 1 - apex) / program.fps))
    basis = fit_basis(clips, provenance={"dataset": "synthetic (study)", "flow": "truth"},
                      strength_rounds=args.strength_rounds, head=args.head)
    fitted = time.time() - start
    deepflow = estimator("deepflow")
    rows: dict[str, dict[str, list]] = {}
    for kind, programs in (("single AU", SINGLES), ("unseen combination", UNSEEN)):
        scores = rows.setdefault(kind, {"au": [], "au, amplitude given": [], "ideal basis": [], "driven": [],
                                        "true flow": [], "field cosine": [], "field amplitude": []})
        for aus in programs:
            if any(f"AU{a}" not in basis.aus for a in aus):
                continue
            ideal = []
            for i in range(4):
                own = test_program(aus, identities[i], args.apex_px, args.size)
                shown = render(identities[i], own, identities[i].name, f"ideal-{i}-{aus}", seed=args.seed)
                ideal.append(to_canonical(shown.flows[own.apex], shown.landmarks[0].astype(np.float64), basis.landmarks,
                                          basis.size))
            ideal = np.mean(ideal, axis=0) * face_weight(basis.landmarks, (basis.size, basis.size))[..., None]
            for h in range(args.fit_subjects, args.fit_subjects + args.held_subjects):
                target = identities[h]
                program = test_program(aus, target, args.apex_px, args.size)
                truth = render(target, program, target.name, f"test-{h}-{aus}", seed=args.seed)
                image = truth.frames[0]
                landmarks = truth.landmarks[0].astype(np.float64)
                curve = intensity_curve(program.n_frames, program.apex).astype(np.float32)[:, None, None, None]
                field = basis.field({f"AU{a}": 1.0 for a in aus})
                generated = transfer(image, landmarks, DriverFlow(curve * field[None], np.eye(2, 3), basis.landmarks),
                                     carry)
                scores["au"].append(clip_rmte(generated, truth.frames))
                # the apex field on the target, scaled to the truth's peak at the landmarks
                carried = target_fields(DriverFlow(field[None], np.eye(2, 3), basis.landmarks), landmarks,
                                        image.shape[:2], args.retarget)[0]
                a, g = truth.flows[program.apex].ravel(), carried.ravel()
                scores["field cosine"].append(float(a @ g / max(np.linalg.norm(a) * np.linalg.norm(g), 1e-12)))
                scores["field amplitude"].append(float(np.linalg.norm(g) / max(np.linalg.norm(a), 1e-12)))
                own = transfer(image, landmarks, DriverFlow(truth.flows, np.eye(2, 3), landmarks))
                scores["true flow"].append(clip_rmte(own, truth.frames))
                scale = landmark_peak(truth.flows[program.apex], landmarks) / max(landmark_peak(carried, landmarks), 1e-9)
                scaled = transfer(image, landmarks, DriverFlow(scale * curve * field[None], np.eye(2, 3),
                                                               basis.landmarks), carry)
                scores["au, amplitude given"].append(clip_rmte(scaled, truth.frames))
                best = transfer(image, landmarks, DriverFlow(curve * ideal[None], np.eye(2, 3), basis.landmarks), carry)
                scores["ideal basis"].append(clip_rmte(best, truth.frames))
                source = identities[h - args.fit_subjects]
                driver = render(source, test_program(aus, source, args.apex_px, args.size), source.name,
                                f"drv-{h}-{aus}", seed=args.seed)
                driven = flow_transfer(image, landmarks, driver.frames, driver.landmarks[0].astype(np.float64),
                                       estimator=deepflow, controls=carry)
                scores["driven"].append(clip_rmte(driven, truth.frames))
    result = {"settings": vars(args), "basis": {"aus": list(basis.aus), "clips": basis.provenance["clips"],
                                                 "refused": basis.provenance["refused"]},
              "fit_s": round(fitted, 1), "scores": {k: {m: mean_sd(v) for m, v in s.items() if v} for k, s in rows.items()},
              "static_copy": 1.0}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(result, indent=1))
    for kind, s in result["scores"].items():     # rMTE rows, then the field's cosine and amplitude
        print(kind + ": " + "; ".join(f"{m} {v['mean']:.3f} ± {v['sd']:.3f} (n={v['n']})" for m, v in s.items())
              + " (static copy 1.0)")
    print(f"fit in {fitted:.0f} s; {time.time() - start:.0f} s in all")


if __name__ == "__main__":
    main()
