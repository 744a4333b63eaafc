"""The browser viewer's data and posing: `vasa3d.avatar.web` writes what the viewer needs, and the viewer's
JavaScript posing (`assets/viewer/pose.js`, run here by node) places every Gaussian where `vasa3d.avatar.pose`
does. Skipped without node."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

POSE_JS = Path(__file__).resolve().parents[1] / "assets" / "viewer" / "pose.js"

NODE_SCRIPT = """
import { readFileSync, writeFileSync } from "node:fs";
import { parseViewerFile, AvatarPoser } from "%s";
const raw = readFileSync(process.argv[2]);
const buffer = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength);
const poser = new AvatarPoser(parseViewerFile(buffer));
const t = Number(process.argv[3]);
const out = poser.pose(t, poser.makeOutput());
const split = poser.pose(t, poser.makeOutput(), { turnHead: false });
const parts = [out.means, out.quatsWxyz, out.scales, out.opacities, split.means];
writeFileSync(process.argv[4], Buffer.concat(parts.map((a) => Buffer.from(a.buffer))));
writeFileSync(process.argv[4] + ".json", JSON.stringify(poser.headTransform(t)));
"""


def _motion(names: tuple[str, ...], num_frames: int = 4):
    from vasa3d.motion.sequence import MotionSequence

    rng = np.random.default_rng(0)
    return MotionSequence(
        fps=25.0, names=names, coeffs=rng.uniform(0.0, 1.0, (num_frames, len(names))).astype(np.float32),
        head_rotation=rng.normal(0.0, 0.15, (num_frames, 3)).astype(np.float32),
        head_translation=rng.normal(0.0, 0.01, (num_frames, 3)).astype(np.float32),
        gaze=rng.normal(0.0, 0.1, (num_frames, 2)).astype(np.float32))


def test_viewer_file_round_trips(obama_avatar, tmp_path):
    from vasa3d.avatar.web import read_viewer_file, write_viewer_file

    motion = _motion(("jawOpen", "eyeBlinkLeft", "mouthSmileLeft"), num_frames=3)
    path = write_viewer_file(tmp_path / "a.vasa3d", obama_avatar, motion)
    header, arrays = read_viewer_file(path)
    n, v = obama_avatar.num_gaussians, obama_avatar.head.face_rest.shape[0]
    assert header["num_gaussians"] == n and header["num_frames"] == 3 and header["fps"] == 25.0
    assert arrays["verts"].shape == (3, v, 3) and arrays["part_R"].shape == (3, 4, 3, 3)
    np.testing.assert_array_equal(arrays["binding"], obama_avatar.params.binding)
    np.testing.assert_array_equal(arrays["local_pos"], obama_avatar.params.local_pos)
    # what travels per frame is small against a dump of the posed Gaussians (14 floats each)
    per_frame = sum(arrays[k][0].nbytes for k in ("verts", "part_R", "part_target", "head_rotvec",
                                                  "head_translation", "fades"))
    assert per_frame * 50 < n * 14 * 4
    with pytest.raises(ValueError, match="not a vasa3d viewer file"):
        (tmp_path / "bad").write_bytes(b"nonsense" * 4)
        read_viewer_file(tmp_path / "bad")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the viewer's JavaScript")
def test_javascript_posing_matches_python(obama_avatar, tmp_path):
    from vasa3d.avatar import FramePose
    from vasa3d.avatar.web import write_viewer_file

    names = ("jawOpen", "mouthClose", "eyeBlinkLeft", "eyeBlinkRight", "mouthSmileLeft", "mouthFunnel",
             "browInnerUp", "eyeLookInLeft", "jawLeft")
    motion = _motion(names)
    path = write_viewer_file(tmp_path / "a.vasa3d", obama_avatar, motion)
    script = tmp_path / "pose_check.mjs"
    script.write_text(NODE_SCRIPT % POSE_JS.as_uri())
    n = obama_avatar.num_gaussians
    for t in (0, 3):
        out = tmp_path / f"posed{t}.bin"
        subprocess.run(["node", str(script), str(path), str(t), str(out)], check=True, timeout=60)
        flat = np.frombuffer(out.read_bytes(), np.float32)
        means, quats, scales, opac, split_means = np.split(flat, np.cumsum([3 * n, 4 * n, 3 * n, n]))
        ref = obama_avatar.pose(FramePose(names=names, coeffs=motion.coeffs[t], head_rotation=motion.head_rotation[t],
                                          head_translation=motion.head_translation[t], gaze=motion.gaze[t]))
        np.testing.assert_allclose(means.reshape(n, 3), ref.means, atol=2e-5)
        np.testing.assert_allclose(scales.reshape(n, 3), ref.scales, rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(opac, ref.opacities, atol=1e-6)
        q = quats.reshape(n, 4)
        dots = np.abs((q * ref.quats).sum(1) / np.linalg.norm(ref.quats, axis=1) / np.linalg.norm(q, axis=1))
        assert dots.min() > 1 - 1e-5                         # the same rotation (q and -q alike)
        # turned as one object: the head's Gaussians moved by the head transform land where the full pose puts them
        head = json.loads((tmp_path / f"posed{t}.bin.json").read_text())
        x, y, z, w = head["quaternionXyzw"]
        R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                      [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                      [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])
        on_head = obama_avatar.params.skin >= 1
        turned = split_means.reshape(n, 3)[on_head] @ R.T + np.asarray(head["position"])
        np.testing.assert_allclose(turned, ref.means[on_head], atol=2e-5)
