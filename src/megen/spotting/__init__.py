"""Spotting data: micro-expressions inserted into long videos of a target person, with ground-truth intervals.

* insertion: the driver's expression (head removed) carried onto each frame's face and added on top;
* video_target: ``python -m megen.generate target=<video> driving=<clip> at=<time>`` end to end;
* annotations: the intervals in the CAS(ME)² and SAMM Long Videos layouts, and their reader;
* scoring: the MEGC spotting F1 (IoU >= 0.5).
"""
