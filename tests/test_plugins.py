"""The plugin host: entry-point loading, start-up validation, per-tenant hook calls.

Per-tenant tests use real tenants and real snapshots from the database (both
backends): plugin state is changed with ``set_plugin_state`` and read back with
``load_snapshot``, exactly as requests and jobs do.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pluggy
import pytest
from litestar import Request, get, post
from litestar.testing import AsyncTestClient
from litestar.types import ControllerRouterHandler
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

import plugins.announcements as announcements
from core import hookspecs
from core.db.sessions import Database
from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary
from core.pluginhost import PluginInfo, PluginSettingsError, hookimpl
from core.pluginhost.manager import PluginHost, PluginLoadError, TenantHooks
from core.pluginhost.markers import ENTRY_POINT_GROUP, PROJECT_NAME
from core.pluginhost.models import TenantPlugin
from core.pluginhost.service import plugin_rows, set_plugin_state
from core.pluginhost.types import (
    ApplicationField,
    CertificateTemplate,
    Event,
    HomeSection,
    LoginMethod,
)
from core.settings import Settings
from core.tenancy.models import Tenant
from core.tenancy.snapshot import TenantSnapshot, load_snapshot
from core.web.plugin_routes import plugin_routers
from core.web.sites import current_tenant
from tests.conftest import make_app

PROBE_TEMPLATES = Path(__file__).parent / "probe-templates"
BANNER = {"title": {"de": "Neuer Durchgang", "en": "New round"}, "message": {"de": "Bis Mai."}}


# --- tiny test plugins: one per hook ------------------------------------------------------


class ProbeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    greeting: str = Field(default="hello", min_length=1)
    limit: int = Field(default=3, ge=1)


class Probe:
    """A plugin object that records which tenants a hook reached it for."""

    hook: str = ""

    def __init__(self, plugin_id: str = "probe") -> None:
        self.PLUGIN = PluginInfo(
            id=plugin_id,
            name="Probe",
            description="Records hook calls for tests.",
            version="0.0.1",
            settings=ProbeSettings,
        )
        self.calls: list[str] = []


class TemplateDirsProbe(Probe):
    hook = "register_template_dirs"

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        self.calls.append("(no tenant argument)")
        return [PROBE_TEMPLATES]


class HomeSectionsProbe(Probe):
    hook = "extra_home_sections"

    @hookimpl
    def extra_home_sections(self, tenant: TenantSnapshot, locale: str) -> list[HomeSection]:
        self.calls.append(tenant.slug)
        greeting = tenant.plugin_settings[self.PLUGIN.id]["greeting"]
        return [HomeSection(template="probe/section.html", context={"greeting": greeting})]


class EventProbe(Probe):
    hook = "handle_event"

    @hookimpl
    def handle_event(self, tenant: TenantSnapshot, event: Event) -> None:
        assert event.tenant_id == tenant.id
        self.calls.append(tenant.slug)


class ClaimsProbe(Probe):
    hook = "map_claims"

    @hookimpl
    def map_claims(
        self, tenant: TenantSnapshot, provider_id: str, claims: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        self.calls.append(tenant.slug)
        return {"name": claims.get("nickname")}


@get("/page", name="probe.page")
async def probe_page(request: Request[Any, Any, Any]) -> str:
    return f"probe page of {current_tenant(request).slug}"


@post("/page", name="probe.post", status_code=200)
async def probe_post(request: Request[Any, Any, Any]) -> str:
    return f"probe form of {current_tenant(request).slug}"


class RoutesProbe(Probe):
    hook = "register_routes"

    @hookimpl
    def register_routes(self) -> list[ControllerRouterHandler]:
        self.calls.append("(no tenant argument)")
        return [probe_page, probe_post]


class LoginMethodsProbe(Probe):
    hook = "extra_login_methods"

    @hookimpl
    def extra_login_methods(
        self, tenant: TenantSnapshot, locale: str, next_path: str
    ) -> list[LoginMethod]:
        self.calls.append(tenant.slug)
        greeting = tenant.plugin_settings[self.PLUGIN.id]["greeting"]
        context = {"greeting": greeting, "locale": locale, "next": next_path}
        return [LoginMethod(template="probe/login_method.html", context=context)]


class ApplicationFieldsProbe(Probe):
    hook = "extra_application_fields"

    @hookimpl
    def extra_application_fields(
        self, tenant: TenantSnapshot, kind: str, locale: str
    ) -> list[ApplicationField]:
        self.calls.append(tenant.slug)
        return [ApplicationField(name="probe_answer", label=f"{kind} ({locale})")]


class ProbeCriterion(Criterion):
    kind = CriterionKind.SCORE
    label = "Probe"

    def __init__(self, weight: float) -> None:
        self.id = "probe"
        self.weight = weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        return np.ones((len(mentees), len(mentors)), dtype=np.float32)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return f"{mentee.id} and {mentor.id}"


class MatchingCriteriaProbe(Probe):
    hook = "register_matching_criteria"

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        self.calls.append(tenant.slug)
        return [ProbeCriterion(weight=tenant.plugin_settings[self.PLUGIN.id]["limit"])]


class CertificateTemplatesProbe(Probe):
    hook = "register_certificate_templates"

    @hookimpl
    def register_certificate_templates(self, tenant: TenantSnapshot) -> list[CertificateTemplate]:
        self.calls.append(tenant.slug)
        return [
            CertificateTemplate(
                id="probe",
                name="Probe",
                roles=("mentee",),
                sources={"en": "<p>{{ holder_name }}</p>"},
            )
        ]


PROBES: dict[str, type[Probe]] = {
    probe.hook: probe
    for probe in (
        TemplateDirsProbe,
        HomeSectionsProbe,
        EventProbe,
        ClaimsProbe,
        RoutesProbe,
        LoginMethodsProbe,
        ApplicationFieldsProbe,
        MatchingCriteriaProbe,
        CertificateTemplatesProbe,
    )
}
# Hooks that are called once for all tenants (they take no tenant).
TENANTLESS_HOOKS = frozenset({"register_template_dirs", "register_routes"})


def hook_arguments(hook: str, tenant: TenantSnapshot) -> dict[str, Any]:
    """Arguments to call ``hook`` with for ``tenant``, as core calls it."""
    event = Event(
        id=uuid.uuid4(),
        tenant_id=tenant.id,
        name="pairing.proposed",
        payload={"pairing": "p-1"},
        occurred_at=datetime.now(UTC),
    )
    arguments: dict[str, dict[str, Any]] = {
        "register_template_dirs": {},
        "register_routes": {},
        "extra_home_sections": {"tenant": tenant, "locale": "de"},
        "extra_login_methods": {
            "tenant": tenant,
            "locale": "de",
            "next_path": "/",
            "invitation": None,
        },
        "extra_application_fields": {"tenant": tenant, "kind": "mentee", "locale": "de"},
        "register_matching_criteria": {"tenant": tenant},
        "register_certificate_templates": {"tenant": tenant},
        "handle_event": {"tenant": tenant, "event": event},
        "map_claims": {"tenant": tenant, "provider_id": "sso", "claims": {"sub": "a"}},
    }
    return arguments[hook]


def all_hookspec_names() -> set[str]:
    return {
        name
        for name, value in vars(hookspecs).items()
        if getattr(value, f"{PROJECT_NAME}_spec", None) is not None
    }


def module_plugin(name: str, plugin_id: str | None, **functions: Callable[..., Any]) -> ModuleType:
    """A plugin module built in memory, as if imported from a package."""
    module = ModuleType(name)
    if plugin_id is not None:
        module.PLUGIN = PluginInfo(  # type: ignore[attr-defined]
            id=plugin_id, name=plugin_id.title(), description="test", version="0.1"
        )
    for function_name, function in functions.items():
        setattr(module, function_name, function)
    return module


# --- database helpers ---------------------------------------------------------------------


async def make_tenant(db: Database, slug: str) -> uuid.UUID:
    async with db.platform_session() as session, session.begin():
        tenant = Tenant(
            slug=slug,
            name=slug.title(),
            default_locale="de",
            locales=["de", "en"],
            theme="default",
            revision=1,
            domains=[],
        )
        session.add(tenant)
    return tenant.id


async def set_state(
    db: Database,
    host: PluginHost,
    tenant_id: uuid.UUID,
    plugin_id: str,
    *,
    enabled: bool,
    settings: dict[str, Any] | None = None,
) -> str | None:
    async with db.tenant_session(tenant_id) as session, session.begin():
        return await set_plugin_state(session, host, plugin_id, enabled=enabled, settings=settings)


async def snapshot(db: Database, tenant_id: uuid.UUID) -> TenantSnapshot:
    snap = await load_snapshot(db, tenant_id)
    assert snap is not None
    return snap


async def revision(db: Database, tenant_id: uuid.UUID) -> int:
    return (await snapshot(db, tenant_id)).revision


async def stored_rows(db: Database, tenant_id: uuid.UUID) -> dict[str, tuple[bool, dict]]:
    async with db.tenant_session(tenant_id) as session:
        rows = await plugin_rows(session)
    return {pid: (row.enabled, dict(row.settings)) for pid, row in rows.items()}


def host_with(*extra: object) -> PluginHost:
    """The built-in announcements plugin plus ``extra``, independent of other installs."""
    return PluginHost.load(entry_points=False, extra=[announcements, *extra])


# --- loading ------------------------------------------------------------------------------


def test_announcements_is_loaded_through_the_entry_point(plugins: PluginHost):
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared["announcements"] == "plugins.announcements"

    distributions = {
        id(plugin): dist.metadata["Name"] for plugin, dist in plugins.pm.list_plugin_distributions()
    }
    plugin = plugins.pm.get_plugin("announcements")
    assert plugin is announcements
    # pluggy records the distribution only for plugins it loaded from an entry point.
    assert distributions[id(plugin)] == "tandem"

    info = plugins.info("announcements")
    assert (info.id, info.name, info.version) == ("announcements", "Announcements", "1.0.0")
    assert "home page" in info.description
    assert set(info.settings_schema()["properties"]) == {"title", "message", "link"}


def test_without_entry_points_no_plugin_is_loaded():
    host = PluginHost.load(entry_points=False)
    assert host.infos == {}
    with pytest.raises(KeyError, match="unknown plugin 'announcements' \\(installed: none\\)"):
        host.info("announcements")


def test_an_implementation_of_an_unknown_hook_fails_at_start_up():
    def extra_home_section(tenant, locale):  # the typo: "section", not "sections"
        return []

    typo = module_plugin("typo_plugin", "typo", extra_home_section=hookimpl(extra_home_section))
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook 'extra_home_section'"):
        PluginHost.load(entry_points=False, extra=[typo])


def test_an_implementation_with_arguments_the_hook_lacks_fails_at_start_up():
    def extra_home_sections(tenant, language):
        return []

    wrong = module_plugin("wrong_args", "wrong", extra_home_sections=hookimpl(extra_home_sections))
    with pytest.raises(pluggy.PluginValidationError, match="language"):
        PluginHost.load(entry_points=False, extra=[wrong])


def test_an_optional_hook_implementation_does_not_fail():
    def future_hook() -> None:
        return None

    optional = module_plugin(
        "optional_plugin", "optional", future_hook=hookimpl(optionalhook=True)(future_hook)
    )
    assert "optional" in PluginHost.load(entry_points=False, extra=[optional]).infos


@pytest.mark.parametrize("plugin_attribute", [None, {"id": "dict-is-not-enough"}])
def test_a_plugin_without_plugin_info_is_refused(plugin_attribute: object):
    module = module_plugin("bare_plugin", None)
    if plugin_attribute is not None:
        module.PLUGIN = plugin_attribute  # type: ignore[attr-defined]
    with pytest.raises(PluginLoadError, match=r"bare_plugin.*has no PLUGIN = PluginInfo"):
        PluginHost.load(entry_points=False, extra=[module])


class Installer:
    """Installs third-party plugins on sys.path the way pip would: module plus dist-info."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.modules: list[str] = []
        monkeypatch.syspath_prepend(str(root))

    def install(self, module: str, entry_name: str, plugin_id: str) -> None:
        (self.root / f"{module}.py").write_text(
            "from core.pluginhost import PluginInfo, hookimpl\n"
            f"PLUGIN = PluginInfo(id={plugin_id!r}, name='Third party', "
            "description='Installed separately', version='2.0')\n"
            "@hookimpl\n"
            "def register_template_dirs():\n"
            "    return []\n"
        )
        dist_info = self.root / f"{module}-2.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {module}\nVersion: 2.0\n"
        )
        (dist_info / "entry_points.txt").write_text(
            f"[{ENTRY_POINT_GROUP}]\n{entry_name} = {module}\n"
        )
        self.modules.append(module)


@pytest.fixture
def installer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Installer]:
    installer = Installer(tmp_path, monkeypatch)
    yield installer
    for module in installer.modules:
        sys.modules.pop(module, None)


def test_a_third_party_distribution_is_loaded_from_its_entry_point(installer: Installer):
    installer.install("tandem_probe_tp", "thirdparty", "thirdparty")
    host = PluginHost.load()
    assert host.info("thirdparty").version == "2.0"
    assert "announcements" in host.infos


def test_an_entry_point_name_different_from_the_plugin_id_is_refused(installer: Installer):
    installer.install("tandem_probe_mm", "renamed", "thirdparty")
    with pytest.raises(
        PluginLoadError, match="plugin registered as 'renamed' declares id 'thirdparty'"
    ):
        PluginHost.load()


# --- per-tenant hook calls ----------------------------------------------------------------


def test_every_hook_has_a_probe_here():
    # A new hook must get a probe above, so that its per-tenant behaviour is tested.
    assert set(PROBES) == all_hookspec_names()


@pytest.mark.parametrize("hook", sorted(PROBES))
async def test_a_plugin_fires_only_for_the_tenant_that_enabled_it(db: Database, hook: str):
    probe = PROBES[hook]()
    host = host_with(probe)
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")
    assert await set_state(db, host, muenchen, "probe", enabled=True) == "enabled plugin probe"
    # Augsburg had it and switched it off: a stored, disabled row, not just a missing one.
    await set_state(db, host, augsburg, "probe", enabled=True, settings={"greeting": "servus"})
    assert await set_state(db, host, augsburg, "probe", enabled=False) == "disabled plugin probe"

    for_augsburg = await snapshot(db, augsburg)
    for_muenchen = await snapshot(db, muenchen)
    assert "probe" not in for_augsburg.enabled_plugins
    assert for_muenchen.enabled_plugins == {"probe"}

    caller = getattr(host.hooks_for(for_augsburg), hook)
    caller(**hook_arguments(hook, for_augsburg))
    assert probe.calls == []

    caller = getattr(host.hooks_for(for_muenchen), hook)
    caller(**hook_arguments(hook, for_muenchen))
    expected = "(no tenant argument)" if hook in TENANTLESS_HOOKS else "muenchen"
    assert probe.calls == [expected]

    # The platform-wide relay, for operator work, has every installed plugin.
    platform_wide = getattr(host.all_hooks, hook).get_hookimpls()
    assert probe in [impl.plugin for impl in platform_wide]


async def test_hook_results_come_only_from_enabled_plugins(db: Database):
    sections, dirs = HomeSectionsProbe(), TemplateDirsProbe("dirs")
    host = host_with(sections, dirs)
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")
    await set_state(db, host, muenchen, "announcements", enabled=True, settings=BANNER)
    await set_state(db, host, muenchen, "probe", enabled=True, settings={"greeting": "servus"})
    await set_state(db, host, augsburg, "probe", enabled=True)
    await set_state(db, host, augsburg, "dirs", enabled=True)

    m, a = await snapshot(db, muenchen), await snapshot(db, augsburg)
    m_sections = [
        s for group in host.hooks_for(m).extra_home_sections(tenant=m, locale="en") for s in group
    ]
    a_sections = [
        s for group in host.hooks_for(a).extra_home_sections(tenant=a, locale="en") for s in group
    ]

    by_template = {s.template: s.context for s in m_sections}
    assert by_template["announcements/banner.html"]["title"] == "New round"
    # No English message: the tenant's default language is the fallback.
    assert by_template["announcements/banner.html"]["message"] == "Bis Mai."
    assert by_template["probe/section.html"] == {"greeting": "servus"}
    assert [(s.template, s.context) for s in a_sections] == [
        ("probe/section.html", {"greeting": "hello"})
    ]

    assert host.hooks_for(m).register_template_dirs() == [
        [Path(announcements.__file__).parent / "templates"]
    ]
    assert host.hooks_for(a).register_template_dirs() == [[PROBE_TEMPLATES]]


async def test_the_relay_is_cached_and_a_change_takes_effect_with_the_next_snapshot(
    db: Database,
):
    probe = HomeSectionsProbe()
    host = host_with(probe)
    other_process = host_with(probe)  # another web process or worker, same plugins
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")

    before = await snapshot(db, muenchen)
    relay = host.hooks_for(before)
    assert isinstance(relay, TenantHooks)
    assert host.hooks_for(await snapshot(db, muenchen)) is relay
    assert host.hooks_for(await snapshot(db, augsburg)) is relay  # same (empty) enabled set
    assert relay.extra_home_sections is relay.extra_home_sections
    assert relay.extra_home_sections(tenant=before, locale="de") == []

    await set_state(db, host, muenchen, "probe", enabled=True)

    after = await snapshot(db, muenchen)
    assert after.revision > before.revision
    for process in (host, other_process):
        new_relay = process.hooks_for(after)
        assert new_relay is not relay
        assert len(new_relay.extra_home_sections(tenant=after, locale="de")) == 1
    # Augsburg did not change: it keeps the relay without the plugin.
    unchanged = await snapshot(db, augsburg)
    assert unchanged.revision == before.revision
    assert host.hooks_for(unchanged).extra_home_sections(tenant=unchanged, locale="de") == []

    await set_state(db, host, muenchen, "probe", enabled=False)
    again = await snapshot(db, muenchen)
    assert host.hooks_for(again) is relay
    assert relay.extra_home_sections(tenant=again, locale="de") == []
    assert probe.calls == ["muenchen", "muenchen"]


def test_the_relay_has_only_the_hooks_that_exist():
    relay = host_with().hooks_for_plugins(frozenset({"announcements"}))
    with pytest.raises(AttributeError, match="no hook named 'extra_home_section'"):
        relay.extra_home_section  # noqa: B018


# --- settings and state -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({"message": {"de": "Text"}}, "title", "Field required"),
        ({"title": {"de": "  "}, "message": {"de": "x"}}, "title", "non-empty text"),
        ({**BANNER, "link": "not a url"}, "link", "URL"),
        ({**BANNER, "colour": "red"}, "colour", "Extra inputs are not permitted"),
        ({"title": "Hallo", "message": {"de": "x"}}, "title", "dictionary"),
    ],
)
async def test_invalid_settings_name_the_field_and_store_nothing(
    db: Database, raw: dict[str, Any], field: str, message: str
):
    host = host_with()
    muenchen = await make_tenant(db, "muenchen")
    with pytest.raises(PluginSettingsError) as caught:
        await set_state(db, host, muenchen, "announcements", enabled=True, settings=raw)
    assert caught.value.plugin_id == "announcements"
    assert any(f == field and message in m for f, m in caught.value.problems), caught.value
    assert f"invalid settings for plugin 'announcements': {field}:" in str(caught.value)
    assert await stored_rows(db, muenchen) == {}
    assert await revision(db, muenchen) == 1


async def test_enabling_without_required_settings_is_refused(db: Database):
    muenchen = await make_tenant(db, "muenchen")
    with pytest.raises(PluginSettingsError) as caught:
        await set_state(db, host_with(), muenchen, "announcements", enabled=True)
    assert {field for field, _ in caught.value.problems} == {"title", "message"}


async def test_settings_are_stored_normalised_by_the_schema(db: Database):
    host = host_with(HomeSectionsProbe())
    muenchen = await make_tenant(db, "muenchen")
    await set_state(db, host, muenchen, "probe", enabled=True, settings={"limit": "5"})
    assert await stored_rows(db, muenchen) == {"probe": (True, {"greeting": "hello", "limit": 5})}


async def test_an_unknown_plugin_is_refused(db: Database):
    muenchen = await make_tenant(db, "muenchen")
    with pytest.raises(KeyError, match="unknown plugin 'nope' \\(installed: announcements\\)"):
        await set_state(db, host_with(), muenchen, "nope", enabled=True)


async def test_set_plugin_state_reports_changes_and_bumps_the_revision(db: Database):
    host = host_with(HomeSectionsProbe())
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")

    async def step(enabled: bool, settings: dict | None, expected: str | None) -> None:
        before = await revision(db, muenchen)
        change = await set_state(db, host, muenchen, "probe", enabled=enabled, settings=settings)
        assert change == expected
        assert await revision(db, muenchen) == (before if expected is None else before + 1)

    await step(False, None, None)  # disabling what was never enabled changes nothing
    assert await stored_rows(db, muenchen) == {}
    await step(True, {"greeting": "servus"}, "enabled plugin probe")
    await step(True, {"greeting": "servus"}, None)
    await step(True, None, None)  # None keeps the stored settings
    await step(True, {"greeting": "grüß gott"}, "changed settings of plugin probe")
    await step(False, None, "disabled plugin probe")
    await step(False, None, None)
    assert await stored_rows(db, muenchen) == {
        "probe": (False, {"greeting": "grüß gott", "limit": 3})
    }
    await step(True, None, "enabled plugin probe")  # settings survived being disabled
    assert (await snapshot(db, muenchen)).plugin_settings["probe"]["greeting"] == "grüß gott"

    # The other tenant saw none of it: no row, no revision bump, its own state apart.
    assert await stored_rows(db, augsburg) == {}
    assert await revision(db, augsburg) == 1
    assert await set_state(db, host, augsburg, "probe", enabled=True) == "enabled plugin probe"
    assert (await stored_rows(db, augsburg))["probe"] == (True, {"greeting": "hello", "limit": 3})
    assert (await stored_rows(db, muenchen))["probe"][1]["greeting"] == "grüß gott"


async def test_a_tenant_session_cannot_see_or_change_another_tenants_plugin_rows(db: Database):
    host = host_with(HomeSectionsProbe())
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")
    await set_state(db, host, muenchen, "probe", enabled=True, settings={"greeting": "servus"})

    async with db.tenant_session(augsburg) as session, session.begin():
        assert list(await session.scalars(select(TenantPlugin))) == []
        # Disabling "probe" from augsburg finds no row of its own, so it changes nothing.
        assert await set_plugin_state(session, host, "probe", enabled=False) is None
    assert await stored_rows(db, muenchen) == {"probe": (True, {"greeting": "servus", "limit": 3})}


# --- plugin routes and sign-in methods through the app ------------------------------------


class WebProbe(RoutesProbe, LoginMethodsProbe):
    """Routes, a sign-in method and the template for it: what a real plugin combines."""

    def __init__(self, templates: Path) -> None:
        super().__init__("webprobe")
        self.templates = templates

    @hookimpl
    def register_template_dirs(self) -> list[Path]:
        return [self.templates]


def web_probe(tmp_path: Path) -> WebProbe:
    folder = tmp_path / "probe-templates" / "probe"
    folder.mkdir(parents=True)
    (folder / "login_method.html").write_text(
        '<p id="probe-method" translate="no">{{ method.context.greeting }} '
        "{{ method.context.locale }} {{ method.context.next }}</p>\n",
        encoding="utf-8",
    )
    return WebProbe(tmp_path / "probe-templates")


async def test_plugin_routes_answer_only_on_tenants_that_enabled_the_plugin(
    db: Database, settings: Settings, tmp_path: Path
):
    probe = web_probe(tmp_path)
    host = host_with(probe)
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")
    await make_tenant(db, "toronto")  # never had it
    await set_state(db, host, muenchen, "webprobe", enabled=True)
    await set_state(db, host, augsburg, "webprobe", enabled=True)
    await set_state(db, host, augsburg, "webprobe", enabled=False)

    async with AsyncTestClient(make_app(settings, host), base_url="http://localhost") as web:

        async def page(slug: str | None, method: str = "GET") -> Any:
            where = f"{slug}.localhost:8000" if slug else "localhost:8000"
            headers = {"host": where, "accept-language": "en"}
            return await web.request(method, "/p/webprobe/page", headers=headers)

        mounted = await page("muenchen")
        assert (mounted.status_code, mounted.text) == (200, "probe page of muenchen")
        # Disabled on augsburg, never enabled on toronto, no tenant at all on the platform
        # host: the routes are not there, whatever the method. The POSTs carry no CSRF
        # token, yet answer 404, not 403: the route's existence is not given away.
        for slug in ("augsburg", "toronto", None):
            for method in ("GET", "POST"):
                gone = await page(slug, method)
                assert gone.status_code == 404, (slug, method)
                assert "Page not found" in gone.text
        assert (await page("muenchen", "POST")).status_code == 403  # CSRF applies there

        # Switching the plugin on takes effect with the next snapshot, without a restart.
        await set_state(db, host, augsburg, "webprobe", enabled=True)
        assert (await page("augsburg")).text == "probe page of augsburg"
    assert probe.calls == ["(no tenant argument)"]  # collected once, at app creation


async def test_extra_login_methods_are_shown_on_the_sign_in_page_of_enabled_tenants_only(
    db: Database, settings: Settings, tmp_path: Path
):
    probe = web_probe(tmp_path)
    host = host_with(probe)
    muenchen = await make_tenant(db, "muenchen")
    augsburg = await make_tenant(db, "augsburg")
    await set_state(db, host, muenchen, "webprobe", enabled=True, settings={"greeting": "servus"})
    await set_state(db, host, augsburg, "webprobe", enabled=True)
    await set_state(db, host, augsburg, "webprobe", enabled=False)

    async with AsyncTestClient(make_app(settings, host), base_url="http://localhost") as web:
        headers = {"host": "muenchen.localhost:8000", "accept-language": "en"}
        shown = await web.get("/login?next=/account/sessions", headers=headers)
        assert shown.status_code == 200
        assert '<p id="probe-method" translate="no">servus en /account/sessions</p>' in shown.text
        # The next path reaches the hook checked: another site is never passed on.
        unsafe = await web.get("/login?next=//evil.example/x", headers=headers)
        assert '<p id="probe-method" translate="no">servus en /</p>' in unsafe.text

        other = await web.get("/login", headers={"host": "augsburg.localhost:8000"})
        assert other.status_code == 200 and "probe-method" not in other.text
    assert probe.calls.count("muenchen") == 2 and "augsburg" not in probe.calls


@pytest.mark.parametrize(
    ("returned", "complaint"),
    [
        ("/page", "must return a list of route handlers, not str"),
        ([object()], "returned handlers that cannot be mounted"),
    ],
)
def test_routes_litestar_cannot_mount_stop_the_start_up(returned: Any, complaint: str):
    def register_routes() -> Any:
        return returned

    broken = module_plugin("broken_routes", "broken", register_routes=hookimpl(register_routes))
    with pytest.raises(PluginLoadError, match=f"plugin 'broken': .*{complaint}"):
        plugin_routers(host_with(broken))


def test_a_plugin_id_that_cannot_be_a_path_segment_may_not_register_routes():
    def register_routes() -> list[ControllerRouterHandler]:
        return [probe_page]

    odd = module_plugin("odd_routes", "Odd.Id", register_routes=hookimpl(register_routes))
    with pytest.raises(PluginLoadError, match="its id must be lower-case"):
        plugin_routers(host_with(odd))
