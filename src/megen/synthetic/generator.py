"""The synthetic micro-expression dataset: identities x expression programs -> clips."""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from megen.ops.choices import FlowEstimator
from megen.synthetic.clips import ExpressionProgram, SyntheticClip, render_with_flow, sample_program
from megen.synthetic.identities import Identity, at_frame_size, base_face, make_identity, photo_paths
from megen.synthetic.nuisance import Nuisance


@dataclass(frozen=True)
class SyntheticSpec:
    """Everything that changes the bytes of the synthetic set (its cache key)."""

    seed: int = 0
    frame_size: int = 64
    n_subjects: int = 16
    clips_per_subject: int = 4
    apex_px: tuple[float, float] = (1.0, 4.0)     # apex displacement range, pixels of an `apex_px_at` frame
    apex_px_at: int = 256
    duration_s: tuple[float, float] = (1 / 25, 1 / 5)
    fps: float = 200.0
    variation: float = 1.0
    render_scale: int = 4    # faces and frames are rendered this many times finer, then area-reduced
    guides: bool = False     # also store the flow-guided model's measured guide per frame (render_with_flow)
    guide_estimator: FlowEstimator = FlowEstimator.FARNEBACK   # what measures the guides
    guide_checkpoint: str | None = None    # the learned estimator's checkpoint (guide_estimator=learned)
    exact_guides: bool = False   # the guides are the true flows, not measured: a perfect estimator's, the ceiling
    nuisance: Nuisance = Nuisance()        # the camera's nuisances (head_px: pixels of a 256-px face)
    identity_dir: str | None = None
    emotions: dict = field(default_factory=dict)   # emotion -> weight; empty = CASME II frequencies
    style: str | None = None      # a dataset's style (megen.synthetic.styles), already applied to the fields

    def __post_init__(self):
        if isinstance(self.nuisance, dict):
            object.__setattr__(self, "nuisance", Nuisance(**self.nuisance))
        if int(self.render_scale) != self.render_scale or self.render_scale < 1:
            raise ValueError(f"render_scale must be a positive integer, got {self.render_scale!r}")
        object.__setattr__(self, "render_scale", int(self.render_scale))   # 4.0 from a config keys as 4

    @classmethod
    def from_config(cls, cfg) -> "SyntheticSpec":
        from omegaconf import DictConfig, OmegaConf

        from megen.synthetic.styles import styled

        plain = styled(OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg))
        names = set(cls.__dataclass_fields__)
        kw = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in plain.items() if k in names}
        if "emotions" in kw:
            kw["emotions"] = dict(kw["emotions"] or {})
        return cls(**kw)

    def key(self) -> str:
        fields = asdict(self)
        # fields added later leave the keys of sets that do not use them as they were
        for name, default in (("guide_estimator", FlowEstimator.FARNEBACK), ("guide_checkpoint", None),
                              ("exact_guides", False),
                              ("nuisance", asdict(Nuisance())), ("style", None)):
            if fields[name] == default:
                del fields[name]
        for name, default in (("dither", False), ("shading", 0.0)):     # nuisances added later
            if "nuisance" in fields and fields["nuisance"][name] == default:
                del fields["nuisance"][name]
        if "nuisance" not in fields:      # as keyed before the nuisances had their own settings
            fields.update(jitter_px=0.0, noise=0.0)
        if self.guides and self.guide_estimator == FlowEstimator.LEARNED and not self.exact_guides:
            from megen.models.microflow import PACKAGED

            fields["guide_checkpoint"] = file_digest(self.guide_checkpoint or PACKAGED, "dataset.guide_checkpoint")
        blob = json.dumps(fields, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    @property
    def dataset_name(self) -> str:
        """The manifest's dataset column: ``synthetic``, or ``synthetic_<style>`` (its subjects are its own)."""
        return f"synthetic_{self.style}" if self.style else "synthetic"

    def guide_flow_estimator(self):
        """The estimator the guides are measured with (``megen.models.microflow.flow_estimator``)."""
        from megen.models.microflow import flow_estimator

        return flow_estimator(self.guide_estimator, self.guide_checkpoint)

    @property
    def apex_range_px(self) -> tuple[float, float]:
        """Apex amplitude range in pixels of this spec's frame."""
        s = self.frame_size / self.apex_px_at
        return self.apex_px[0] * s, self.apex_px[1] * s


def file_digest(path, setting: str) -> str:
    """The sha1 of a file's bytes (a cache key part); a missing file is a ValueError naming ``setting``."""
    try:
        return hashlib.sha1(Path(path).read_bytes()).hexdigest()[:16]
    except (OSError, TypeError) as err:
        raise ValueError(f"{setting}: cannot read {path!r} ({err})") from None


def subject_name(i: int) -> str:
    return f"s{i + 1:02d}"


def make_identities(spec: SyntheticSpec) -> list[Identity]:
    """One pseudo-identity per subject, cycling through the available photos.

    Each is built at ``render_scale`` times the frame size and reduced to it (``at_frame_size``),
    keeping the fine image that clips are rendered from.
    """
    scale = int(spec.render_scale)
    bases = [base_face(str(p), spec.frame_size * scale) for p in photo_paths(spec.identity_dir)]
    return [
        at_frame_size(make_identity(bases[i % len(bases)], np.random.default_rng([spec.seed, 0, i]), subject_name(i),
                                    spec.variation), scale)
        for i in range(spec.n_subjects)
    ]


def program_for(spec: SyntheticSpec, identity: Identity, subject: int, index: int) -> ExpressionProgram:
    rng = np.random.default_rng([spec.seed, 1, subject, index])
    return sample_program(
        rng, identity.eye_distance, spec.apex_range_px, spec.duration_s, spec.fps,
        spec.nuisance.head_px * spec.frame_size / 256, spec.nuisance, spec.emotions or None,
    )


def render(identity: Identity, program: ExpressionProgram, subject: str, clip: str, seed=0,
           guides: bool = False, estimator=None) -> SyntheticClip:
    """Render one program on one identity (also used for cross-identity ground truth).

    The noise stream is seeded by a stable digest of ``clip`` (str ``hash`` differs between processes).
    """
    out = render_with_flow(identity, program, np.random.default_rng([seed, 2, zlib.crc32(clip.encode())]), guides,
                           estimator)
    return SyntheticClip(subject, clip, identity.name, program, *out)


def generate(spec: SyntheticSpec, identities: list[Identity] | None = None) -> Iterator[SyntheticClip]:
    """All clips of the set, deterministic for ``spec``."""
    identities = identities if identities is not None else make_identities(spec)
    for i, ident in enumerate(identities):
        for j in range(spec.clips_per_subject):
            clip = f"{ident.name}_{j + 1:02d}"
            yield render(ident, program_for(spec, ident, i, j), ident.name, clip, seed=spec.seed)
