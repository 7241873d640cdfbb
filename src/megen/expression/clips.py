"""The coded clips of a prepared set as the basis fit reads them: each clip's onset -> apex flow in its own pixels.

``flow``: ``truth`` reads the synthetic set's exact flow (``gt_flow``), ``measured`` measures it with an optical-
flow estimator on the onset face's crop at >= 256 px (``megen.face.flow.driver_flows``, as generation measures a
driving clip), ``auto`` takes the truth where the set has it. The truth comes with the clip's head motion known
(``gt_shifts``), so the fit takes it off exactly where the head is removed. Real sets are measured, so prepare them at a
resolution where micro-motion is visible (``dataset.frame_size=256``).
"""
from __future__ import annotations

import numpy as np

from megen.data.cache import PreparedSet
from megen.data.ground_truth import expression_flow
from megen.expression.action_units import parse_action_units
from megen.expression.fit import ClipFlow

FLOW_SOURCES = ("auto", "truth", "measured")


def prepared_clip_flows(folder, flow: str = "auto", estimator=None, min_size: int = 256,
                        progress=None) -> tuple[list[ClipFlow], list[tuple[str, str]]]:
    """The coded clips of the prepared set in ``folder``, and the (clip, reason) of those left out (no AU
    code, no face found, no truth where ``flow=truth``). ``estimator``: a ``megen.ops.flow`` estimator (None:
    the guide's default) for ``measured``; ``progress`` is called with each clip's key."""
    if flow not in FLOW_SOURCES:
        raise ValueError(f"aubasis.flow={flow}: expected one of {', '.join(FLOW_SOURCES)}")
    from megen.face.flow import DRIVER_FLOW, driver_flows

    prepared = PreparedSet.open(folder)
    clips, skipped = [], []
    for i, row in enumerate(prepared.rows):
        key = f"{row['dataset']}/{row['subject']}/{row['clip']}"
        aus, unread = parse_action_units(row.get("action_units"))
        if not aus:
            skipped.append((key, f"no AU code ({row.get('action_units')!r})" if unread or row.get("action_units")
                            else "no AU code"))
            continue
        if not row["face_found"]:
            skipped.append((key, "no face found on its onset"))
            continue
        arrays = prepared.load(i)
        onset, apex = int(row["onset"]), int(row["apex"])
        if apex == onset:
            skipped.append((key, "its apex is its onset"))
            continue
        landmarks = np.asarray(arrays["landmarks"], np.float64)
        if flow != "measured" and "gt_flow" in arrays:
            if onset != 0:
                skipped.append((key, "its true flow is to frame 0, not to its onset"))
                continue
            field = arrays["gt_flow"][apex].astype(np.float32)
            # the set's head motion is known: its expression needs no estimate of it
            expression = expression_flow(arrays, apex) if "gt_shifts" in arrays else None
        elif flow == "truth":
            skipped.append((key, "no true flow (flow=truth is for the synthetic set)"))
            continue
        else:
            driver = driver_flows(arrays["frames"][[onset, apex]], landmarks, min_size, estimator or DRIVER_FLOW)
            field, landmarks, expression = driver.flows[1], driver.landmarks, None
        fps = float(row["fps"]) or 200.0
        clips.append(ClipFlow(key, str(row["dataset"]), str(row["emotion"]), aus, field, landmarks,
                              1000.0 * (apex - onset) / fps, 1000.0 * (int(row["offset"]) - apex) / fps, expression))
        if progress is not None:
            progress(key)
    return clips, skipped


__all__ = ["FLOW_SOURCES", "prepared_clip_flows"]
