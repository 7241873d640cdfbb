import cv2
import numpy as np
import pytest

from megen.face import FaceNotFoundError, detect_landmarks, to_gray_uint8
from megen.face.landmarks import model_path
from megen.synthetic import embedded_photo_paths


@pytest.fixture(scope="module")
def photos():
    out = []
    for p in embedded_photo_paths():
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        out.append(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
    return out


def test_model_files_are_found():
    assert model_path("shape68").stat().st_size > 50_000_000
    with pytest.raises(KeyError, match="valid"):
        model_path("nope")


def test_landmarks_on_embedded_photos(photos):
    for img in photos:
        lm = detect_landmarks(img)
        assert lm.shape == (68, 2)
        h, w = img.shape[:2]
        assert (lm[:, 0] > 0).all() and (lm[:, 0] < w).all() and (lm[:, 1] > 0).all() and (lm[:, 1] < h).all()
        # anatomy: brows above eyes above nose tip above mouth above chin; right eye on the image left
        assert lm[19, 1] < lm[37, 1] < lm[30, 1] < lm[51, 1] < lm[8, 1]
        assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]


def test_input_formats_agree(photos):
    rgb = photos[0]
    ref = detect_landmarks(rgb)
    gray = to_gray_uint8(rgb)
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    u16 = gray.astype(np.uint16) * 257
    floats = gray.astype(np.float32) / 255.0
    for variant in (gray, gray[..., None], rgba, u16, floats):
        np.testing.assert_allclose(detect_landmarks(variant), ref, atol=2.0)


def test_no_face_raises_with_source_name():
    blank = np.full((200, 200), 127, np.uint8)
    with pytest.raises(FaceNotFoundError, match="blank.png"):
        detect_landmarks(blank, source="blank.png")


def test_to_gray_rejects_bad_shapes():
    with pytest.raises(ValueError, match="channels"):
        to_gray_uint8(np.zeros((4, 4, 5), np.uint8))
