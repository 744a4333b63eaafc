"""`python -m eval fit-check` (eval/fit_check.py): its frame choice for the 3-photo avatar and its held-out scores,
on the 3 s GRID excerpt (the full protocol fits avatars for minutes; it is run by hand, see the README)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import GRID_EXCERPT, data


@pytest.fixture(scope="module")
def grid():
    from vasa3d.io import iter_video_frames

    from eval.tracking import track_video

    frames = np.stack(list(itertools.islice(iter_video_frames(data(GRID_EXCERPT)), 75)))
    return frames, track_video(frames, 25.0)


def test_pick_photos_orders_closed_half_and_wide(grid):
    from eval.fit_check import pick_photos
    from eval.metrics.mouth import mouth_open

    frames, track = grid
    picks = pick_photos(frames, 25.0)
    assert len(picks) == 3 and len(set(picks)) == 3 and all(0 <= i < len(frames) and i % 5 == 0 for i in picks)
    gap = mouth_open(track)[picks]
    assert gap[0] < gap[1] < gap[2] and gap[2] > 2 * gap[0]


def test_scores_of_the_real_video_itself_and_of_a_held_frame(grid):
    from eval.fit_check import score_reenact, table

    frames, track = grid
    scored = np.ones(len(frames), bool)
    scored[::25] = False                                    # each hold span's first frame is left out
    same = score_reenact(frames, frames, track, track, scored, 64)
    assert same["psnr_face"] == math.inf and same["ssim_face"] == pytest.approx(1.0)
    assert same["lmd"] == pytest.approx(0.0, abs=1e-9) and same["gap_corr"] == pytest.approx(1.0)
    assert same["frames"] == int(scored[track.found].sum())
    from eval.tracking import track_video

    held = np.stack([frames[(i // 25) * 25] for i in range(len(frames))])
    still = score_reenact(frames, held, track, track_video(held, 25.0), scored, 64)
    assert 15 < still["psnr_face"] < 45 and still["psnr_mouth"] < still["psnr_face"] + 5
    assert still["lmd"] > 0.5 and 0.0 < still["ssim_face"] < 1.0
    text = table({"same": same, "static": still})
    assert text.splitlines()[0].startswith("| row | psnr_face") and "| static |" in text


def test_fit_check_refuses_bad_input_in_one_line(tmp_path):
    from eval.__main__ import main

    not_video = tmp_path / "notes.mp4"
    not_video.write_text("not a video")
    with pytest.raises(SystemExit, match="error: could not open media file"):
        main(["fit-check", "--video", str(not_video), "--cache", str(tmp_path / "c"),
              "--out", str(tmp_path / "o.json")])
    with pytest.raises(SystemExit, match="need --start < --split < --end"):
        main(["fit-check", "--video", str(not_video), "--split", "70"])
    assert not (tmp_path / "o.json").exists()
