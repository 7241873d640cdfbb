"""Generation through ONNX Runtime: the per-frame part of animation exported as one ONNX graph.

What runs once per clip (the target's encoding and key points, the start frame's key points) stays
in torch; what runs for every driving frame (its key points, the relative motion, the dense motion
and the decoder) is :class:`FrameGraph`, exported by :func:`export_onnx` and run by
:class:`OnnxFrameEngine` with ONNX Runtime's CPU execution provider (which folds the BatchNorms
into the convolutions and fuses activations: the speed-up over torch eager on a CPU).

Supported: the FOMM family without background motion, key points in any mode. MRAA (an SVD per
frame) and TPS (a linear solve per frame) have no ONNX operators: generate them with
``backend=torch``. Needs the optional ``export`` extra (``pip install -e '.[export]'``).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from megen.animation.errors import ExportError
from megen.models.choices import KeypointMode, PriorInputMode
from megen.models.full import MotionTransferModel

#: graph inputs after the driving frame, in order; the last three only where the model uses them
SOURCE_INPUTS = ("source", "features", "kp_source", "jac_source", "kp_anchor", "jac_anchor", "kp_initial",
                 "jac_initial_inv", "scale")
OPSET = 18


def check_exportable(model: MotionTransferModel) -> None:
    reason = model.onnx_refusal()
    if reason:
        raise ExportError(f"{reason}: generate with backend=torch (precision=bf16 where the CPU has bf16)")


def driving_inputs(model: MotionTransferModel) -> list[str]:
    """Per-frame inputs of the model's motion network besides the frame: prior maps, onset key points, reference."""
    net = model.motion_net
    names = []
    if net.trunk.prior.mode != PriorInputMode.NONE:
        names.append("prior")
    if net.mode != KeypointMode.LEARNED:
        names.append("keypoints")
    if getattr(net.trunk, "reference_input", False):
        names.append("reference")
    return names


class FrameGraph(nn.Module):
    """Driving frames (N, C, S, S) -> generated frames (N, C, S, S), the target's side as inputs.

    Inputs besides ``driving``: ``source`` (1, C, S, S) the target frame, ``features`` its encoding,
    ``kp_source`` (1, K, 2) / ``jac_source`` (1, K, 2, 2) its key points; the relative transfer's
    ``kp_anchor`` / ``jac_anchor`` (the target's key points again), ``kp_initial`` (1, K, 2) the start
    frame's key points, ``jac_initial_inv`` (1, K, 2, 2) the inverse of its Jacobians and ``scale``
    (1, 1, 1) the movement scale; then ``prior`` (1, P, s, s), ``keypoints`` (1, K, 2) and ``reference``
    (1, C, S, S) where the motion network reads them (:func:`driving_inputs`).

    The driving motion is ``kp = kp_anchor + (kp_d - kp_initial) * scale``, ``J = J_d J_initial^-1
    J_anchor``: relative to the start frame as ``megen.animation.animate`` does it, or, with zero
    anchor and initial points, identity Jacobians and scale 1, the driving key points as they are.
    """

    def __init__(self, model: MotionTransferModel):
        super().__init__()
        check_exportable(model)
        self.model = model
        self.extra = driving_inputs(model)

    def input_names(self) -> list[str]:
        return ["driving", *SOURCE_INPUTS, *self.extra]

    def forward(self, driving, source, features, kp_source, jac_source, kp_anchor, jac_anchor, kp_initial,
                jac_initial_inv, scale, prior=None, keypoints=None, reference=None):
        n = driving.shape[0]
        grow = lambda t: t.expand(n, *t.shape[1:])   # noqa: E731
        prior, keypoints, reference = (grow(t) if t is not None else None for t in (prior, keypoints, reference))
        motion_d = self.model.motion(driving, prior, keypoints, reference)
        kp_s, jac_s = grow(kp_source), grow(jac_source)
        motion_new = {"value": grow(kp_anchor) + (motion_d["value"] - grow(kp_initial)) * scale,
                      "jacobian": motion_d["jacobian"] @ grow(jac_initial_inv) @ grow(jac_anchor)}
        src = grow(source)
        dense = self.model.dense_motion(src, {"value": kp_s, "jacobian": jac_s}, motion_new, None)
        return self.model.generator.decode(grow(features), src, dense)["prediction"]


def example_inputs(model: MotionTransferModel, frame_size: int, prior_channels: int = 1, map_size: int | None = None,
                   frames: int = 1) -> tuple:
    """Random inputs of the right shapes for :class:`FrameGraph` in :meth:`~FrameGraph.input_names` order."""
    net = model.motion_net
    k = net.num_kp
    c = model.generator.final.out_channels
    s = frame_size
    m = map_size or int(round(s * net.trunk.down.scale))
    gen = torch.Generator().manual_seed(0)
    source = torch.rand(1, c, s, s, generator=gen)
    with torch.no_grad():
        features = model.generator.encode(source)
    eye = torch.eye(2).expand(1, k, 2, 2)
    points = lambda: torch.rand(1, k, 2, generator=gen) * 1.6 - 0.8                   # noqa: E731
    jacobians = lambda: eye + 0.05 * torch.randn(1, k, 2, 2, generator=gen)           # noqa: E731
    kp_source, jac_source = points(), jacobians()
    inputs = [torch.rand(frames, c, s, s, generator=gen), source, features, kp_source, jac_source, kp_source,
              jac_source, points(), jacobians(), torch.ones(1, 1, 1)]
    extra = {"prior": torch.rand(1, prior_channels, m, m, generator=gen),
             "keypoints": torch.rand(1, k, 2, generator=gen) * 1.6 - 0.8,
             "reference": torch.rand(1, c, s, s, generator=gen)}
    return tuple(inputs + [extra[name] for name in driving_inputs(model)])


def export_onnx(model: MotionTransferModel, path, frame_size: int, prior_channels: int = 1,
                map_size: int | None = None) -> Path:
    """Write the per-frame graph of ``model`` (eval mode, on the CPU) for ``frame_size`` frames to ``path``.

    The batch of driving frames is a dynamic axis; everything else is fixed by the checkpoint. The
    graph is traced by torch's TorchScript exporter (seconds; the torch.export-based one, used where
    the former is gone, takes minutes on a CPU for the same graph).
    """
    import warnings

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = model.to("cpu").eval()
    graph = FrameGraph(model).eval()
    inputs = example_inputs(model, frame_size, prior_channels, map_size, frames=2)
    names = graph.input_names()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(graph, inputs, str(path), dynamo=False, input_names=names, output_names=["prediction"],
                              dynamic_axes={"driving": {0: "frames"}, "prediction": {0: "frames"}},
                              opset_version=OPSET)
        except (TypeError, ValueError, RuntimeError) as err:
            if "dynamo" not in str(err):
                raise
            args = inputs[:len(SOURCE_INPUTS) + 1]
            kwargs = dict(zip(graph.extra, inputs[len(SOURCE_INPUTS) + 1:]))
            batch = torch.export.Dim("frames", min=1, max=4096)
            dynamic = {name: ({0: batch} if name == "driving" else None) for name in names}
            program = torch.onnx.export(graph, args, kwargs=kwargs, dynamo=True, input_names=names,
                                        output_names=["prediction"], dynamic_shapes=dynamic, opset_version=OPSET,
                                        external_data=False, optimize=True, verbose=False)
            program.save(str(path))
    return path


def _session(path, threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError as err:   # pragma: no cover - depends on the installed extras
        raise ExportError("backend=onnxruntime needs onnxruntime: pip install -e '.[export]'") from err
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxFrameEngine:
    """An exported :class:`FrameGraph` in an ONNX Runtime session; ``__call__`` mirrors its forward."""

    def __init__(self, path, threads: int | None = None):
        self.path = Path(path)
        self.session = _session(self.path, threads)
        self.names = [i.name for i in self.session.get_inputs()]

    @classmethod
    def from_model(cls, model: MotionTransferModel, frame_size: int, prior_channels: int = 1,
                   map_size: int | None = None, threads: int | None = None, folder=None) -> "OnnxFrameEngine":
        """Export ``model`` into ``folder`` (by default a temporary one, removed once the session has
        read the graph) and open it."""
        if folder is not None:
            return cls(export_onnx(model, Path(folder) / "frame.onnx", frame_size, prior_channels, map_size), threads)
        with tempfile.TemporaryDirectory(prefix="megen-onnx-") as tmp:
            return cls(export_onnx(model, Path(tmp) / "frame.onnx", frame_size, prior_channels, map_size), threads)

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Inputs in :meth:`FrameGraph.input_names` order -> (N, C, S, S) frames."""
        feed = {name: np.ascontiguousarray(t.detach().cpu().float().numpy()) for name, t in zip(self.names, inputs)}
        return torch.from_numpy(self.session.run(["prediction"], feed)[0])


def max_difference(model: MotionTransferModel, engine: OnnxFrameEngine, frame_size: int, prior_channels: int = 1,
                   map_size: int | None = None, frames: int = 2) -> float:
    """Largest absolute difference between the torch graph and the exported one on random inputs."""
    graph = FrameGraph(model.to("cpu").eval()).eval()
    inputs = example_inputs(model, frame_size, prior_channels, map_size, frames=frames)
    n = len(SOURCE_INPUTS) + 1
    with torch.inference_mode():
        expected = graph(*inputs[:n], **dict(zip(graph.extra, inputs[n:])))
    return float((engine(*inputs) - expected).abs().max())
