"""Reading and writing still images: any common format or array -> float32 RGB [H, W, 3] in [0, 1].

Pillow does the decoding. EXIF orientation is applied, grey becomes three equal channels, transparency is
composited over white, and 16-bit images keep their full range (65535 -> 1.0).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Union

import numpy as np

from vasa3d.errors import InputError
from vasa3d.io.atomic import atomic_path

if TYPE_CHECKING:
    from PIL import Image

MIN_IMAGE_SIDE_PX = 32
MAX_IMAGE_PIXELS = 50_000_000
FLOAT_RANGE_TOLERANCE = 1e-3  # float arrays may stray this far outside [0, 1] (rounding) and are clipped
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")

ImageSource = Union[str, os.PathLike, np.ndarray, "Image.Image"]


def read_image(source: ImageSource) -> np.ndarray:
    """Read an image as float32 RGB, shape [H, W, 3], values in [0, 1].

    Args:
        source: a path (JPEG, PNG, WebP, BMP, TIFF, GIF: anything Pillow reads), a `PIL.Image.Image`, or an array
            [H, W], [H, W, 1], [H, W, 3] or [H, W, 4] of dtype uint8 (0..255), uint16 (0..65535), bool, another
            integer type with values in 0..255, or float with values in [0, 1].
            Files and PIL images: EXIF orientation is applied (`ImageOps.exif_transpose`); palette, grey and CMYK images are
            converted to RGB; 16-bit grey (modes I;16*, and mode I with values <= 65535) is divided by 65535.
            Alpha (RGBA, LA, PA, palette with a transparent colour; an array's 4th channel) is composited over
            white.
    Returns:
        float32 array [H, W, 3] in [0, 1], C-contiguous, newly allocated.
    Raises:
        InputError: missing file, a directory, a file that is not an image or is truncated/corrupt, an image
            with a side under 32 px or over 50 megapixels, an array of unsupported shape/dtype/range or with NaN.
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        rgb = _array_to_rgb(source)
    elif isinstance(source, Image.Image):
        from PIL import ImageOps

        _check_size(source.width, source.height, "image")
        rgb = _pil_to_rgb(ImageOps.exif_transpose(source))
    elif isinstance(source, (str, os.PathLike)):
        rgb = _read_image_file(Path(source))
    else:
        raise InputError(f"cannot read an image from a {type(source).__name__}; give a file path, "
                         "a numpy array [H, W, 3] or a PIL image")
    return np.ascontiguousarray(rgb, dtype=np.float32)


def read_image_u8(source: ImageSource) -> np.ndarray:
    """Like `read_image`, but returns uint8 RGB [H, W, 3] (round(value * 255)). Raises what `read_image` raises."""
    rgb = read_image(source)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def write_image(path: str | os.PathLike, rgb: np.ndarray, *, quality: int = 95) -> Path:
    """Write an RGB image atomically; the format follows the suffix (.png, .jpg, .webp, .bmp, .tif).

    Args:
        path: target file; its directory must exist.
        rgb: [H, W, 3] (or [H, W] grey) uint8 0..255 or float in [0, 1] (clipped, rounded to 8 bits).
        quality: JPEG/WebP quality 1..100 (ignored by lossless formats).
    Returns:
        the target path.
    Raises:
        ValueError: unsupported array shape or an unknown suffix.
    """
    from PIL import Image

    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"cannot tell the image format of '{path}': use a .png, .jpg, .webp, .bmp or .tif name")
    arr = np.asarray(rgb)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] != 3):
        raise ValueError(f"write_image expects [H, W, 3] or [H, W], got shape {arr.shape}")
    if arr.dtype != np.uint8:
        arr = np.clip(np.rint(np.asarray(arr, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)
    image = Image.fromarray(arr, mode="RGB" if arr.ndim == 3 else "L")
    options = {"quality": int(quality)} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **options)
    return path


def probe_image(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) in pixels of an image file, read from its header only (no pixel data is decoded).

    Cheap enough to run on every upload before anything else. Raises InputError for what `read_image` would
    refuse from the header alone: a missing file, a directory, a file that is not an image, an image with a
    side under 32 px or over 50 megapixels. A file damaged after its header passes; `read_image` finds that.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    _check_file(path)
    try:
        with Image.open(path) as image:
            size = image.width, image.height
    except UnidentifiedImageError as err:
        raise InputError(f"could not read image '{path}': not a JPEG/PNG/WebP/BMP/TIFF image") from err
    except Image.DecompressionBombError as err:
        raise InputError(f"could not read image '{path}': too large ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:  # a header Pillow recognises but cannot parse
        raise InputError(f"could not read image '{path}': the file is damaged ({err}); "
                         "re-export it as PNG or JPEG") from err
    _check_size(*size, f"image '{path}'")
    return size


def _check_file(path: Path) -> None:
    if not path.exists():
        raise InputError(f"image file '{path}' does not exist; check the path")
    if path.is_dir():
        raise InputError(f"'{path}' is a directory, not an image file")
    if path.stat().st_size == 0:
        raise InputError(f"image file '{path}' is empty (0 bytes); give a real photo")


def _check_size(width: int, height: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise InputError(f"{what} is empty ({width}x{height} px); give a real photo")
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"{what} is too large ({width}x{height} px = {width * height / 1e6:.0f} megapixels; "
                         f"the limit is {MAX_IMAGE_PIXELS / 1e6:.0f}); downscale it first")
    if min(width, height) < MIN_IMAGE_SIDE_PX:
        raise InputError(f"{what} is too small ({width}x{height} px); each side needs at least "
                         f"{MIN_IMAGE_SIDE_PX} px, and a portrait works best at 512 px or more")


def _read_image_file(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps, UnidentifiedImageError

    _check_file(path)
    try:
        with Image.open(path) as image:
            _check_size(image.width, image.height, f"image '{path}'")
            image.load()
            image = ImageOps.exif_transpose(image)
            return _pil_to_rgb(image)
    except UnidentifiedImageError as err:
        raise InputError(f"could not read image '{path}': not a JPEG/PNG/WebP/BMP/TIFF image") from err
    except Image.DecompressionBombError as err:
        raise InputError(f"could not read image '{path}': too large ({err})") from err
    except (OSError, SyntaxError, ValueError) as err:  # truncated/corrupt data (Pillow raises all three)
        if isinstance(err, InputError):
            raise
        raise InputError(f"could not read image '{path}': the file is damaged or truncated ({err}); "
                         "re-export it as PNG or JPEG") from err


def _pil_to_rgb(image: "Image.Image") -> np.ndarray:
    """PIL image (any mode) -> float64 [H, W, 3] in [0, 1], alpha composited over white."""
    mode = image.mode
    if mode in _SIXTEEN_BIT_MODES:
        grey = np.asarray(image).astype(np.float64) / 65535.0
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "I":  # 32-bit int: 16-bit PNG/TIFF on some Pillow versions
        grey = np.asarray(image).astype(np.float64)
        scale = 65535.0 if grey.size == 0 or grey.max() <= 65535 else float(2**32 - 1)
        return np.repeat(np.clip(grey / scale, 0, 1)[..., None], 3, axis=2)
    if mode == "F":  # 32-bit float TIFF: taken as [0, 1]
        grey = np.clip(np.nan_to_num(np.asarray(image, dtype=np.float64)), 0, 1)
        return np.repeat(grey[..., None], 3, axis=2)
    has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in image.info)
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float64) / 255.0
        return _composite_over_white(rgba)
    return np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    alpha = rgba[..., 3:4]
    return rgba[..., :3] * alpha + (1.0 - alpha)


def _array_to_rgb(arr: np.ndarray) -> np.ndarray:
    """Validated array [H, W(, 1|3|4)] of a supported dtype -> float64 [H, W, 3] in [0, 1]."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise InputError(f"image array must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], got shape {arr.shape}")
    _check_size(arr.shape[1], arr.shape[0], "image array")
    values = _array_values_01(arr)
    if values.ndim == 2:
        return np.repeat(values[..., None], 3, axis=2)
    if values.shape[2] == 4:
        return _composite_over_white(values)
    return values


def _array_values_01(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr.astype(np.float64) / 255.0
    if arr.dtype == np.uint16:
        return arr.astype(np.float64) / 65535.0
    if arr.dtype == np.bool_:
        return arr.astype(np.float64)
    if np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise InputError(f"integer image array ({arr.dtype}) must hold 0..255, got "
                             f"{arr.min()}..{arr.max()}; use uint16 for 16-bit data")
        return arr.astype(np.float64) / 255.0
    if np.issubdtype(arr.dtype, np.floating):
        values = arr.astype(np.float64)
        if not np.all(np.isfinite(values)):
            raise InputError("float image array contains NaN or infinity")
        lo, hi = float(values.min()), float(values.max())
        if lo < -FLOAT_RANGE_TOLERANCE or hi > 1.0 + FLOAT_RANGE_TOLERANCE:
            raise InputError(f"float image array must be in [0, 1], got {lo:.3g}..{hi:.3g}"
                             + ("; divide by 255 first" if hi > 1.5 else ""))
        return np.clip(values, 0.0, 1.0)
    raise InputError(f"unsupported image array dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
