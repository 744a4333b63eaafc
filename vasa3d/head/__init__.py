"""The head model: face mesh fitted to the photo, skull shell, eyes, jaw, neck; the ARKit-named expression rig."""

from vasa3d.head.model import HeadModel, build_head
from vasa3d.head.rig import ExpressionRig

__all__ = ["HeadModel", "ExpressionRig", "build_head"]
