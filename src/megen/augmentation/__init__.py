"""Generated clips as training data: a checkpoint animates target identities with every driving
clip of a prepared set, and the result is itself a prepared set (``dataset=generated``).

``python -m megen.augment`` is its command; from Python::

    from megen.animation import Animator
    from megen.augmentation import augment
    result = augment(Animator.from_checkpoint(ckpt), [prepared_folder], out, per_clip=2, holdout=["synthetic/s03"])
"""
from megen.augmentation.build import GENERATED_COLUMNS, AugmentResult, augment, choose_targets, resolve_targets
from megen.augmentation.leakage import LeakageError, check_rows, check_targets, resolve_subjects
from megen.augmentation.targets import Target, photo_targets, subject_target

__all__ = [
    "GENERATED_COLUMNS", "AugmentResult", "augment", "choose_targets", "resolve_targets", "LeakageError",
    "check_rows", "check_targets", "resolve_subjects", "Target", "photo_targets", "subject_target",
]
