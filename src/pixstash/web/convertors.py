"""Path convertors for public ids and media names; importing this module registers them."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

from pixstash.domain.ids import PUBLIC_ID_ALPHABET, PUBLIC_ID_LENGTH


class MediaNameConvertor(Convertor[str]):
    regex = f"[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}}[sbtmlh]?\\.[A-Za-z0-9]{{2,5}}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


class PublicIdConvertor(MediaNameConvertor):
    regex = f"[{PUBLIC_ID_ALPHABET}]{{{PUBLIC_ID_LENGTH}}}"


register_url_convertor("medianame", MediaNameConvertor())
register_url_convertor("publicid", PublicIdConvertor())
