"""The configuration: composing it outside a Hydra main (``compose``) and checking a composed one
before anything runs (``check``)."""
