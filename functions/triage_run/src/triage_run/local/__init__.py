"""The offline analyzer: real image checks with Pillow, no model, no network.

Every photo is judged on its preview (the 400 px thumbnail, else the display image or a small
original), scaled to at most ``ANALYSIS_EDGE`` px and converted to grayscale, so the numbers
below do not depend on the camera's resolution. Videos are judged on ``VIDEO_FRAMES`` frames
sampled from the proxy with ffmpeg (or on the video's thumbnail when there is no proxy or no
ffmpeg); a video has an issue when at least half of its frames have it.

Checks and thresholds (levels are 0-255 luminance):

- **dark**: mean luminance < ``DARK_MEAN`` (45) *and* at least ``DARK_FRACTION`` (70 %) of the
  pixels below ``DARK_LEVEL`` (32): underexposed, not merely a dark subject on a bright scene.
- **overexposed**: mean >= ``BRIGHT_MEAN`` (210) *and* at least ``BRIGHT_FRACTION`` (55 %) of
  the pixels at or above ``BRIGHT_LEVEL`` (240): blown highlights over most of the frame.
- **no_subject**: luminance standard deviation < ``FLAT_STDDEV`` (6): a wall, a lens cap, a
  pocket shot (checked when the exposure is fine).
- **blurry**: sharpness < ``BLUR_THRESHOLD`` (40; ``VIDEO_BLUR_THRESHOLD`` 20 for video frames,
  where some motion blur is normal). Sharpness is the variance of a 3x3 Laplacian (edge
  energy) over the grayscale preview; a sharp photo scores in the hundreds, a photo blurred
  by ~1 % of its width scores below 20. Only checked on well exposed, non-uniform images.
- **duplicate** (near-duplicates within the job, e.g. burst shots): a 128-bit difference hash
  (dHash: 9x8 row and 8x9 column gradients); two files whose hashes differ in at most
  ``DUPLICATE_MAX_DISTANCE`` (16) bits are the same picture (re-encodes and 1 % shifts differ
  in < 10 bits, different scenes in ~50-70). Of a group, the best file is kept (no other
  issue first, then the sharpest); the others are discarded. Uniform images carry no hash.

A file whose preview cannot be read or decoded gets no verdict here: the core keeps it with
reason "not evaluated" (never discard what was not looked at).
"""

from __future__ import annotations

from triage_run.local.analyzer import LocalAnalyzer

__all__ = ["LocalAnalyzer"]
