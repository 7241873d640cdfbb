"""A shallow CNN on 3-channel flow maps (after STSTNet) and its LightningModule."""
from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn


def _pooled(size: int) -> int:
    after_max = (size + 2 * 1 - 3) // 3 + 1    # MaxPool2d(3, stride 3, padding 1)
    return after_max // 2                      # AvgPool2d(2)


def rotate_flow_maps(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """Rotate (B, 3, S, S) u / v / strain maps by ``angles`` (B,) radians about their centre.

    Positive angles turn clockwise on screen (x right, y down): content at the right moves down
    and a rightward flow (u > 0) becomes a downward one (v > 0). The map moves and its flow
    vectors turn with it; strain is a magnitude, so it only moves. Outside the rotated map is 0.
    """
    from kornia.geometry.transform import rotate

    # kornia turns counter-clockwise on screen for positive angles, about the map's centre pixel
    moved = rotate(x, -torch.rad2deg(angles).to(x.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
    u, v, rest = moved[:, :1], moved[:, 1:2], moved[:, 2:]
    c, s = torch.cos(angles).to(x.dtype).view(-1, 1, 1, 1), torch.sin(angles).to(x.dtype).view(-1, 1, 1, 1)
    return torch.cat([c * u - s * v, s * u + c * v, rest], 1)


class ShallowFlowNet(nn.Module):
    """Parallel 3x3 convolution branches (STSTNet: 3, 5 and 8 channels), pooled, one linear layer.

    Input (B, 3, S, S) flow / strain maps; output (B, num_classes) logits. A BatchNorm on the
    input puts the flow (pixels) and strain (unitless) channels on one scale, whatever the
    prepared frame size and the dataset's motion amplitude.
    """

    def __init__(self, num_classes: int, size: int = 28, channels=(3, 5, 8), dropout: float = 0.0):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a recogniser needs at least 2 classes, got {num_classes}")
        self.input_norm = nn.BatchNorm2d(3)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(3, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                          nn.MaxPool2d(3, stride=3, padding=1))
            for c in channels
        )
        self.pool = nn.AvgPool2d(2)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(sum(channels) * _pooled(size) ** 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(x)
        x = torch.cat([b(x) for b in self.branches], dim=1)   # (B, sum(channels), S', S')
        return self.head(self.dropout(torch.flatten(self.pool(x), 1)))


class RecognitionModule(pl.LightningModule):
    """Cross-entropy training of ShallowFlowNet; batches are (features (B, 3, S, S), labels (B,)).

    ``class_weights`` (C,) weights the loss (balanced weights keep a majority class from
    swallowing UF1 on the imbalanced micro-expression sets). ``flip_prob`` mirrors training maps;
    ``rotate_deg`` turns each by a uniform angle in [-rotate_deg, rotate_deg] (head roll).
    """

    def __init__(self, num_classes: int, size: int = 28, channels=(3, 5, 8), dropout: float = 0.0,
                 lr: float = 1e-3, weight_decay: float = 0.0, class_weights=None, flip_prob: float = 0.0,
                 rotate_deg: float = 0.0):
        super().__init__()
        self.save_hyperparameters(ignore=["class_weights"])
        self.net = ShallowFlowNet(num_classes, size, tuple(channels), dropout)
        weights = torch.ones(num_classes) if class_weights is None else torch.as_tensor(class_weights, dtype=torch.float32)
        self.register_buffer("class_weights", weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def _flip(self, x: torch.Tensor) -> torch.Tensor:
        flip = torch.rand(x.shape[0], device=x.device) < self.hparams.flip_prob
        if not flip.any():
            return x
        mirrored = torch.flip(x, dims=[-1]) * torch.tensor([-1.0, 1.0, 1.0], device=x.device).view(1, 3, 1, 1)
        return torch.where(flip.view(-1, 1, 1, 1), mirrored, x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        if self.hparams.flip_prob > 0:
            x = self._flip(x)
        if self.hparams.get("rotate_deg", 0.0) > 0:
            limit = torch.deg2rad(torch.tensor(float(self.hparams.rotate_deg)))
            x = rotate_flow_maps(x, (torch.rand(x.shape[0], device=x.device) * 2 - 1) * limit.to(x.device))
        loss = F.cross_entropy(self(x), y, weight=self.class_weights)
        self.log("train/loss", loss, prog_bar=False, on_epoch=True, on_step=False, batch_size=len(y))
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    @torch.no_grad()
    def predict_logits(self, x: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """(N, 3, S, S) -> (N, C) logits in eval mode, on the module's device; returned on the CPU."""
        self.eval()
        out = [self(x[i:i + batch_size].to(self.device)).cpu() for i in range(0, len(x), batch_size)]
        return torch.cat(out) if out else torch.zeros(0, self.hparams.num_classes)
