"""Video mode: tracking recovers known motion, fitting lowers the photometric error, reenactment keeps the driving
video's geometry, `talk` takes a saved avatar, and the commands refuse bad input before any work."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import GRID_EXCERPT, data

from vasa3d.avatar.view import FrameRenderer
from vasa3d.cli import main
from vasa3d.errors import InputError


def _synthetic_video(avatar, jaw, blink, yaw_rot):
    """uint8 frames [T, S, S, 3] of `avatar` with known jawOpen, eyeBlinkLeft and head rotation about y."""
    from vasa3d.avatar.pose import FramePose

    renderer = FrameRenderer(avatar, avatar.size)
    frames = []
    for j, b, r in zip(jaw, blink, yaw_rot):
        pose = FramePose(names=("jawOpen", "eyeBlinkLeft"), coeffs=np.float32([j, b]),
                         head_rotation=np.float32([0.0, r, 0.0]), head_translation=np.zeros(3, np.float32),
                         gaze=np.zeros(2, np.float32))
        frames.append(renderer.render(pose))
    return np.stack(frames)


@pytest.mark.slow
def test_tracking_recovers_known_motion(obama_avatar):
    from vasa3d.face.track import track_frames

    jaw = np.float32([0.0, 0.0, 0.2, 0.45, 0.7, 0.9, 0.7, 0.4, 0.1, 0.0, 0.0, 0.0])
    blink = np.float32([0, 0, 0, 0, 0, 0, 0, 0.5, 1.0, 1.0, 1.0, 0.5])     # a blink lasts a few frames
    yaw = np.float32([0.0, 0.05, 0.1, 0.15, 0.1, 0.0, -0.05, -0.1, -0.15, -0.1, 0.0, 0.0])
    frames = _synthetic_video(obama_avatar, jaw, blink, yaw)
    track, _, _ = track_frames(frames, 25.0, video=True, reference=0)
    m = track.motion
    assert track.found.all() and np.nanmedian(track.residual_px) < 3.0
    jaw_t = m.coeffs[:, m.names.index("jawOpen")]
    assert np.corrcoef(jaw, jaw_t)[0, 1] > 0.9, jaw_t.round(2)
    # MediaPipe reads these renders' largest turn (8.6 degrees) short by 2.5 degrees with a skull-deep head volume
    # and 3.4 with the ovoid one of issue 12 (the hair silhouette it sees moves), not the tracker's solve: 3.5 allows
    # that and still fails a tracker that loses the turn
    assert np.abs(m.head_rotation[:, 1] - yaw).max() < np.radians(3.5), np.degrees(m.head_rotation[:, 1]).round(1)
    blink_t = m.coeffs[:, m.names.index("eyeBlinkLeft")]
    # MediaPipe puts a closed lid's landmarks halfway and smooths them in video mode, the rig's lids meet lower: a
    # full blink reads as 0.2-0.45 (a known limit of the tracker, see the closing note of issue 13)
    assert blink_t[7:12].max() > 0.2 and blink_t[:6].max() < 0.1, blink_t.round(2)


@pytest.mark.slow
def test_fitting_lowers_the_photometric_error_on_the_frames():
    import torch

    from vasa3d.avatar import Avatar
    from vasa3d.avatar.fit import _motion_tensors, _renderer, fit_avatar
    from vasa3d.avatar.pose import AvatarTensors, follow_body, pose_tensors
    from vasa3d.config import FitConfig
    from vasa3d.face.track import crop_frames, track_frames
    from vasa3d.video_mode import read_clip

    clip = read_clip(data(GRID_EXCERPT), 0.0, 1.0)
    track, obs, _ = track_frames(clip.frames, clip.fps, video=True)
    size = 96
    crops = (crop_frames(clip.frames, track.crop_box, size) * 255 + 0.5).astype(np.uint8)
    avatar = Avatar.from_observation(obs)

    def psnr(av) -> float:
        t, render = AvatarTensors.from_avatar(av), _renderer(av, size, "auto")
        full, rot, trans = _motion_tensors(t, track.motion)
        with torch.no_grad():
            posed = [follow_body(pose_tensors(t, full[i], rot[i], trans[i], torch.zeros(2)), t.params.skin, trans[i])
                     for i in range(len(crops))]
            err = [float(((render(g) - torch.from_numpy(c).float() / 255) ** 2).mean()) for g, c in zip(posed, crops)]
        return 10 * np.log10(1 / np.mean(err))

    result = fit_avatar(avatar, crops, track.motion, FitConfig(steps=40, seed=1))
    before, after = psnr(avatar), psnr(result.avatar)
    assert after > before + 0.3, (before, after)
    assert result.avatar.num_gaussians == avatar.num_gaussians
    np.testing.assert_array_equal(result.avatar.params.binding, avatar.params.binding)
    assert result.avatar.params.colors.min() >= 0 and result.avatar.params.colors.max() <= 1


def test_the_fit_compares_at_the_frames_own_resolution():
    """FitConfig.side_for: the face crop's side in the source, within [256, 512] px; an explicit render_size wins."""
    from vasa3d.config import FitConfig

    auto = FitConfig()
    assert auto.render_size is None
    assert auto.side_for(286.4) == 286 and auto.side_for(90.0) == 256 and auto.side_for(1500.0) == 512
    assert FitConfig(render_size=200).side_for(1500.0) == 200


@pytest.mark.slow
def test_reenactment_keeps_the_driving_videos_geometry_and_sound(tmp_path, obama_avatar):
    from vasa3d.io.media import probe_media
    from vasa3d.video_mode import reenact

    out = tmp_path / "re.mp4"
    figures = reenact(obama_avatar, data(GRID_EXCERPT), out, start_s=0.4, end_s=1.0)
    same = reenact(obama_avatar, data(GRID_EXCERPT), tmp_path / "same.mp4", start_s=0.4, end_s=0.6, same_person=True)
    assert same["frames"] == 5
    (tmp_path / "same.mp4").unlink()
    info, driving = probe_media(out), probe_media(data(GRID_EXCERPT))
    assert (info.video.width, info.video.height) == (driving.video.width, driving.video.height)
    assert info.video.fps == driving.video.fps and info.video.n_frames == figures["frames"] == 15
    assert info.audio is not None and abs(info.audio.duration_s - 0.6) < 0.05
    assert sorted(p.name for p in tmp_path.iterdir()) == ["re.mp4"]


def test_paste_blends_the_crop_into_the_frame_without_a_seam():
    from vasa3d.video_mode import _paste

    frame = np.full((60, 80, 3), 100, np.uint8)
    crop = np.full((40, 40, 3), 100 / 255, np.float32)
    crop[15:25, 15:25] = 1.0
    out = _paste(frame, crop, (50.0, -10.0, 40.0))               # past the right and top edges
    assert out.shape == frame.shape
    assert np.abs(out.astype(int) - 100).max() > 100               # the bright square is drawn (around x 65-75)
    assert np.abs(out[:, :50].astype(int) - 100).max() <= 1         # nothing left of the crop changes


def test_reenactment_renders_on_the_frame_pixel_grid():
    from vasa3d.video_mode import FEATHER, _frame_window, _paste, aligned_box

    assert aligned_box((10.3, 4.9, 20.0)) == (10, 4, 21) and aligned_box((-2.0, 3.0, 8.0)) == (-2, 3, 8)
    frame = np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3)
    win = _frame_window(frame, -1, 4, 3)                           # past the left and bottom edges: edge pixels
    assert win.shape == (3, 3, 3) and (win[0, 0] == frame[4, 0]).all() and (win[2, 2] == frame[5, 1]).all()
    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (80, 90, 3), dtype=np.uint8)
    crop = rng.integers(0, 256, (40, 40, 3)).astype(np.float32) / 255.0
    out = _paste(big, crop, (30.0, 20.0, 40.0))                     # whole-pixel box, same size: no resampling
    inner = int(np.ceil(FEATHER * 40))
    core = slice(inner, 40 - inner)
    assert np.array_equal(out[20:60, 30:70][core, core], (crop[core, core] * 255 + 0.5).astype(np.uint8))


def test_talk_accepts_a_saved_avatar(tmp_path, obama_avatar):
    from vasa3d.io.audio import write_wav
    from vasa3d.io.media import probe_media
    from vasa3d.pipeline import TalkingHeadPipeline, TalkRequest

    avatar_file = obama_avatar.save(tmp_path / "me.npz")
    wav = tmp_path / "s.wav"
    t = np.arange(8000) / 16000.0
    write_wav(wav, (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)).astype(np.float32), 16000)
    result = TalkingHeadPipeline().run(TalkRequest(image=avatar_file, audio=wav, output=tmp_path / "o.mp4", size=96))
    assert result.num_gaussians == obama_avatar.num_gaussians
    assert probe_media(result.video).video.width == 96


@pytest.mark.parametrize("args, message", [
    (["fit", "VIDEO", "-o", "OUT/x.mp4"], ".npz"),
    (["fit", "VIDEO", "PHOTO", "-o", "OUT/x.npz"], "not both"),
    (["fit", "VIDEO", "-o", "OUT/x.npz", "--steps", "0"], "steps"),
    (["fit", "VIDEO", "-o", "OUT/x.npz", "--start", "2", "--end", "1"], "--end"),
    (["fit", "OUT/missing.mp4", "-o", "OUT/x.npz"], "does not exist"),
    (["reenact", "OUT/missing.npz", "VIDEO", "-o", "OUT/r.mp4"], "does not exist"),
    (["reenact", "PHOTO", "VIDEO", "-o", "VIDEO"], "input"),
])
def test_video_mode_commands_refuse_bad_input_before_work(tmp_path, capsys, args, message):
    subs = {"VIDEO": str(data(GRID_EXCERPT)), "PHOTO": str(data("portraits/p02_obama_official.jpg"))}
    argv = [subs.get(a, a.replace("OUT", str(tmp_path))) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ") and message in err[-1], err
    assert list(tmp_path.iterdir()) == []


def test_photos_of_different_people_are_refused():
    from vasa3d.config import FitConfig
    from vasa3d.video_mode import fit_from_photos

    with pytest.raises(InputError, match="different person"):
        fit_from_photos([data("portraits/p02_obama_official.jpg"), data("portraits/p04_einstein_bw.jpg")],
                        FitConfig(steps=1))
    with pytest.raises(InputError, match="1 to 8"):
        fit_from_photos([], FitConfig(steps=1))


@pytest.mark.slow
def test_a_driving_video_gives_its_head_turn_to_the_talking_head(tmp_path, obama_avatar):
    """--head-pose VIDEO: the tracked rotation of a face video (here a render with a known turn) drives the head."""
    from vasa3d.io import write_video
    from vasa3d.motion import MotionSequence
    from vasa3d.video_mode import head_pose_track

    yaw = np.float32([0.0, 0.0, 0.04, 0.08, 0.12, 0.16, 0.12, 0.08, 0.04, 0.0])
    frames = _synthetic_video(obama_avatar, np.zeros(10), np.zeros(10), yaw)
    write_video(tmp_path / "driver.mp4", frames, 25.0)
    pose = head_pose_track(tmp_path / "driver.mp4")
    speech = MotionSequence.rest(10, 25.0)
    driven = speech.with_head_pose(pose)
    assert np.abs(driven.head_rotation[:, 1] - yaw).max() < np.radians(3.0), np.degrees(driven.head_rotation[:, 1])
    with pytest.raises(InputError, match="could not be read"):
        (tmp_path / "x.csv").write_text("no,columns\n")
        head_pose_track(tmp_path / "x.csv")
