"""Public URLs of an image: page, media variants, deletion. A private image's media
links are short-lived signed URLs on the app (``private_links``), never the public path."""

from __future__ import annotations

from dataclasses import dataclass

from pixstash.domain.formats import OutputFormat, default_output
from pixstash.domain.model import Image, Visibility
from pixstash.domain.variants import FULL, LARGE, MEDIUM, THUMB, VariantSpec, media_name
from pixstash.services.private_links import PrivateLinkSigner


@dataclass(frozen=True, slots=True)
class LinkBuilder:
    base: str  # the app, e.g. https://pix.example.com
    media_base: str  # media origin (CDN or cookieless domain); may equal base
    signer: PrivateLinkSigner | None = None  # signs private images' media links

    def page(self, image_id: str) -> str:
        return f"{self.base}/{image_id}"

    def media(self, image: Image, variant: VariantSpec, output: OutputFormat | None = None) -> str:
        fmt = output or default_output(image.format)
        name = media_name(image.id, variant, fmt)
        if image.visibility is Visibility.PRIVATE:
            if self.signer is None:
                raise RuntimeError("private media links need a signer")
            return f"{self.base}{self.signer.path(name)}"
        return f"{self.media_base}/{name}"

    def album_page(self, album_id: str) -> str:
        return f"{self.base}/a/{album_id}"

    def delete(self, image_id: str, token: str) -> str:
        return f"{self.base}/{image_id}/delete/{token}"

    def for_image(self, image: Image, delete_token: str | None = None) -> dict[str, str]:
        links = {
            "page": self.page(image.id),
            "full": self.media(image, FULL),
            "thumb": self.media(image, THUMB),
            "medium": self.media(image, MEDIUM),
            "large": self.media(image, LARGE),
        }
        if image.animated:
            links["mp4"] = self.media(image, FULL, OutputFormat.MP4)
        if delete_token is not None:
            links["delete"] = self.delete(image.id, delete_token)
        return links
