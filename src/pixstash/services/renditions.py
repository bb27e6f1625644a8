"""Making variants: eagerly by jobs after upload, on demand for the rest (once)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import anyio.to_thread

from pixstash.cache.base import SingleFlight
from pixstash.db.base import MetadataStore
from pixstash.domain.formats import OutputFormat, default_output
from pixstash.domain.model import Blob, ImageStatus, Rendered, Variant, variant_key
from pixstash.domain.variants import EAGER_VARIANTS, FULL, THUMB, VariantSpec
from pixstash.errors import BlobMissing, ImageNotFound, ImageRejected, PixstashError
from pixstash.processing.base import ImageEngine
from pixstash.services.staging import StagingArea
from pixstash.storage.base import BlobStore
from pixstash.telemetry.base import NULL_METRICS, Metrics

log = logging.getLogger(__name__)


class RenditionService:
    def __init__(
        self,
        meta: MetadataStore,
        store: BlobStore,
        engine: ImageEngine,
        locks: SingleFlight,
        staging: StagingArea,
        cpu: anyio.CapacityLimiter,
        *,
        metrics: Metrics = NULL_METRICS,
    ) -> None:
        self.meta = meta
        self.store = store
        self.engine = engine
        self.locks = locks
        self.staging = staging
        self.cpu = cpu  # bounds CPU-bound work in threads, off the event loop
        self.metrics = metrics

    async def process_blob(self, payload: dict[str, str]) -> None:
        """Job handler: make every eager variant of a blob, then mark its images ready."""
        blob = await self.meta.get_blob(payload["hash"])
        if blob is None:
            return  # deleted meanwhile: nothing to do
        output = default_output(blob.format)
        wanted = [(spec, output) for spec in EAGER_VARIANTS]
        if blob.frames > 1:
            wanted.append((FULL, OutputFormat.MP4))  # "gifv": made eagerly for animations
        todo = [
            (spec, fmt)
            for spec, fmt in wanted
            if await self.meta.get_variant(blob.hash, spec.name, fmt.value) is None
        ]
        try:
            if todo:
                await self._render_eager(blob, todo)
        except ImageRejected as exc:  # deterministic: retrying cannot help
            log.warning("blob %s cannot be processed: %s", blob.hash, exc.message)
            await self.meta.set_blob_status(blob.hash, ImageStatus.FAILED.value)
            return
        await self._describe(blob, output)
        await self.meta.set_blob_status(blob.hash, ImageStatus.READY.value)

    async def _render_eager(
        self, blob: Blob, todo: Sequence[tuple[VariantSpec, OutputFormat]]
    ) -> None:
        """One render for every target; if the MP4 cannot be made, the images still are
        (the share page falls back to the GIF, and /{id}.mp4 retries on request)."""
        try:
            await self._render_and_store(blob, todo)
        except PixstashError as exc:
            stills = [(spec, fmt) for spec, fmt in todo if not fmt.is_video]
            if isinstance(exc, ImageRejected) or len(stills) == len(todo):
                raise
            log.warning("blob %s: no MP4 for now (%s); making the images", blob.hash, exc)
            if stills:
                await self._render_and_store(blob, stills)

    async def _describe(self, blob: Blob, output: OutputFormat) -> None:
        """Record the blob's placeholder, made from its (small) thumbnail."""
        if blob.placeholder is not None:
            return
        thumb = await self.meta.get_variant(blob.hash, THUMB.name, output.value)
        if thumb is None:
            return
        data = await self.store.get_bytes(thumb.key)
        try:
            placeholder = await anyio.to_thread.run_sync(
                self.engine.describe, data, limiter=self.cpu
            )
        except ImageRejected as exc:  # a page without a placeholder is still a page
            log.warning("no placeholder for blob %s: %s", blob.hash, exc.message)
            return
        await self.meta.set_blob_placeholder(blob.hash, placeholder)

    async def ensure_variant(self, blob: Blob, spec: VariantSpec, output: OutputFormat) -> Variant:
        """The stored variant, rendered now if it does not exist yet.

        Concurrent callers for the same variant wait for one rendering.
        """
        if output.is_video and blob.frames <= 1:
            raise ImageNotFound()  # only animations have a video
        existing = await self.meta.get_variant(blob.hash, spec.name, output.value)
        if existing is not None:
            return existing
        async with self.locks.hold(f"variant:{blob.hash}:{spec.name}:{output.value}"):
            existing = await self.meta.get_variant(blob.hash, spec.name, output.value)
            if existing is not None:
                return existing
            try:
                (made,) = await self._render_and_store(blob, [(spec, output)])
            except ImageRejected as exc:  # broken after all: remember, answer 404 from now on
                log.warning("blob %s cannot be rendered: %s", blob.hash, exc.message)
                await self.meta.set_blob_status(blob.hash, ImageStatus.FAILED.value)
                raise ImageNotFound() from exc
            self.metrics.variant_generated(spec.name)
            return made

    async def _render_and_store(
        self, blob: Blob, targets: Sequence[tuple[VariantSpec, OutputFormat]]
    ) -> list[Variant]:
        async with self._source_file(blob) as source:
            rendered: list[Rendered] = await anyio.to_thread.run_sync(
                self.engine.render, source, blob.format, targets, limiter=self.cpu
            )
        made: list[Variant] = []
        for (spec, output), result in zip(targets, rendered, strict=True):
            variant = Variant(
                blob_hash=blob.hash,
                name=spec.name,
                format=output,
                key=variant_key(blob.hash, spec.name, output),
                size=len(result.data),
                width=result.width,
                height=result.height,
                etag=hashlib.sha256(result.data).hexdigest()[:32],
            )
            await self.store.put_bytes(variant.key, result.data)
            if not await self.meta.add_variant(variant):
                await self.store.delete(variant.key)  # the blob was deleted meanwhile
                raise ImageNotFound()
            made.append(variant)
        return made

    @contextlib.asynccontextmanager
    async def _source_file(self, blob: Blob) -> AsyncIterator[Path]:
        local = self.store.local_path(blob.original_key)
        if local is not None:
            if not local.exists():
                raise BlobMissing(f"Original of {blob.hash} is missing.")
            yield local
            return
        path = self.staging.temp_path()
        try:
            await self.store.download(blob.original_key, path)
            yield path
        finally:
            path.unlink(missing_ok=True)
