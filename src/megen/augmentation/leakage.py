"""Which subjects a generated clip carries, and the refusal to let an evaluation fold's subject in.

A generated clip carries two identities besides its own row: the subject whose motion drives it
(``generated_from`` = ``dataset/subject/clip``) and the subject whose face it shows (``target`` =
``dataset/subject``; a photo's bare file name is no dataset subject). The rule is the one the
recogniser's LOSO folds apply (``megen.recognition.samples.identity_keys``), so a set that passes
here is also a set no fold can be leaked by.
"""
from __future__ import annotations

from megen.recognition.samples import identity_keys


class LeakageError(ValueError):
    """A generated clip would carry a subject of the evaluation fold (``holdout``)."""


def subject_keys(rows) -> set[str]:
    """``dataset/subject`` of every manifest row."""
    return {f"{r['dataset']}/{r['subject']}" for r in rows}


def resolve_subjects(names, known: set[str], setting: str) -> set[str]:
    """``dataset/subject`` keys for ``names``, each ``dataset/subject`` or a bare subject name
    (every dataset's subject of that name). A name that matches nothing is an error: a typo in a
    hold-out list would otherwise leak the fold silently."""
    out: set[str] = set()
    for name in names or ():
        text = str(name).strip().strip("/")
        matches = {text} & known if "/" in text else {k for k in known if k.split("/", 1)[1] == text}
        if not matches:
            shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
            raise ValueError(f"{setting}: no subject {text!r} in the driving data; known: {shown}")
        out |= matches
    return out


def check_targets(targets, holdout: set[str]) -> None:
    """Refuse target identities of the evaluation fold: a dataset subject in ``holdout``, or a photo
    whose file name is a held-out subject's name (the only hint a photo gives)."""
    held_names = {k.split("/", 1)[1].lower() for k in holdout}
    for t in targets:
        if t.identity is not None and t.identity in holdout:
            raise LeakageError(f"target {t.identity} is in holdout (the evaluation fold); its face must not "
                               f"enter training. Remove it from targets= or from holdout=")
        if t.identity is None and t.subject.lower() in held_names:
            raise LeakageError(f"target photo {t.source} is named like held-out subject {t.subject!r}; rename it "
                               f"if it is someone else, or leave it out")


def check_rows(rows, holdout: set[str]) -> None:
    """Last line of defence before a manifest is written: no row may carry a held-out subject."""
    for row in rows:
        leaked = identity_keys(row) & holdout
        if leaked:
            raise LeakageError(f"generated clip {row.get('file')} carries held-out subject(s) {sorted(leaked)} "
                               f"(generated_from={row.get('generated_from')}, target={row.get('target')})")
