"""Checking and cleaning uploaded photos.

A photo is judged by its content, not its name or the browser's claimed
type: Pillow must recognise it as JPEG, PNG or WebP. It is re-encoded, which
drops EXIF data (a phone photo's GPS position is nobody's business) after
applying the EXIF rotation so it still shows the right way up.
"""

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageOps, UnidentifiedImageError

from klantreis.core.errors import ApplicationError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MAX_PIXELS = 40_000_000

MESSAGE_PHOTO_EMPTY = _("The photo %(name)s is empty.")
MESSAGE_PHOTO_TOO_LARGE = _("The photo %(name)s is larger than %(max_mb)d MB.")
MESSAGE_PHOTO_WRONG_TYPE = _("%(name)s is not a photo we can read. Please send a JPEG, PNG or WebP picture.")
MESSAGE_PHOTO_TOO_MANY = _("You can add at most %(max)d photos.")


@dataclass(frozen=True)
class PreparedPhoto:
    content: ContentFile[bytes]
    content_type: str
    width: int
    height: int

    @property
    def size(self) -> int:
        return self.content.size


def photo_prepare(upload: UploadedFile[bytes]) -> PreparedPhoto:
    name = upload.name or "photo"
    max_bytes = settings.KLANTREIS_PHOTO_MAX_BYTES
    if not upload.size:
        raise ApplicationError(MESSAGE_PHOTO_EMPTY % {"name": name}, field="photos")
    if upload.size > max_bytes:
        raise ApplicationError(
            MESSAGE_PHOTO_TOO_LARGE % {"name": name, "max_mb": max_bytes // (1024 * 1024)}, field="photos"
        )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as probe:
                probe.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image_format = image.format or ""
                if image_format not in ACCEPTED_FORMATS:
                    raise ApplicationError(MESSAGE_PHOTO_WRONG_TYPE % {"name": name}, field="photos")
                if image.width * image.height > MAX_PIXELS:
                    raise ApplicationError(
                        MESSAGE_PHOTO_TOO_LARGE % {"name": name, "max_mb": max_bytes // (1024 * 1024)},
                        field="photos",
                    )
                upright = ImageOps.exif_transpose(image)
                if image_format == "JPEG" and upright.mode not in ("RGB", "L"):
                    upright = upright.convert("RGB")
                buffer = io.BytesIO()
                upright.save(
                    buffer, format=image_format, **({"quality": 85} if image_format != "PNG" else {})
                )
                width, height = upright.size
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ):
        raise ApplicationError(MESSAGE_PHOTO_WRONG_TYPE % {"name": name}, field="photos") from None
    content = ContentFile(buffer.getvalue(), name=f"photo.{EXTENSIONS[image_format]}")
    return PreparedPhoto(
        content=content, content_type=ACCEPTED_FORMATS[image_format], width=width, height=height
    )


def photos_prepare(uploads: list[UploadedFile[bytes]]) -> list[PreparedPhoto]:
    max_count = settings.KLANTREIS_PHOTO_MAX_COUNT
    if len(uploads) > max_count:
        raise ApplicationError(MESSAGE_PHOTO_TOO_MANY % {"max": max_count}, field="photos")
    return [photo_prepare(upload) for upload in uploads]
