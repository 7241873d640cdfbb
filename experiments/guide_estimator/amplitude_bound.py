"""How well could any estimator read bench flow's faint motion? The Cramér-Rao bound on each bump's amplitude
for an estimator told its place, shape and direction, fitting only the amplitude from the linearised brightness
constancy, under the bench's nuisances (docs/benchmarks.md, "Why the faintest motion is read short").

    python experiments/guide_estimator/amplitude_bound.py        # a few seconds; prints one line per face
"""
import numpy as np

from megen.benchmarks.flow import _bump
from megen.face.flow import pixel_grid
from megen.synthetic.generator import SyntheticSpec, make_identities
from megen.synthetic.nuisance import Nuisance, photometric

SIZE, PEAK, SD_PX = 256, 0.1, 16.0


def main() -> None:
    faces = make_identities(SyntheticSpec(seed=1000, frame_size=SIZE, n_subjects=5, variation=1.0))  # bench's
    grid = pixel_grid(SIZE, SIZE)
    nuisance = Nuisance(noise=1.5, jpeg_quality=None, flicker=0.001, levels=32)                     # bench's
    rng = np.random.default_rng(0)
    for k, face in enumerate(faces):
        image = face.image.astype(np.float32) * 255.0
        # the noise of a frame difference, as the camera's nuisances make it (noise, palette, flicker)
        sd = float(np.std([photometric(image, nuisance, rng).astype(float) - photometric(image, nuisance, rng)
                           for _ in range(4)]))
        gy, gx = np.gradient(image)
        lm = np.asarray(face.landmarks)
        bounds = []
        for centre, direction in ((lm[17:22].mean(0), (0.0, 1.0)), (lm[48], (-1.0, 0.0))):   # bench's bumps
            w = _bump(grid, centre, direction, SD_PX)
            slope = gx * w[..., 0] + gy * w[..., 1]          # d(frame) / d(amplitude), linearised
            bounds.append(1.0 / np.sqrt((slope ** 2).sum() / sd ** 2))
        print(f"face {k}: frame-difference noise sd {sd:.2f} gray levels; amplitude sd >= {bounds[0]:.4f} px (brow), "
              f"{bounds[1]:.4f} px (mouth corner); signal/noise at {PEAK} px: {PEAK / bounds[0]:.1f}, "
              f"{PEAK / bounds[1]:.1f}")


if __name__ == "__main__":
    main()
