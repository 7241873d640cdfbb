"""The public first-order-model code's training step, imported from a checkout a user gives (nothing of
it is in this repository), for timing beside megen's."""
from __future__ import annotations

from pathlib import Path


def _random_vgg19(pretrained: bool = False, **_):
    """Stands in for ``torchvision.models.vgg19`` when the public code is timed: the same layers,
    megen's seeded random weights (no ImageNet file is read; the arithmetic is the same)."""
    import warnings
    from types import SimpleNamespace

    from megen.models.perceptual import Vgg19

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = Vgg19(allow_random=True).features
    return SimpleNamespace(features=features)


#: the public code's top-level packages, and torchvision, which its perceptual loss imports


_REFERENCE_PACKAGES = ("modules", "sync_batchnorm", "torchvision")


def load_reference(path):
    """The public first-order-model code's networks and training models, imported from a checkout at
    ``path`` as they are; at run time only, ``torchvision.models.vgg19`` is a random stand-in of the
    same shape (torchvision is not installed here, and no weights are downloaded). The modules are
    removed from ``sys.modules`` again, so nothing of it stays importable by name."""
    import importlib
    import sys
    import types
    import warnings
    from types import SimpleNamespace

    root = Path(path).expanduser().resolve()
    if not (root / "modules" / "model.py").is_file():
        raise SystemExit(f"bench.reference={path} is not a first-order-model checkout (no modules/model.py); "
                         f"git clone https://github.com/AliaksandrSiarohin/first-order-model")
    ours = lambda name: name.split(".")[0] in _REFERENCE_PACKAGES   # noqa: E731
    saved = {name: module for name, module in sys.modules.items() if ours(name)}
    for name in saved:
        del sys.modules[name]
    vision, models = types.ModuleType("torchvision"), types.ModuleType("torchvision.models")
    models.vgg19, vision.models = _random_vgg19, models
    sys.modules.update({"torchvision": vision, "torchvision.models": models})
    sys.path.insert(0, str(root))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = {name: importlib.import_module(f"modules.{name}")
                      for name in ("model", "generator", "discriminator", "keypoint_detector")}
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if ours(name)]:
            del sys.modules[name]
        sys.modules.update(saved)
    return SimpleNamespace(root=root, GeneratorFullModel=loaded["model"].GeneratorFullModel,
                           DiscriminatorFullModel=loaded["model"].DiscriminatorFullModel,
                           OcclusionAwareGenerator=loaded["generator"].OcclusionAwareGenerator,
                           MultiScaleDiscriminator=loaded["discriminator"].MultiScaleDiscriminator,
                           KPDetector=loaded["keypoint_detector"].KPDetector)


def reference_step(path, config: str = "config/vox-256.yaml", device: str = "cpu", seed: int = 0):
    """One training step of the public first-order-model code at its own ``config`` (a path inside the
    checkout, or any file): its ``GeneratorFullModel`` forward, the backward of the summed losses and the
    generator's and key-point detector's Adam updates, then the discriminator's pass and update where
    ``generator_gan`` is not 0, and the losses copied to numpy, as its ``train.py`` loop does.
    Returns ``(step, config dict)``; ``step(batch)`` takes a batch with ``source`` and ``driving``."""
    import warnings

    import torch
    import yaml

    ref = load_reference(path)
    file = Path(config) if Path(config).is_absolute() else ref.root / config
    conf = yaml.safe_load(file.read_text())
    common, train = conf["model_params"]["common_params"], conf["train_params"]
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        generator = ref.OcclusionAwareGenerator(**conf["model_params"]["generator_params"], **common)
        discriminator = ref.MultiScaleDiscriminator(**conf["model_params"]["discriminator_params"], **common)
        kp_detector = ref.KPDetector(**conf["model_params"]["kp_detector_params"], **common)
        # on a machine with CUDA its constructors move the pyramid and VGG there: everything to ``device``
        generator_full = ref.GeneratorFullModel(kp_detector, generator, discriminator, train).to(device)
        discriminator_full = ref.DiscriminatorFullModel(kp_detector, generator, discriminator, train).to(device)
    adam = lambda module, lr: torch.optim.Adam(module.parameters(), lr=lr, betas=(0.5, 0.999))   # noqa: E731
    opt_g, opt_d = adam(generator, train["lr_generator"]), adam(discriminator, train["lr_discriminator"])
    opt_kp = adam(kp_detector, train["lr_kp_detector"])
    gan = train["loss_weights"]["generator_gan"] != 0
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)

    def step(batch: dict) -> dict:
        x = {"source": batch["source"].to(device), "driving": batch["driving"].to(device)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")     # its grid_sample / interpolate / sigmoid calls warn on every call
            losses, generated = generator_full(x)
            sum(v.mean() for v in losses.values()).backward()
            opt_g.step()
            opt_g.zero_grad()
            opt_kp.step()
            opt_kp.zero_grad()
            if gan:
                opt_d.zero_grad()
                losses_d = discriminator_full(x, generated)
                sum(v.mean() for v in losses_d.values()).backward()
                opt_d.step()
                opt_d.zero_grad()
                losses.update(losses_d)
        values = {k: v.mean().detach().cpu().numpy() for k, v in losses.items()}
        sync()
        return values

    return step, conf
