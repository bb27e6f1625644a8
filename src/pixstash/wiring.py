"""The composition root: builds concrete backends from settings and wires services.

Only this module, the web app factory and the CLI know concrete backends. Backends are
chosen by URL scheme through each port's scheme table and imported lazily.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from pixstash.cache import base as cache_base
from pixstash.cache.base import SingleFlight
from pixstash.config import Settings
from pixstash.db.accounts import SqlAccountStore
from pixstash.db.albums import SqlAlbumStore
from pixstash.db.engine import Database
from pixstash.db.repository import SqlMetadataStore
from pixstash.db.stats import SqlImageStatsStore
from pixstash.db.upload_sessions import SqlUploadSessionStore
from pixstash.domain.clock import Clock
from pixstash.errors import ConfigurationError, PixstashError
from pixstash.jobs import base as jobs_base
from pixstash.jobs.base import PROCESS_BLOB, PURGE_BLOB, JobQueue
from pixstash.jobs.worker import JobRunner
from pixstash.processing.base import ImageEngine
from pixstash.processing.engines import make_engine
from pixstash.security import base as security_base
from pixstash.security.addresses import AddressPolicy
from pixstash.security.base import RateLimiter, Scanner
from pixstash.security.fetcher import HttpFetcher
from pixstash.services.accounts import AccountService
from pixstash.services.albums import AlbumService
from pixstash.services.delivery import MediaCache, MediaService
from pixstash.services.direct_uploads import DirectUploadService
from pixstash.services.images import ImageService
from pixstash.services.library import LibraryService
from pixstash.services.links import LinkBuilder
from pixstash.services.maintenance import MaintenanceService
from pixstash.services.private_links import PrivateLinkSigner
from pixstash.services.renditions import RenditionService
from pixstash.services.scanning import UploadScanning
from pixstash.services.staging import StagingArea
from pixstash.services.uploads import UploadService
from pixstash.services.url_ingest import UrlIngestService
from pixstash.services.views import ViewCounter
from pixstash.storage import base as storage_base
from pixstash.storage.base import BlobStore
from pixstash.telemetry.base import Metrics
from pixstash.telemetry.prometheus import PrometheusMetrics

log = logging.getLogger(__name__)
WEB_SESSION_SWEEP_SECONDS = 3600.0  # rows of expired login sessions, removed hourly
OUTAGE_PROBE_SECONDS = 3.0


def backend_class(kind: str, url: str, table: dict[str, str]) -> Any:
    """Import the class registered for ``url``'s scheme, or explain the valid choices."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    target = table.get(scheme)
    if target is None:
        valid = ", ".join(f"{s}://" for s in sorted(table))
        raise ConfigurationError(
            f"Unknown {kind} URL scheme {scheme + '://' if scheme else repr(url)}; valid: {valid}"
        )
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def staging_root(settings: Settings) -> Path:
    """Temp files live beside the database file by default (``./var/tmp``)."""
    return Path(settings.tmp_dir) if settings.tmp_dir else Path("var/tmp")


@dataclass
class Container:
    settings: Settings
    db: Database
    meta: SqlMetadataStore
    store: BlobStore
    queue: JobQueue
    locks: SingleFlight
    engine: ImageEngine
    staging: StagingArea
    uploads: UploadService
    renditions: RenditionService
    media: MediaService
    images: ImageService
    maintenance: MaintenanceService
    direct_uploads: DirectUploadService
    url_ingest: UrlIngestService
    accounts: AccountService
    library: LibraryService
    scanner: Scanner
    limiter: RateLimiter
    albums: AlbumService
    private_links: PrivateLinkSigner
    clock: Clock  # every service's "now"; tests advance it
    views: ViewCounter
    metrics: Metrics = field(default_factory=PrometheusMetrics)
    runner: JobRunner | None = field(default=None)

    def links(self, request_base: str) -> LinkBuilder:
        base = self.settings.public_url or request_base.rstrip("/")
        return LinkBuilder(base, self.settings.public_media_url or base, self.private_links)

    def make_runner(self, concurrency: int) -> JobRunner:
        return JobRunner(
            self.queue,
            {PROCESS_BLOB: self.renditions.process_blob, PURGE_BLOB: self.images.purge_job},
            concurrency=concurrency,
            poll_seconds=self.settings.job_poll_seconds,
            heartbeat_seconds=self.settings.job_lease_seconds / 3,
            metrics=self.metrics,
            outage_probe=self.backend_down,
            periodic=[
                ("expiry-sweeper", self.settings.expiry_sweep_seconds, self.images.sweep_expired),
                ("web-session-sweeper", WEB_SESSION_SWEEP_SECONDS, self._forget_sessions),
            ],
        )

    async def backend_down(self) -> bool:
        """Whether the database, storage or cache fails its own check right now (what
        /readyz checks): a job's backend-unavailable error is then an outage."""
        for check in (self.meta.ping, self.store.check, self.locks.check):
            try:
                await asyncio.wait_for(check(), OUTAGE_PROBE_SECONDS)
            except (PixstashError, OSError, TimeoutError):
                return True
        return False

    async def _forget_sessions(self) -> int:
        """Expired web sessions are refused when used; this removes their rows."""
        return await self.accounts.forget_expired_sessions()

    async def close(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
        await self.queue.close()
        await self.locks.close()
        await self.limiter.close()
        await self.scanner.close()
        await self.store.close()
        await self.db.close()


def build_container(settings: Settings) -> Container:
    store_cls = backend_class("storage", settings.storage_url, storage_base.SCHEMES)
    queue_cls = backend_class("queue", settings.queue_url, jobs_base.SCHEMES)
    locks_cls = backend_class("cache", settings.cache_url, cache_base.SCHEMES)
    db = Database(settings.database_url)
    meta = SqlMetadataStore(db)
    store: BlobStore = store_cls.from_url(settings.storage_url)
    queue: JobQueue = queue_cls.from_url(
        settings.queue_url,
        db=db,
        lease_seconds=settings.job_lease_seconds,
        max_attempts=settings.job_max_attempts,
    )
    locks: SingleFlight = locks_cls.from_url(settings.cache_url)
    scanner = build_scanner(settings)
    engine = make_engine(
        settings.image_engine,
        max_decode_bytes=settings.max_decode_bytes,
        max_frames=settings.max_frames,
    )
    staging = StagingArea(staging_root(settings), max_bytes=settings.max_upload_bytes)
    cpu = anyio.CapacityLimiter(settings.cpu_threads)
    metrics = PrometheusMetrics()
    renditions = RenditionService(meta, store, engine, locks, staging, cpu, metrics=metrics)
    clock = Clock()
    cache = MediaCache(
        settings.media_cache_bytes,
        settings.media_cache_item_bytes,
        settings.media_cache_ttl_seconds,
        clock=clock,
    )
    media = MediaService(meta, store, renditions, cache, clock=clock)
    images = ImageService(meta, store, media, clock=clock)
    uploads = UploadService(
        meta,
        store,
        queue,
        engine,
        images,
        max_pixels=settings.max_pixels,
        cpu=cpu,
        anonymous_uploads=settings.anonymous_uploads,
        scanning=UploadScanning(scanner, fail_open=settings.scanner_fail_open, metrics=metrics),
        clock=clock,
    )
    sessions = SqlUploadSessionStore(db)
    direct_uploads = DirectUploadService(
        sessions,
        store,
        uploads,
        staging,
        secret=settings.secret_key.get_secret_value().encode(),
        max_bytes=settings.max_upload_bytes,
        ttl_seconds=settings.direct_upload_seconds,
    )
    return Container(
        settings=settings,
        db=db,
        meta=meta,
        store=store,
        queue=queue,
        locks=locks,
        engine=engine,
        staging=staging,
        uploads=uploads,
        renditions=renditions,
        media=media,
        images=images,
        maintenance=MaintenanceService(
            meta,
            store,
            images,
            staging,
            sessions,
            upload_seconds=settings.direct_upload_seconds,
        ),
        direct_uploads=direct_uploads,
        url_ingest=UrlIngestService(build_fetcher(settings), staging, uploads),
        accounts=AccountService(
            SqlAccountStore(db),
            session_seconds=settings.session_seconds,
            registration_open=settings.registration,
            clock=clock,
        ),
        library=LibraryService(meta, images),
        scanner=scanner,
        limiter=build_limiter(settings),
        albums=AlbumService(SqlAlbumStore(db), meta, images, store),
        views=ViewCounter(SqlImageStatsStore(db)),
        private_links=PrivateLinkSigner(
            settings.secret_key.get_secret_value().encode(),
            lifetime_seconds=settings.private_link_seconds,
            clock=clock,
        ),
        clock=clock,
        metrics=metrics,
    )


def build_limiter(settings: Settings) -> RateLimiter:
    """Rate limits, counted where ``PIXSTASH_CACHE_URL`` says (memory or Redis)."""
    limiter_cls = backend_class("cache", settings.cache_url, security_base.LIMITER_SCHEMES)
    rules = {
        security_base.UPLOADS_PER_IP: settings.rate_limit_anonymous_uploads,
        security_base.UPLOADS_PER_USER: settings.rate_limit_user_uploads,
        security_base.REQUESTS_PER_TOKEN: settings.rate_limit_token_requests,
        security_base.REQUESTS_PER_CLIENT_ID: settings.rate_limit_client_id_requests,
        security_base.REQUESTS_PER_IP: settings.rate_limit_ip_requests,
        security_base.LOGINS_PER_IP: settings.rate_limit_logins,
    }
    limiter: RateLimiter = limiter_cls.from_url(
        settings.cache_url, rules, on_outage=settings.rate_limit_on_outage
    )
    return limiter


def build_scanner(settings: Settings) -> Scanner:
    """The malware scanner of ``PIXSTASH_SCANNER_URL``; the bare word ``none`` (the
    default) means ``none://``."""
    url = settings.scanner_url.strip()
    if url.lower() == "none":
        url = "none://"
    scanner_cls = backend_class("scanner", url, security_base.SCANNER_SCHEMES)
    scanner: Scanner = scanner_cls.from_url(url, timeout=settings.scanner_timeout_seconds)
    return scanner


def build_fetcher(settings: Settings) -> HttpFetcher:
    """The link fetcher of URL ingest, with its address and port policy."""
    policy = AddressPolicy(
        ports=settings.url_ingest_ports, allow_networks=settings.url_ingest_allow_networks
    )
    return HttpFetcher(
        policy,
        connect_seconds=settings.url_ingest_connect_seconds,
        total_seconds=settings.url_ingest_total_seconds,
    )
