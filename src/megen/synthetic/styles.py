"""Synthetic *styles* of the three micro-expression datasets (``dataset.style=casme2|samm|smic``): the set rendered
with one dataset's frame rate, emotion frequencies and camera, so that the paper's training-set comparison can be
run without the licensed data (``experiment=sweep_mix``).

What a style sets, and where each value comes from:

* ``fps``: the capture rate (REFERENCE §5: CASME II and SAMM 200, SMIC-HS 100);
* ``emotions``: the class frequencies, drawn with the synthetic set's emotion names (its AU table is CASME II's):
  CASME II's own counts of one release (REFERENCE §5); SAMM's MEGC 2019 composite counts, 92 negative / 26
  positive / 15 surprise (``megen.data.emotions``), and its 26 "other" clips (159 in all, REFERENCE §5);
  SMIC-HS's 70 negative / 51 positive / 43 surprise (REFERENCE §5). A negative class is drawn as CASME II's
  negative emotions in CASME II's proportions (SAMM's anger and contempt have no AU templates here), positive as
  happiness;
* ``nuisance.noise``, ``nuisance.flicker``, ``nuisance.head_px``: measured on the shared development clip of the
  dataset (one clip each; docs/data.md, "Nuisances": 0.8 / 2.8 / 1.4 gray levels, 0.04 / 0.05 / 0.06 %
  flicker, 1.3 / 2.1 / 1.2 px RMS head motion at 256 px for CASME II / SAMM / SMIC-HS).

Not modelled: colour (the synthetic faces are gray, as the models' inputs are; CASME II and SMIC-HS record
colour, SAMM gray), the face's resolution (CASME II's face is about 280 x 340 px; at the 64-128 px training
frames every source is reduced), and each dataset's own identities.
"""
from __future__ import annotations

_CASME2_NEGATIVE = {"disgust": 63, "repression": 27, "sadness": 8, "fear": 2}


def _negative(count: int) -> dict[str, float]:
    """``count`` negative clips as CASME II's negative emotions, in CASME II's proportions."""
    total = sum(_CASME2_NEGATIVE.values())
    return {k: round(count * v / total, 3) for k, v in _CASME2_NEGATIVE.items()}


STYLES: dict[str, dict] = {
    "casme2": {
        "fps": 200.0,
        "emotions": {"others": 99, "disgust": 63, "happiness": 33, "repression": 27, "surprise": 25, "sadness": 8,
                     "fear": 2},
        "nuisance": {"noise": 0.8, "flicker": 0.0004, "head_px": 1.3},
    },
    "samm": {
        "fps": 200.0,
        "emotions": {**_negative(92), "happiness": 26, "surprise": 15, "others": 26},
        "nuisance": {"noise": 2.8, "flicker": 0.0005, "head_px": 2.1},
    },
    "smic": {
        "fps": 100.0,
        "emotions": {**_negative(70), "happiness": 51, "surprise": 43},
        "nuisance": {"noise": 1.4, "flicker": 0.0006, "head_px": 1.2},
    },
}


#: a style's seed is the set's seed plus this times (1 + its index in STYLES)
STYLE_SEED_STEP = 1000


def styled(cfg: dict) -> dict:
    """A synthetic dataset config (plain dict) with its ``style`` applied: the style's fps, emotions and nuisance
    levels replace the config's (its other nuisance settings are kept), and its seed is offset
    (``STYLE_SEED_STEP``) so each style has faces of its own. No style (None): the config as it is."""
    style = cfg.get("style")
    if style in (None, ""):
        return cfg
    if style not in STYLES:
        raise ValueError(f"dataset.style={style}: expected one of {', '.join(STYLES)} (or null)")
    values = STYLES[style]
    # each style draws its own identities and expressions: a mix of styles shares no face across its sources
    seed = int(cfg.get("seed") or 0) + STYLE_SEED_STEP * (1 + list(STYLES).index(style))
    out = {**cfg, "seed": seed, "fps": values["fps"], "emotions": dict(values["emotions"])}
    out["nuisance"] = {**dict(cfg.get("nuisance") or {}), **values["nuisance"]}
    return out


__all__ = ["STYLES", "STYLE_SEED_STEP", "styled"]
