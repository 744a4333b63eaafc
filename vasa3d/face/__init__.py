"""Face analysis of a portrait: detection, crop, 478 landmarks, person mask, camera and head pose (MediaPipe)."""

from vasa3d.face.analysis import NUM_FACE_VERTICES, NUM_LANDMARKS, FaceObservation, analyze_face

__all__ = ["FaceObservation", "analyze_face", "NUM_LANDMARKS", "NUM_FACE_VERTICES"]
