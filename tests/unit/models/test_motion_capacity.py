"""The representational check: the first-order motion representation can express the synthetic motion.

If training collapses to zero flow, this separates "the representation cannot express a
micro-expression" from "the networks do not learn it": the key points, Jacobians and mask logits
are fitted directly, by Adam, to the true onset -> apex flow of a few synthetic clips.

Measured (3 clips with the largest motion of the 64x64 ``prepared`` set, zero-flow EPE 0.06-0.15 px,
K=10, mask at 32x32, 300 steps, seeds 0-3): fitted EPE / zero-flow EPE 0.039-0.043 (0.027-0.046 per
clip), 0.032-0.036 on the moving pixels (> 0.25 px), in 1-5 s on one thread. The fit keeps a mean
background mask weight of about 0.84: most pixels do not move, so a high background weight alone
is no sign of collapse.
"""
import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from megen.data.cache import PreparedSet
from megen.models.motion import coordinate_grid, deformation_to_flow, deformation_to_frame_flow, sparse_motions
from megen.runtime.paths import conf_dir
from megen.synthetic import motion_between


def _onset_apex_flows(folder, n: int) -> torch.Tensor:
    """True backward flows apex -> onset (n, S, S, 2) in pixels, the n clips that move most."""
    prepared = PreparedSet.open(folder)
    flows = []
    for i, row in enumerate(prepared.rows):
        a = prepared.load(i)
        lm, sh = a["gt_landmarks"], a["gt_shifts"]
        onset, apex = int(row["onset"]), min(int(row["apex"]), len(lm) - 1)
        flows.append(motion_between(lm[onset], lm[apex], sh[onset], sh[apex], lm[0], a["frames"].shape[-1]))
    flows.sort(key=lambda f: -float(np.linalg.norm(f, axis=-1).mean()))
    return torch.from_numpy(np.stack(flows[:n])).float()


class FirstOrderMotion(torch.nn.Module):
    """Free parameters of the FOMM motion representation for a batch of pairs.

    The Jacobian enters sparse_motions only as J_s J_d^-1, so J_d stays the identity and J_s
    spans every local affine map.
    """

    def __init__(self, batch: int, num_kp: int, size: int):
        super().__init__()
        kp = (torch.rand(batch, num_kp, 2) - 0.5) * 1.2
        self.kp_driving = torch.nn.Parameter(kp)
        self.kp_source = torch.nn.Parameter(kp.clone())          # equal key points: zero flow at the start
        self.jacobian = torch.nn.Parameter(torch.eye(2).repeat(batch, num_kp, 1, 1))
        self.mask_logits = torch.nn.Parameter(torch.zeros(batch, num_kp + 1, size, size))

    def forward(self) -> torch.Tensor:
        size = tuple(self.mask_logits.shape[2:])
        eye = torch.eye(2).expand_as(self.jacobian)
        motions = sparse_motions(self.kp_source, self.kp_driving, self.jacobian, eye, size)   # (B, K+1, h, w, 2)
        mask = torch.softmax(self.mask_logits, dim=1)
        return (mask[..., None] * motions).sum(dim=1)


@pytest.fixture
def one_thread():
    """300 steps on tensors this small gain nothing from intra-op threads, and on a busy machine the
    thread pool's contention made the fit 5-15x slower."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _epe(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    return (pred - true).norm(dim=-1)


def test_pixel_flow_and_deformation_conventions_agree():
    flow = torch.randn(1, 8, 8, 2)
    deformation = coordinate_grid(8, 8)[None] + flow * 2 / 8
    torch.testing.assert_close(deformation_to_flow(deformation), flow, atol=1e-5, rtol=0)
    torch.testing.assert_close(deformation_to_frame_flow(deformation, (8, 8)), flow, atol=1e-5, rtol=0)


def test_first_order_motion_can_express_the_onset_apex_flow(prepared, one_thread):
    model_cfg = OmegaConf.load(conf_dir() / "model" / "fomm.yaml")
    true = _onset_apex_flows(prepared, 3)
    frame = true.shape[1]
    size = int(round(frame * model_cfg.dense_motion.scale_factor))           # the dense-motion resolution
    motion = FirstOrderMotion(true.shape[0], int(model_cfg.num_kp), size)
    zero_epe = true.norm(dim=-1).mean()
    assert zero_epe > 0.05, "the synthetic clips barely move; the check would be vacuous"

    def frame_flow():
        return deformation_to_frame_flow(motion(), (frame, frame))

    with torch.no_grad():
        torch.testing.assert_close(_epe(frame_flow(), true).mean(), zero_epe, atol=1e-5, rtol=0)
    opt = torch.optim.Adam([{"params": [motion.kp_driving, motion.kp_source, motion.jacobian], "lr": 5e-3},
                            {"params": [motion.mask_logits], "lr": 0.1}])
    for _ in range(300):
        # smoothed end-point error: its gradient at exactly zero error is defined
        loss = ((frame_flow() - true).pow(2).sum(-1) + 1e-8).sqrt().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        err = _epe(frame_flow(), true)
    true_len = true.norm(dim=-1)
    per_clip = err.mean(dim=(1, 2)) / true_len.mean(dim=(1, 2))
    moving = true_len > 0.25
    assert err.mean() / zero_epe < 0.5, f"fitted/zero EPE per clip {per_clip.tolist()}"
    assert (per_clip < 0.5).all(), f"fitted/zero EPE per clip {per_clip.tolist()}"
    assert err[moving].mean() / true_len[moving].mean() < 0.5
