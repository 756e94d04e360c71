"""The Litestar application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import dramatiq
from dramatiq.brokers.stub import StubBroker
from litestar import Litestar, Router
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.config.csrf import CSRFConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

import core.events  # noqa: F401 - declares the core actors before the broker is built
from core.applications.api import ApplicationsApi, MyApplicationsApi
from core.applications.controllers import ApplicationForms, Intake, MyApplications
from core.certificates.admin_controllers import CertificateTemplatesAdmin
from core.certificates.cohort_controllers import CohortCertificatesAdmin
from core.certificates.controllers import ParticipantCertificates, VerifyPages
from core.db.sessions import Database
from core.identity.guards import (
    LoginRequiredError,
    handle_login_required,
    load_user_before_request,
    provide_current_user,
    template_current_user,
)
from core.identity.oidc import RelyingParty
from core.jobs.actors import JobRuntime
from core.jobs.broker import build_broker
from core.jobs.relay import OutboxRelay
from core.jobs.schedule import Scheduler, load_core_tasks
from core.mail import configure_mail  # also declares core.send_mail
from core.matching.api import MatchingApi  # also declares the matching run's actor
from core.matching.controllers import MatchingPages
from core.matching.self_match_api import SelfMatchApi
from core.matching.self_match_controllers import SelfMatchPages
from core.pairings.api import PairingsApi
from core.pairings.checkin_api import CheckInsApi
from core.pairings.checkin_controllers import CheckInPages, CohortCheckInsAdmin
from core.pairings.controllers import CohortPairingsAdmin, TandemPages
from core.pairings.overview_controllers import CohortOverviewApi, CohortOverviewPage
from core.pluginhost.manager import PluginHost
from core.programmes.api import ProgrammesApi
from core.programmes.controllers import ProgrammeAdmin, PublicProgrammes
from core.settings import Settings, get_settings
from core.tenancy.resolver import TenantResolver
from core.web.controllers.account import account_sessions, logout, revoke_own_session
from core.web.controllers.admin import TenantAdmin
from core.web.controllers.api import ApiV1
from core.web.controllers.appearance import AppearanceAdmin, branding, tenant_accent, tenant_logo
from core.web.controllers.dev_login import DevLogin
from core.web.controllers.dev_mail import DevMailViewer
from core.web.controllers.health import healthz, readyz
from core.web.controllers.home import home
from core.web.controllers.identity_providers import TenantIdentityProviders
from core.web.controllers.invitations import TenantPeople, open_invitation
from core.web.controllers.language import choose_language
from core.web.controllers.login import login_callback, login_page, login_start
from core.web.controllers.operator import OperatorConsole
from core.web.errors import EXCEPTION_HANDLERS
from core.web.plugin_routes import plugin_routers
from core.web.security import DOCS_PREFIX, add_security_headers
from core.web.sites import SiteResolution
from core.web.templating import LitestarTemplates, TemplateRenderer

CORE_STATIC = Path(__file__).resolve().parent.parent / "static"
log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    plugins: PluginHost | None = None,
    run_jobs_in_process: bool | None = None,
) -> Litestar:
    """Build the application. ``run_jobs_in_process`` defaults to "no broker configured"."""
    settings = settings or get_settings()
    plugins = plugins or PluginHost.load()
    db = Database(settings.database_url)
    load_core_tasks()  # declares the periodic tasks' actors before the broker is built
    broker = build_broker(settings.broker_url)
    if run_jobs_in_process is None:
        run_jobs_in_process = isinstance(broker, StubBroker)
    resolver = TenantResolver(db, settings.base_domain, settings.tenant_cache_seconds)
    renderer = TemplateRenderer(settings.themes_dir, plugins)
    renderer.register_callable("current_user", template_current_user)
    renderer.register_callable("branding", branding)
    configure_mail(settings)
    # One OpenID Connect client per app: it caches providers' discovery documents
    # and keys across requests and tenants.
    relying_party = RelyingParty()
    # Development-only pages are not registered at all elsewhere: no setting or
    # request can reach them in production.
    dev_only = [DevMailViewer, DevLogin] if settings.is_development else []

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        relay = OutboxRelay(db, broker, settings.outbox_poll_seconds)
        relay.start()
        worker = _start_worker(broker, settings, plugins) if run_jobs_in_process else None
        scheduler = Scheduler.start_if_enabled(db, settings.scheduler_poll_seconds)
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.stop()
            await relay.stop()
            if worker is not None:
                worker.stop()
            broker.close()  # closes RabbitMQ's connections (a no-op for the others)
            await relying_party.aclose()
            await db.dispose()

    app = Litestar(
        route_handlers=[
            home,
            choose_language,
            account_sessions,
            revoke_own_session,
            logout,
            login_page,
            login_start,
            login_callback,
            healthz,
            readyz,
            ApiV1,
            OperatorConsole,
            TenantAdmin,
            TenantPeople,
            TenantIdentityProviders,
            AppearanceAdmin,
            tenant_logo,
            tenant_accent,
            ProgrammeAdmin,
            PublicProgrammes,
            ProgrammesApi,
            open_invitation,
            ApplicationForms,
            MyApplications,
            Intake,
            ApplicationsApi,
            MyApplicationsApi,
            TandemPages,
            CohortPairingsAdmin,
            PairingsApi,
            CheckInPages,
            CohortCheckInsAdmin,
            CheckInsApi,
            CohortOverviewPage,
            CohortOverviewApi,
            MatchingPages,
            MatchingApi,
            SelfMatchPages,
            SelfMatchApi,
            CertificateTemplatesAdmin,
            CohortCertificatesAdmin,
            ParticipantCertificates,
            VerifyPages,
            *dev_only,
            *plugin_routers(plugins),  # /p/<plugin-id>, only where enabled
            *_static_routers(settings.themes_dir),
        ],
        dependencies={
            "db": Provide(lambda: db, use_cache=True, sync_to_thread=False),
            "plugins": Provide(lambda: plugins, use_cache=True, sync_to_thread=False),
            "broker": Provide(lambda: broker, use_cache=True, sync_to_thread=False),
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "current_user": Provide(provide_current_user),
        },
        before_request=load_user_before_request,
        template_config=TemplateConfig(instance=LitestarTemplates(engine_instance=renderer)),
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="tandem_csrf",
            cookie_httponly=True,
            cookie_secure=settings.env == "production",
            cookie_samesite="lax",
        ),
        openapi_config=OpenAPIConfig(
            title="Tandem API",
            version="1",
            path=DOCS_PREFIX,
            render_plugins=[ScalarRenderPlugin(path="/")],
        ),
        exception_handlers={  # type: ignore[dict-item]
            **EXCEPTION_HANDLERS,
            LoginRequiredError: handle_login_required,
        },
        before_send=[add_security_headers],
        lifespan=[lifespan],
        debug=False,
    )
    app.state.update(
        settings=settings,
        db=db,
        plugins=plugins,
        broker=broker,
        resolver=resolver,
        renderer=renderer,
        relying_party=relying_party,
    )
    # Resolve the site before routing, inside the exception handler so that an
    # unknown host or a suspended tenant still gets a proper error page.
    app.asgi_handler = wrap_in_exception_handler(
        SiteResolution(
            app.asgi_router, resolver, settings.trust_forwarded_host, app.exception_handlers
        )
    )
    return app


def _static_routers(themes_dir: Path) -> list[Router]:
    routers = [create_static_files_router("/static/core", [CORE_STATIC], name="static.core")]
    for theme in sorted(p for p in themes_dir.iterdir() if (p / "static").is_dir()):
        routers.append(
            create_static_files_router(
                f"/static/themes/{theme.name}",
                [theme / "static"],
                name=f"static.theme.{theme.name}",
            )
        )
    return routers


def _start_worker(
    broker: dramatiq.Broker, settings: Settings, plugins: PluginHost
) -> dramatiq.Worker:
    JobRuntime.configure(lambda: (Database(settings.database_url), plugins))
    # Idle threads wake every 50 ms to see whether they should stop: the app shuts down
    # within about that (each wake costs microseconds). At 200 ms, every stop of the dev
    # server or of a test's app waited a quarter of a second.
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    log.info("in-process job worker started")
    return worker
