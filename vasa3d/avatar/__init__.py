"""Gaussians bound to the head model, built from one photo; posing per frame; save/load; 3DGS .ply export."""

from vasa3d.avatar.avatar import Avatar, inpaint_background
from vasa3d.avatar.pose import FramePose, GaussianFrame

__all__ = ["Avatar", "FramePose", "GaussianFrame", "inpaint_background"]
