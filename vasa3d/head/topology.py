"""MediaPipe face-mesh topology: triangles, lip and eye contours, brows (vertex indices into the 468 points).

Source: MediaPipe Face Mesh (Kartynnik et al. 2019); `FACEMESH_TESSELATION` is an edge set, whose 3-cliques are
the 852 triangles plus two spurious ones (triangles all of whose edges are shared by three cliques) that we drop.
MediaPipe's "LEFT" is the subject's left (the image's right, +x in the head frame), as is ARKit's "Left".
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

NUM_FACE_TRIANGLES = 852

# Lip contours, ordered from the subject's right corner (61/78, image left) to the left corner (291/308).
LIP_UPPER_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_LOWER_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIP_UPPER_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_LOWER_INNER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)
MOUTH_CORNERS = (61, 291, 78, 308)
MOUTH_CORNERS_INNER = (78, 308)      # the inner lip contours' ends (subject's right, left)
UPPER_LIP_INNER_MID = 13             # the middle of the upper inner lip
LOWER_LIP_INNER_MID = 14             # ... of the lower inner lip
# Eye contours (upper lid, lower lid), from the outer/inner corner to the other corner.
EYE_RIGHT_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
EYE_RIGHT_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
EYE_LEFT_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
EYE_LEFT_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
# Brows: inner to outer.
BROW_RIGHT = (55, 65, 52, 53, 46, 107, 66, 105, 63, 70)
BROW_LEFT = (285, 295, 282, 283, 276, 336, 296, 334, 293, 300)
BROW_INNER = (55, 107, 285, 336, 65, 295)
CHIN = 152
FOREHEAD = 10
NOSE_TIP = 1


@dataclass(frozen=True)
class FaceTopology:
    """Triangles [852, 3] int32 (unoriented) and the boundary loops of the mouth and eyes."""

    triangles: np.ndarray


@lru_cache(maxsize=1)
def face_triangles() -> np.ndarray:
    """int32 [852, 3]: the face-mesh triangles (vertex indices; winding not yet oriented)."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    adj: dict[int, set[int]] = defaultdict(set)
    for a, b in FACEMESH_TESSELATION:
        adj[a].add(b)
        adj[b].add(a)
    cliques = set()
    for a, b in FACEMESH_TESSELATION:
        for c in adj[a] & adj[b]:
            cliques.add(tuple(sorted((a, b, c))))
    edge_count: Counter = Counter()
    for t in cliques:
        for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])):
            edge_count[e] += 1
    tris = [t for t in sorted(cliques)
            if not all(edge_count[e] == 3 for e in ((t[0], t[1]), (t[1], t[2]), (t[0], t[2])))]
    out = np.asarray(tris, dtype=np.int32)
    if out.shape != (NUM_FACE_TRIANGLES, 3):
        raise RuntimeError(f"unexpected face-mesh tessellation: {out.shape[0]} triangles")
    return out


def orient_outward(triangles: np.ndarray, vertices: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Flip triangles so their normals (right-hand rule) point away from `centre`.

    Args:
        triangles: int [F, 3]; vertices: float [V, 3]; centre: float [3], a point inside the head.
    Returns:
        int32 [F, 3], consistently wound.
    """
    tri = triangles.astype(np.int32).copy()
    v0, v1, v2 = vertices[tri[:, 0]], vertices[tri[:, 1]], vertices[tri[:, 2]]
    n = np.cross(v1 - v0, v2 - v0)
    inward = np.einsum("ij,ij->i", n, (v0 + v1 + v2) / 3.0 - centre) < 0
    tri[inward] = tri[inward][:, [0, 2, 1]]
    return tri


def vertex_adjacency(triangles: np.ndarray, num_vertices: int):
    """scipy.sparse CSR [V, V] 0/1 adjacency of the mesh graph."""
    import scipy.sparse as sp

    e = np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    A = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(num_vertices, num_vertices)).tocsr()
    A.data[:] = 1.0
    return A
