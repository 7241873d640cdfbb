"""A learned micro-motion estimator: dense optical flow between two gray face frames, trained on exact
sub-pixel motion under the camera's nuisances (``megen.synthetic.flow_pairs``).

Micro-expressions move a 256-px face by 0.1-2 px, where the brightness-constancy linearisation holds, so
the network starts from the classical least-squares (Lucas-Kanade) solution of it and learns what that
misses: how much to trust it in low texture, noise, compression and flicker, and how to spread it.

    frame, onset (B, 1, H, W) in [0, 255]
      -> each normalised (zero mean, unit sd: illumination gain and offset cancel); with ``relight``, the onset
         first put under the frame's light over wider scales (``relit``: a light that changes over the face)
      -> at three pyramid levels (full, half, quarter size, each binomially smoothed): gradients of the mean
         image, the difference onset - frame, and their products, averaged over 4 x 4-px cells, then over
         wider windows
      -> the regularised least-squares flow of each level and window, the texture (log trace), the image
      -> a small dilated CNN on the cell grid: a correction of one of those solutions
    twice: on the frames halved (head motion of a few pixels), then on the frame and the onset warped by that
    first estimate, at full size; ``refinements`` more full-size passes, each with a CNN of its own, warp the
    onset by the estimate so far and correct it again
      -> flow (B, H, W, 2), bilinear from H/4, in pixels

The flow is *forward* like every estimator of ``megen.ops.flow``: the content at p in ``frame`` is at
p + flow(p) in ``onset``, i.e. the backward field from frame to onset that warping needs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from megen.ops.choices import FlowEstimator
from megen.ops.flow import estimator

#: the cell the least-squares sums run over, and the CNN's grid step (pixels)
CELL = 4
#: the pyramid's levels: frames reduced by each factor (area), then binomially smoothed (sd 0.7 of a level pixel)
LEVELS = (1, 2, 4)
#: the windows (Gaussian sd, cells; 0 = one cell) the least-squares sums are pooled over before solving (the
#: default; ``windows=`` may add wider ones)
WINDOWS = (0, 1.0, 3.0)
#: (level, window) of the solution the CNN corrects; every solution is bounded to BOUND_PX (tanh)
BASE, BOUND_PX = (1, 1), 4.0
#: how the second pass resamples the onset (``MicroFlowNet(warp=)``)
WARPS = ("bilinear", "bicubic")


def gaussian_kernel(sd: float) -> torch.Tensor:
    """A 1-D Gaussian (2 r + 1,) of ``sd`` (r = 3 sd), summing to 1: the separable kernel of ``blur``."""
    r = int(3 * sd + 0.5)
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-x * x / (2 * sd * sd))
    return k / k.sum()


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) by a 1-D ``kernel`` (K,), edges replicated."""
    c, r = x.shape[1], kernel.numel() // 2
    x = F.pad(x, (r, r, 0, 0), mode="replicate")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    x = F.pad(x, (0, 0, r, r), mode="replicate")
    return F.conv2d(x, kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _gradients(m: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    px = F.pad(m, (1, 1, 0, 0), mode="replicate")
    py = F.pad(m, (0, 0, 1, 1), mode="replicate")
    return (px[..., 2:] - px[..., :-2]) / 2, (py[..., 2:, :] - py[..., :-2, :]) / 2


def normalise(x: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) -> zero mean, unit sd per image (gain and offset of the illumination cancel)."""
    mean = x.mean(dim=(2, 3), keepdim=True)
    return (x - mean) / x.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)


def binomial(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) smoothed by the separable [1, 2, 1] / 4 kernel, edges replicated (shifted sums: a one-channel
    convolution is far slower on the CPU)."""
    p = F.pad(x, (1, 1, 0, 0), mode="replicate")
    x = (p[..., :-2] + 2 * p[..., 1:-1] + p[..., 2:]) / 4
    p = F.pad(x, (0, 0, 1, 1), mode="replicate")
    return (p[..., :-2, :] + 2 * p[..., 1:-1, :] + p[..., 2:, :]) / 4


def least_squares_terms(frame: torch.Tensor, onset: torch.Tensor, step: int) -> torch.Tensor:
    """(B, 5, H/step, W/step) per-cell means of Ix², Iy², IxIy, Ix·It, Iy·It of the binomially smoothed frames
    (B, 1, H, W), on a grid ``step`` times coarser (It = onset - frame; I = their mean)."""
    a, b = binomial(frame), binomial(onset)
    gx, gy = _gradients((a + b) / 2)
    dt = b - a
    products = torch.cat([gx * gx, gy * gy, gx * gy, gx * dt, gy * dt], dim=1)
    return F.avg_pool2d(products, step)


def solve_flow(terms: torch.Tensor, damping: torch.Tensor) -> torch.Tensor:
    """The regularised least-squares flow (B, 2, h, w) of ``least_squares_terms``: (M + damping I) u = -b,
    solved in closed form per cell (``damping`` (B, 1, 1, 1) keeps textureless cells near zero)."""
    xx, yy, xy, xt, yt = terms.unbind(1)
    xx, yy = xx + damping[:, 0], yy + damping[:, 0]
    det = xx * yy - xy * xy
    u = -(yy * xt - xy * yt) / det
    v = -(xx * yt - xy * xt) / det
    return torch.stack([u, v], dim=1)


def warp_by(image: torch.Tensor, flow_px: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """(B, C, H, W) sampled at p + flow(p), flow (B, 2, H, W) in pixels; ``mode`` bilinear or bicubic, edges
    extended."""
    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(torch.arange(h, dtype=image.dtype, device=image.device),
                            torch.arange(w, dtype=image.dtype, device=image.device), indexing="ij")
    gx = (xs + flow_px[:, 0] + 0.5) * (2.0 / w) - 1.0     # pixel centres, as align_corners=False reads them
    gy = (ys + flow_px[:, 1] + 0.5) * (2.0 / h) - 1.0
    grid = torch.stack([gx, gy], dim=-1)
    return F.grid_sample(image, grid, mode=mode, padding_mode="border", align_corners=False)


def smooth_light(image: torch.Tensor, sd: float) -> torch.Tensor:
    """(B, 1, H, W) -> the image's brightness over scales wider than ``sd`` px: area-reduced by 4, Gaussian-blurred
    (sd / 4 there) and enlarged bilinearly (a quarter-size blur costs a sixteenth)."""
    low = blur(F.avg_pool2d(image, 4), gaussian_kernel(max(sd / 4.0, 0.5)).to(image))
    return F.interpolate(low, size=image.shape[2:], mode="bilinear", align_corners=False)


def relit(image: torch.Tensor, reference: torch.Tensor, sd: float, tolerance: float = 0.0) -> torch.Tensor:
    """``image`` (B, 1, H, W), in gray levels, under ``reference``'s light: multiplied by the ratio of their
    brightness over scales wider than ``sd`` px (``smooth_light``). A smooth gain field of one frame (light
    changing over a turning face) then cancels, and motion, which moves edges finer than ``sd``, stays.

    With ``tolerance`` (relative), the ratio is estimated a second time without the pixels that the first leaves
    further apart than that (a normalised convolution): a lid closing over an eye changes the brightness of an
    eye-sized blob, which is not light, and moving edges are not either. Where a whole neighbourhood is left out,
    the first ratio stands."""
    floor = 1.0     # gray levels: dark background keeps a finite ratio
    low_ref, low_img = smooth_light(reference, sd), smooth_light(image, sd)
    gain = low_ref.clamp_min(floor) / low_img.clamp_min(floor)
    if tolerance > 0:
        far = (image * gain - reference).abs() / reference.clamp_min(floor)
        weight = torch.exp(-(far / tolerance) ** 2)
        keep = 0.05     # of the plain estimate, so that an emptied neighbourhood falls back to it
        gain = ((smooth_light(weight * reference, sd) + keep * low_ref).clamp_min(floor)
                / (smooth_light(weight * image, sd) + keep * low_img).clamp_min(floor))
    return image * gain


def _correction(in_ch: int, channels: int, dilations) -> tuple[nn.Sequential, nn.Conv2d]:
    layers: list[nn.Module] = []
    for d in dilations:
        layers += [nn.Conv2d(in_ch, channels, 3, padding=d, dilation=d), nn.LeakyReLU(0.1)]
        in_ch = channels
    head = nn.Conv2d(channels, 2, 3, padding=1)
    nn.init.zeros_(head.weight)     # untrained, each pass is its least-squares solution
    nn.init.zeros_(head.bias)
    return nn.Sequential(*layers), head


class MicroFlowNet(nn.Module):
    """(frame, onset) (B, 1, H, W) in [0, 255] -> forward flow (B, H, W, 2) in pixels, frame -> onset.

    Two passes: the first on the frames halved (a head motion of a few pixels is then within the
    linearisation's reach), the second on the frame and the onset warped by the first estimate, at full size,
    for the rest. ``channels`` and ``dilations`` size each pass's correction CNN; ``damping`` is the
    least-squares regularisation relative to the mean texture of the frame. ``warp`` is how the onset is
    resampled by the first estimate: bilinear blurs it by an amount that depends on the sub-pixel position, which
    the second pass may read as motion; bicubic blurs far less but trained worse (docs/benchmarks.md).
    ``refinements`` adds that many full-size passes after the second, each with its own correction CNN, which
    reads the residual's least-squares solutions among its inputs and is zero untrained (so a trained network
    given refinements starts as the same estimator).
    """

    def __init__(self, channels: int = 32, dilations=(1, 2, 4, 2, 1), damping: float = 0.01, windows=WINDOWS,
                 warp: str = "bilinear", refinements: int = 0, relight: float = 0.0, relight_tolerance: float = 0.0):
        super().__init__()
        if warp not in WARPS:
            raise ValueError(f"net.warp={warp!r}: must be one of {list(WARPS)}")
        self.warp = warp
        self.windows = tuple(float(w) for w in windows)
        if self.windows[:2] != WINDOWS[:2]:
            raise ValueError(f"net.windows={list(windows)}: must start with {list(WINDOWS[:2])} (the corrected "
                             f"solution is the second window's)")
        refinements = int(refinements)
        if refinements < 0:
            raise ValueError(f"net.refinements={refinements}: must be 0 or more")
        self.hparams = {"channels": int(channels), "dilations": [int(d) for d in dilations], "damping": float(damping),
                        "windows": list(self.windows), "warp": warp}
        if refinements:     # absent at 0, so the checkpoints of two-pass networks keep their form
            self.hparams["refinements"] = refinements
        self.relight = float(relight)
        if self.relight < 0:
            raise ValueError(f"net.relight={relight}: must be 0 (off) or a scale in pixels")
        self.relight_tolerance = float(relight_tolerance)
        if self.relight_tolerance < 0 or (self.relight_tolerance and not self.relight):
            raise ValueError(f"net.relight_tolerance={relight_tolerance}: must be 0 (off) or a relative change, "
                             f"with net.relight on")
        if self.relight:    # absent at 0, as refinements
            self.hparams["relight"] = self.relight
        if self.relight_tolerance:
            self.hparams["relight_tolerance"] = self.relight_tolerance
        for j, window in enumerate(self.windows):
            if window:
                self.register_buffer(f"window{j}", gaussian_kernel(window), persistent=False)
        self.damping = damping
        in_ch = len(LEVELS) * (2 * len(self.windows) + 1) + 2
        self.body_half, self.head_half = _correction(in_ch, channels, dilations)
        self.body, self.head = _correction(in_ch + 2, channels, dilations)
        self.refine = nn.ModuleList(nn.Sequential(*_correction(in_ch + 2, channels, dilations))
                                    for _ in range(refinements))

    def features(self, frame: torch.Tensor, onset: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The CNN's input (B, len(LEVELS) * (2 len(windows) + 1) + 2, h, w) at the cell grid of normalised
        frames, and the base least-squares flow (B, 2, h, w) in their pixels."""
        h, w = frame.shape[2] // CELL, frame.shape[3] // CELL
        parts, base = [], None
        for i, factor in enumerate(LEVELS):
            a, b = (frame, onset) if factor == 1 else (F.avg_pool2d(frame, factor), F.avg_pool2d(onset, factor))
            terms = least_squares_terms(a, b, CELL // factor)[..., :h, :w]
            scale = float(factor)      # the level's flow is in its own (coarser) pixels
            texture = terms[:, 0] + terms[:, 1]
            damping = self.damping * texture.mean(dim=(1, 2)).view(-1, 1, 1, 1) + 1e-6
            for j, window in enumerate(self.windows):   # least squares over wider windows: less noise, less detail
                pooled = terms if window == 0 else blur(terms, getattr(self, f"window{j}"))
                flow = BOUND_PX * torch.tanh(solve_flow(pooled, damping) * scale / BOUND_PX)
                if (i, j) == BASE:
                    base = flow
                parts.append(flow / BOUND_PX)
            parts.append(torch.log(texture.unsqueeze(1) + 1e-4) / 8.0)   # inputs of order one
        image = F.avg_pool2d((frame + onset) / 2, CELL)[..., :h, :w]
        change = F.avg_pool2d((onset - frame).abs(), CELL)[..., :h, :w]
        return torch.cat(parts + [image, change], dim=1), base

    def coarse(self, frame: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        """The flow on the cell grid: (B, 2, H/CELL, W/CELL) in pixels of the frames."""
        raw_frame, raw_onset = frame.float(), onset.float()
        raw = (raw_frame, raw_onset) if self.relight else None
        frame, onset = normalise(raw_frame), normalise(raw_onset)
        # the first pass sees the onset under the frame's light too: a motion of a few pixels shifts the smooth
        # brightness little, and the second pass relights the onset again once it is warped
        first_onset = normalise(relit(raw_onset, raw_frame, self.relight, self.relight_tolerance)) if raw else onset
        h, w = frame.shape[2] // CELL, frame.shape[3] // CELL
        x, base = self.features(F.avg_pool2d(frame, 2), F.avg_pool2d(first_onset, 2))
        first = F.interpolate(base + self.head_half(self.body_half(x)), size=(h, w), mode="bilinear",
                              align_corners=False) * 2.0
        x, base = self.residual_features(frame, onset, first, raw)
        flow = first + base + self.head(self.body(x))
        for correction in self.refine:
            # no least-squares step of its own (it is among x): untrained, a refinement changes nothing
            flow = flow + correction(self.residual_features(frame, onset, flow, raw)[0])
        return flow

    def residual_features(self, frame: torch.Tensor, onset: torch.Tensor, flow: torch.Tensor, raw=None):
        """A full-size pass's CNN input: ``features`` of the normalised ``frame`` and ``onset`` (B, 1, H, W), the
        onset warped by ``flow`` (B, 2, H/CELL, W/CELL), with that flow appended; and the residual's base
        least-squares flow (B, 2, H/CELL, W/CELL). With ``relight``, ``raw`` holds the frames in gray levels: the
        warped onset is ``relit`` under the frame's light before it is normalised as the onset was (the first
        estimate has taken the motion, so what is left between their smooth brightness is the light)."""
        full = F.interpolate(flow, size=frame.shape[2:], mode="bilinear", align_corners=False)
        if raw is None:
            warped = warp_by(onset, full, self.warp)
        else:
            raw_frame, raw_onset = raw
            lit = relit(warp_by(raw_onset, full, self.warp), raw_frame, self.relight, self.relight_tolerance)
            mean = raw_onset.mean(dim=(2, 3), keepdim=True)
            warped = (lit - mean) / raw_onset.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)
        x, base = self.features(frame, warped)
        return torch.cat([x, flow / BOUND_PX], dim=1), base

    def forward(self, frame: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        flow = F.interpolate(self.coarse(frame, onset), size=frame.shape[2:], mode="bilinear", align_corners=False)
        return flow.permute(0, 2, 3, 1)


class LearnedFlow:
    """A trained ``MicroFlowNet`` as an estimator of ``megen.ops.flow``'s kind: called on two (H, W) uint8
    frames it returns their forward flow (H, W, 2) float32; ``pairs`` runs many at once."""

    batch = 16

    def __init__(self, net: MicroFlowNet):
        self.net = net

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.pairs([a], [b])[0]

    @torch.no_grad()
    def pairs(self, frames, onsets) -> np.ndarray:
        """(N, H, W, 2) float32 forward flows of frames[i] -> onsets[i] ((H, W) uint8 each)."""
        out, device = [], next(self.net.parameters()).device
        self.net.eval()
        for i in range(0, len(frames), self.batch):
            a = torch.from_numpy(np.stack(frames[i:i + self.batch])).unsqueeze(1).to(device)
            b = torch.from_numpy(np.stack(onsets[i:i + self.batch])).unsqueeze(1).to(device)
            out.append(self.net(a, b).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


#: the estimator megen ships, used where ``flow.checkpoint`` is not given: a ``python -m megen.train_flow``
#: checkpoint reduced to its network (``packaged_checkpoint``); its recipe and scores are in docs/training.md
PACKAGED = Path(__file__).parent / "weights" / "microflow.ckpt"


def load_microflow(path=None, setting: str = "flow.checkpoint") -> MicroFlowNet:
    """The ``MicroFlowNet`` of a ``python -m megen.train_flow`` checkpoint (on the CPU; None: the packaged one,
    ``PACKAGED``); a file that is not one is a ValueError naming it and ``setting``."""
    from megen.runtime.checkpoints import load_checkpoint

    path = PACKAGED if path in (None, "") else path
    try:
        ckpt = load_checkpoint(path)
        net = MicroFlowNet(**ckpt["hyper_parameters"]["net"])
        net.load_state_dict({k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")})
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as err:
        raise ValueError(f"{setting}={path}: not a micro-motion estimator checkpoint of python -m megen.train_flow "
                         f"({str(err).splitlines()[0] if str(err) else type(err).__name__})") from None
    return net.eval()


def flow_estimator(name: str, checkpoint=None):
    """The estimator called ``name``: one of ``megen.ops.flow.ESTIMATORS``, or ``learned`` (the ``MicroFlowNet``
    of ``checkpoint``, as a ``LearnedFlow``)."""
    if FlowEstimator.parse(name, "flow.estimator") != FlowEstimator.LEARNED:
        return estimator(name)
    return LearnedFlow(load_microflow(checkpoint))


def packaged_checkpoint(source, out=PACKAGED) -> Path:
    """Write the network of the ``python -m megen.train_flow`` checkpoint ``source`` to ``out`` as a checkpoint of
    the same layout without the optimiser's state (about a third of the size), atomically: how ``PACKAGED`` is
    made from a run."""
    from megen.runtime.checkpoints import load_checkpoint
    from megen.runtime.io import atomic_open

    ckpt = load_checkpoint(source)
    net = load_microflow(source)
    with atomic_open(out) as fh:
        torch.save({"hyper_parameters": {"net": net.hparams},
                    "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                    "global_step": ckpt.get("global_step")}, fh)
    return Path(out)


__all__ = ["CELL", "LEVELS", "PACKAGED", "LearnedFlow", "MicroFlowNet", "binomial", "blur", "flow_estimator",
           "gaussian_kernel", "least_squares_terms", "load_microflow", "normalise", "packaged_checkpoint", "solve_flow",
           "warp_by"]
