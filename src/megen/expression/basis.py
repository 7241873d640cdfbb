"""The AU motion basis and its file: one canonical flow field per action unit, the AUs' timing, and where they
came from.

A field is a backward flow (``megen.face.flow``'s convention) at the apex of a clip coded with that AU alone at
intensity 1, in the pixels of one canonical ``BASIS_SIZE``-px face (``landmarks``, the mean onset shape of the
fitted clips aligned by their eyes): the canonical face's pixel p at the apex shows its onset content at
p + field(p). Fields add: a clip coded AU4 + AU7 moves by field(AU4) + field(AU7).

The file is one ``.npz`` (``save_basis``): ``fields`` (A, S, S, 2) float32, ``landmarks`` (68, 2) float64 and
``meta``, a JSON string with the version, the AU names in the order of ``fields``, the timing samples and the
provenance. ``load_basis`` checks the version and every array's shape, naming the file.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megen.expression.action_units import au_name
from megen.runtime.io import atomic_open

BASIS_VERSION = 1
BASIS_SIZE = 256


class BasisError(ValueError):
    """A basis file that cannot be read, or a request it cannot answer (the message names the file or AU)."""


@dataclass(frozen=True)
class AUBasis:
    """``aus`` (A,) names (``AU4``); ``fields`` (A, S, S, 2) float32 canonical apex flows per unit intensity;
    ``landmarks`` (68, 2) the canonical face's onset landmarks in its S-px square; ``rise_ms`` / ``fall_ms``:
    per AU, the onset -> apex and apex -> offset durations (ms) of the clips coded with it; ``emotion_aus``:
    per emotion (and composite class), its most frequent AU set, that set's count and the class's clip count;
    ``provenance``: the dataset, the clips per AU and how the fields were measured."""

    aus: tuple[str, ...]
    fields: np.ndarray
    landmarks: np.ndarray
    rise_ms: dict[str, list[float]] = field(default_factory=dict)
    fall_ms: dict[str, list[float]] = field(default_factory=dict)
    emotion_aus: dict[str, dict] = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        a, s = len(self.aus), self.size
        if self.fields.shape != (a, s, s, 2):
            raise BasisError(f"an AU basis of {a} AUs needs fields ({a}, S, S, 2), got {self.fields.shape}")
        if np.asarray(self.landmarks).shape != (68, 2):
            raise BasisError(f"an AU basis needs (68, 2) canonical landmarks, got {np.asarray(self.landmarks).shape}")

    @property
    def size(self) -> int:
        return int(self.fields.shape[1]) if self.fields.ndim == 4 else BASIS_SIZE

    def index(self, au) -> int:
        """The row of ``au`` (any spelling ``au_name`` reads); an AU the basis lacks is a BasisError naming it,
        with the AUs it has and, where the fit refused it, its clip count."""
        name = au_name(au)
        if name in self.aus:
            return self.aus.index(name)
        refused = (self.provenance.get("refused") or {}).get(name)
        why = (f"it had {refused} clip(s) in {self.provenance.get('dataset', 'the data')}, under the fit's "
               f"min_clips={self.provenance.get('min_clips')}" if refused is not None else "it is not in the basis")
        raise BasisError(f"aus: {name} cannot be generated: {why}; the basis has {', '.join(self.aus)}")

    def field(self, weights: dict) -> np.ndarray:
        """The composed canonical apex flow (S, S, 2) float32 of ``{AU: intensity}`` (empty: zero flow)."""
        out = np.zeros(self.fields.shape[1:], np.float32)
        for au, w in weights.items():
            out += np.float32(w) * self.fields[self.index(au)]
        return out

    def timing(self, aus) -> tuple[float, float]:
        """The median onset -> apex and apex -> offset durations (ms) of the clips coded with any of ``aus``
        (empty: all the fitted clips)."""
        names = [self.aus[self.index(a)] for a in aus] or list(self.aus)
        rise = [v for n in names for v in self.rise_ms.get(n, [])]
        fall = [v for n in names for v in self.fall_ms.get(n, [])]
        if not rise or not fall:
            raise BasisError(f"the basis holds no timing for {', '.join(names)}")
        return float(np.median(rise)), float(np.median(fall))

    def emotion(self, label: str) -> tuple[str, ...]:
        """The most frequent AU set of the fitted clips of emotion or composite class ``label``."""
        key = str(label).strip().lower()
        if key not in self.emotion_aus:
            raise BasisError(f"emotion={label}: the basis knows {', '.join(sorted(self.emotion_aus)) or 'no emotion'}")
        return tuple(self.emotion_aus[key]["aus"])


def save_basis(basis: AUBasis, path) -> Path:
    """Write ``basis`` to ``path`` (one ``.npz``, atomically); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {"version": BASIS_VERSION, "aus": list(basis.aus), "rise_ms": basis.rise_ms, "fall_ms": basis.fall_ms,
            "emotion_aus": basis.emotion_aus, "provenance": basis.provenance}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, fields=basis.fields.astype(np.float32), landmarks=np.asarray(basis.landmarks, np.float64),
                            meta=np.array(json.dumps(meta)))
    return path


def load_basis(path) -> AUBasis:
    """Read a file written by ``save_basis``; a missing, damaged or other-version file is a BasisError naming it."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        meta = json.loads(str(arrays["meta"]))
    except FileNotFoundError:
        raise BasisError(f"basis={path}: no such file (python -m megen.aubasis fit ... out=<folder> writes one)") from None
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as err:
        raise BasisError(f"basis={path} is not an AU basis file ({type(err).__name__}: {err})") from None
    if meta.get("version") != BASIS_VERSION:
        raise BasisError(f"basis={path} is version {meta.get('version')}; this megen reads version {BASIS_VERSION}: "
                         f"fit it again (python -m megen.aubasis fit)")
    try:
        return AUBasis(tuple(meta["aus"]), arrays["fields"], arrays["landmarks"], meta.get("rise_ms", {}),
                       meta.get("fall_ms", {}), meta.get("emotion_aus", {}), meta.get("provenance", {}))
    except (KeyError, BasisError) as err:
        raise BasisError(f"basis={path}: {err}") from None


__all__ = ["AUBasis", "BASIS_SIZE", "BASIS_VERSION", "BasisError", "load_basis", "save_basis"]
