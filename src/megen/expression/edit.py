"""One AU of a driving clip removed or strengthened: the clip's measured flow is read in the basis's canonical face,
each frame's AU activations are its least-squares coefficients on the basis's fields (over the face), and the
chosen AUs' share is scaled: flow + sum_k (gain_k - 1) a_k(t) field_k, carried back into the driver's crop.

What the basis does not explain (the head, AUs it lacks, noise) is left as it was; an AU the clip does not use
has an activation near zero and its gain changes little.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from megen.expression.basis import AUBasis
from megen.expression.fit import to_canonical
from megen.face.correspondence import carry_flow, correspondence, hull_distance
from megen.face.flow import DriverFlow


def au_activations(flows: np.ndarray, basis: AUBasis, aus) -> np.ndarray:
    """(T, A) the least-squares coefficients of canonical flows (T, S, S, 2) on the fields of ``aus`` (A names),
    over the canonical face (the hull of the basis's landmarks)."""
    face = hull_distance([basis.landmarks], (basis.size, basis.size)) == 0
    design = np.stack([basis.fields[basis.index(a)][face].ravel() for a in aus], axis=1).astype(np.float64)
    targets = np.stack([np.asarray(f, np.float64)[face].ravel() for f in flows], axis=1)
    coefficients, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return coefficients.T


def edit_aus(driver: DriverFlow, basis: AUBasis, gains: dict, retarget: str = "landmarks") -> tuple[DriverFlow, dict]:
    """``driver`` with each AU of ``gains`` ({AU: gain}, 0 removes it, 2 doubles it) scaled, and those AUs' peak
    activations (largest |a_k(t)|, in the basis's units) before the edit; the activations are read with every AU
    of the basis at once."""
    gains = {basis.aus[basis.index(a)]: float(g) for a, g in gains.items()}
    names = list(gains)
    canonical = np.stack([to_canonical(f, driver.landmarks, basis.landmarks, basis.size, retarget)
                          for f in driver.flows])
    # every AU of the basis explains the flow together: an AU read alone would take its neighbours' share
    activation = au_activations(canonical, basis, basis.aus)
    change = np.zeros(canonical.shape, np.float32)
    for name in names:
        k = basis.index(name)
        change += np.float32(gains[name] - 1) * activation[:, k, None, None, None].astype(np.float32) * \
            basis.fields[k][None]
    # back into the driver's crop: each of its pixels reads the canonical face where the correspondence puts it
    positions, linear = correspondence(driver.landmarks, basis.landmarks, driver.flows.shape[1:3], retarget)
    back = carry_flow(np.asarray(change), positions, linear)
    peaks = {name: float(np.abs(activation[:, basis.index(name)]).max()) for name in names}
    return replace(driver, flows=(driver.flows + back).astype(np.float32)), peaks


__all__ = ["au_activations", "edit_aus"]
