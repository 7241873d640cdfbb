"""The MEGC spotting score: a spotted interval is a true positive when its frames overlap a ground-truth
interval of the same video with an intersection over union of at least 0.5; each ground-truth interval counts
once. F1 = 2 TP / (spotted + ground truth).

Intervals are (video, onset, offset) with inclusive 0-based frames, or anything with those attributes
(``megen.spotting.annotations.SpottedInterval``). torchmetrics has no interval-matching metric; this is a few
lines of numpy.
"""
from __future__ import annotations

from collections import defaultdict

MEGC_IOU = 0.5


def _triple(interval) -> tuple[str, int, int]:
    if isinstance(interval, tuple):
        video, onset, offset = interval
    else:
        video, onset, offset = interval.video, interval.onset, interval.offset
    return str(video), int(onset), int(offset)


def interval_iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    """Intersection over union of two inclusive frame intervals (onset, offset)."""
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    if inter <= 0:
        return 0.0
    return inter / float((a[1] - a[0] + 1) + (b[1] - b[0] + 1) - inter)


def spotting_scores(truth, spotted, iou: float = MEGC_IOU) -> dict[str, float]:
    """``{tp, spotted, truth, precision, recall, f1}`` of ``spotted`` intervals against ``truth``: in each video
    the pairs are matched greedily by IoU, best first, each interval used once."""
    by_video = defaultdict(lambda: ([], []))
    for t in truth:
        video, on, off = _triple(t)
        by_video[video][0].append((on, off))
    for s in spotted:
        video, on, off = _triple(s)
        by_video[video][1].append((on, off))
    tp = 0
    for gt, sp in by_video.values():
        pairs = sorted(((interval_iou(g, s), i, j) for i, g in enumerate(gt) for j, s in enumerate(sp)), reverse=True)
        used_g, used_s = set(), set()
        for value, i, j in pairs:
            if value < iou:
                break
            if i not in used_g and j not in used_s:
                used_g.add(i)
                used_s.add(j)
                tp += 1
    n_truth = sum(len(g) for g, _ in by_video.values())
    n_spotted = sum(len(s) for _, s in by_video.values())
    precision = tp / n_spotted if n_spotted else 0.0
    recall = tp / n_truth if n_truth else 0.0
    f1 = 2 * tp / (n_spotted + n_truth) if n_spotted + n_truth else 0.0
    return {"tp": tp, "spotted": n_spotted, "truth": n_truth, "precision": precision, "recall": recall, "f1": f1}


__all__ = ["MEGC_IOU", "interval_iou", "spotting_scores"]
