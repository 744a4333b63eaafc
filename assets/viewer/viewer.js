// vasa3d's in-browser viewer: loads a viewer file (?data=URL, written by vasa3d/avatar/web.py) and the speech
// (&audio=URL), renders the avatar's Gaussians with Spark (WebGL2, three.js), poses them per animation frame with
// pose.js, and takes the frame from the audio element's clock (currentTime * fps), so play, pause and scrubbing
// stay in step with the sound. Drag to turn the view, wheel to zoom. Exposes window.vasa3dViewer (state and
// measurements) for tests and the screenshot script.

import * as THREE from "three";
import { PackedSplats, SparkRenderer, SplatMesh, setPackedSplat } from "@sparkjsdev/spark";
import { AvatarPoser, parseViewerFile } from "./pose.js";

const BACKGROUND = 0x1f2227;
const DEG = Math.PI / 180;
const MAX_PITCH_DEG = 60;

const state = window.vasa3dViewer = {
  ready: false, error: null, frame: -1, numFrames: 0, numGaussians: 0, fps: 0, renders: 0, poseMs: 0, renderMs: 0,
  yawDeg: 0, pitchDeg: 0, zoom: 1, maxDriftFrames: 0, syncLog: [],
};

function fail(message) {
  state.error = message;
  document.getElementById("message").textContent = message;
  console.error(message);
}

/** viewmat [4x4 row-major] of the photo camera orbited about the head centre (vasa3d.render.cameras.orbit_viewmat). */
function orbitViewmat(T, yaw, pitch, zoom) {
  const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
  const Ryaw = [[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]];
  const Rpitch = [[1, 0, 0], [0, cp, sp], [0, -sp, cp]];
  const mul = (A, B) => A.map((row) => [0, 1, 2].map((j) => row[0] * B[0][j] + row[1] * B[1][j] + row[2] * B[2][j]));
  const R = mul(mul(Rpitch, Ryaw), T.slice(0, 3).map((r) => r.slice(0, 3)));
  return { R, t: [T[0][3] * zoom, T[1][3] * zoom, T[2][3] * zoom] };
}

/** Place the three.js camera (OpenGL axes) where the OpenCV viewmat (world -> camera) puts the camera. */
function placeCamera(camera, header) {
  const { R, t } = orbitViewmat(header.T_cam_from_head, state.yawDeg * DEG, state.pitchDeg * DEG, state.zoom);
  // camera to world: R^T, position -R^T t; OpenCV -> OpenGL camera axes: flip y and z
  const m = new THREE.Matrix4().set(
    R[0][0], -R[1][0], -R[2][0], 0,
    R[0][1], -R[1][1], -R[2][1], 0,
    R[0][2], -R[1][2], -R[2][2], 0,
    0, 0, 0, 1);
  camera.quaternion.setFromRotationMatrix(m);
  camera.position.set(
    -(R[0][0] * t[0] + R[1][0] * t[1] + R[2][0] * t[2]),
    -(R[0][1] * t[0] + R[1][1] * t[1] + R[2][1] * t[2]),
    -(R[0][2] * t[0] + R[1][2] * t[1] + R[2][2] * t[2]));
  camera.updateMatrixWorld(true);
}

function projection(camera, header, near, far) {
  const [[fx, , cx], [, fy, cy]] = header.K;
  const s = header.size;
  camera.near = near; camera.far = far;
  camera.fov = 2 * Math.atan(0.5 * s / fy) / DEG;
  camera.aspect = 1;
  camera.updateProjectionMatrix();
  // honour the photo crop's principal point and focal lengths exactly
  const p = camera.projectionMatrix.elements;            // column-major
  p[0] = 2 * fx / s; p[5] = 2 * fy / s; p[8] = 1 - 2 * cx / s; p[9] = 2 * cy / s - 1;
  camera.projectionMatrixInverse.copy(camera.projectionMatrix).invert();
}

/** Four Spark meshes: the Gaussians that turn with the head as one object (skin 1) and the rest (neck, torso),
 * each split into those that never change (skull, torso) and those re-posed every frame (face, jaw, eyes, neck),
 * so only the moving ones are encoded and uploaded again. Returns {meshes, packed, encode, moving: [group ids]}. */
function makeMeshes(poser, out) {
  const { skin, colors } = poser.a;
  const group = new Uint8Array(poser.N), local = new Int32Array(poser.N), counts = [0, 0, 0, 0];
  const isMoving = new Uint8Array(poser.N);
  for (const i of poser.moving) isMoving[i] = 1;
  for (let i = 0; i < poser.N; i++) {
    const g = (skin[i] >= 1 ? 0 : 2) + isMoving[i];
    group[i] = g; local[i] = counts[g]++;
  }
  const arrays = counts.map((n) => new Uint32Array(Math.max(n, 1) * 4));
  const encode = (i) => {
    const i3 = 3 * i, i4 = 4 * i, q = out.quatsWxyz;
    setPackedSplat(arrays[group[i]], local[i], out.means[i3], out.means[i3 + 1], out.means[i3 + 2],
                   out.scales[i3], out.scales[i3 + 1], out.scales[i3 + 2], q[i4 + 1], q[i4 + 2], q[i4 + 3], q[i4],
                   out.opacities[i], colors[i3], colors[i3 + 1], colors[i3 + 2]);
  };
  for (let i = 0; i < poser.N; i++) encode(i);
  const packed = arrays.map((packedArray, g) => new PackedSplats({ packedArray, numSplats: counts[g] }));
  const meshes = packed.map((packedSplats) => new SplatMesh({ packedSplats }));
  return { meshes, packed, encode, headGroups: [0, 1], movingGroups: [1, 3].filter((g) => counts[g] > 0) };
}

/** The URL of a data or audio parameter: served by Gradio, the page gets server paths and makes them URLs beside
 * its own ("<root>/gradio_api/file=<path>"); served any other way, it gets URLs. */
function resolveUrl(value) {
  if (!value) return null;
  const marker = "file=";
  const here = location.pathname.indexOf(marker);
  return here >= 0 ? location.pathname.slice(0, here + marker.length) + encodeURI(value) : value;
}

async function main() {
  const params = new URLSearchParams(location.search);
  const dataUrl = resolveUrl(params.get("data"));
  if (!dataUrl) return fail("No avatar to show yet: press Generate.");
  const canvas = document.getElementById("canvas");
  const renderer = new THREE.WebGLRenderer({ canvas, antialias: false, preserveDrawingBuffer: true });
  renderer.setClearColor(BACKGROUND);
  const scene = new THREE.Scene();
  const spark = new SparkRenderer({ renderer });
  scene.add(spark);
  const camera = new THREE.PerspectiveCamera(20, 1, 0.05, 20);

  const response = await fetch(dataUrl);
  if (!response.ok) return fail(`Could not load the avatar (${response.status}).`);
  const poser = new AvatarPoser(parseViewerFile(await response.arrayBuffer()));
  const header = poser.header;
  state.numFrames = poser.T; state.numGaussians = poser.N;
  const out = poser.makeOutput();
  poser.pose(0, out, { turnHead: false });
  const { meshes, packed, encode, headGroups, movingGroups } = makeMeshes(poser, out);
  for (const mesh of meshes) scene.add(mesh);

  const audio = document.getElementById("audio");
  const audioUrl = resolveUrl(params.get("audio"));
  if (audioUrl) audio.src = audioUrl; else audio.style.visibility = "hidden";
  const fps = header.fps;
  const clock = { start: performance.now() };
  const currentTime = () => audioUrl ? audio.currentTime
    : ((performance.now() - clock.start) / 1000) % Math.max(poser.T / fps, 1e-3);

  function showFrame(t) {
    const t0 = performance.now();
    poser.pose(t, out, { turnHead: false, indices: poser.moving });
    for (const i of poser.moving) encode(i);
    for (const g of movingGroups) { packed[g].needsUpdate = true; meshes[g].needsUpdate = true; }
    const { quaternionXyzw: q, position: p } = poser.headTransform(t);
    for (const g of headGroups) {
      meshes[g].quaternion.set(q[0], q[1], q[2], q[3]);
      meshes[g].position.set(p[0], p[1], p[2]);
      meshes[g].updateMatrixWorld(true);
    }
    state.poseMs = performance.now() - t0;
    state.frame = t;
  }

  function resize() {
    const w = canvas.clientWidth, h = canvas.clientHeight, side = Math.max(1, Math.min(w, h));
    renderer.setPixelRatio(window.devicePixelRatio || 1);
    renderer.setSize(w, h, false);
    // a square view of the photo crop, centred in the canvas
    renderer.setViewport((w - side) / 2, (h - side) / 2, side, side);
  }
  window.addEventListener("resize", resize);
  resize();
  projection(camera, header, 0.05, 20);

  // drag to orbit, wheel to zoom
  let drag = null;
  canvas.addEventListener("pointerdown", (e) => { drag = { x: e.clientX, y: e.clientY }; canvas.setPointerCapture(e.pointerId); });
  canvas.addEventListener("pointermove", (e) => {
    if (!drag) return;
    state.yawDeg = ((state.yawDeg - 0.4 * (e.clientX - drag.x) + 540) % 360) - 180;
    state.pitchDeg = Math.min(MAX_PITCH_DEG, Math.max(-MAX_PITCH_DEG, state.pitchDeg + 0.4 * (e.clientY - drag.y)));
    drag = { x: e.clientX, y: e.clientY };
  });
  canvas.addEventListener("pointerup", () => { drag = null; });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    state.zoom = Math.min(3, Math.max(0.4, state.zoom * Math.exp(0.001 * e.deltaY)));
  }, { passive: false });
  document.getElementById("reset").addEventListener("click", () => { state.yawDeg = 0; state.pitchDeg = 0; state.zoom = 1; });
  state.setView = (yawDeg, pitchDeg) => { state.yawDeg = yawDeg; state.pitchDeg = pitchDeg; };

  const info = document.getElementById("info");
  let windowStart = performance.now(), windowRenders = 0;
  renderer.setAnimationLoop(() => {
    const time = currentTime();
    const t = Math.min(poser.T - 1, Math.max(0, Math.floor(time * fps + 1e-6)));
    if (t !== state.frame) showFrame(t);
    if (!audio.paused && audioUrl) {
      const drift = Math.abs(state.frame - audio.currentTime * fps);
      if (audio.currentTime * fps < poser.T) state.maxDriftFrames = Math.max(state.maxDriftFrames, drift);
      if (state.syncLog.length < 2000) state.syncLog.push([audio.currentTime, state.frame]);
    }
    placeCamera(camera, header);
    const r0 = performance.now();
    renderer.render(scene, camera);
    state.renderMs = performance.now() - r0;
    state.renders += 1; windowRenders += 1;
    const now = performance.now();
    if (now - windowStart >= 1000) {
      state.fps = (1000 * windowRenders) / (now - windowStart);
      windowStart = now; windowRenders = 0;
      info.textContent = `${poser.N.toLocaleString()} Gaussians · frame ${state.frame + 1}/${poser.T}`;
    }
    if (!state.ready && state.renders >= 1) {
      state.ready = true;
      document.getElementById("message").textContent = "";
    }
  });
}

main().catch((e) => fail(`The 3D viewer failed: ${e && e.message ? e.message : e}`));
