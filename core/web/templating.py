"""Jinja2 templates looked up per tenant: theme → enabled plugins → core.

One Environment per (theme, enabled plugins, locale), built on first use. Litestar
sees a single engine; the template it gets back picks the environment from the
request it is rendered for.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from jinja2.bccache import Bucket, BytecodeCache
from litestar.template.base import TemplateEngineProtocol

from core.i18n.catalogs import translations
from core.i18n.negotiation import language_name, language_name_in, text_direction
from core.pluginhost.manager import PluginHost
from core.web.sites import request_context

CORE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class _CompiledTemplates(BytecodeCache):
    """Compiled templates in memory, shared by every environment of the process.

    Each (theme, plugins, locale) has an environment of its own, so without this every
    template was parsed and compiled again for each tenant and language (and for each app
    a test builds). All environments are configured alike and a compiled template is
    found by its name and file, and used only while its source is unchanged (Jinja keeps
    a checksum of it), so sharing gives every environment the code it would compile.
    """

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


class TemplateRenderer:
    def __init__(self, themes_dir: Path, plugins: PluginHost) -> None:
        self._themes_dir = themes_dir
        self._plugins = plugins
        self._environments: dict[tuple[str, frozenset[str], str], Environment] = {}
        self._callables: dict[str, Callable[..., Any]] = {}

    def environment(self, theme: str, plugins: frozenset[str], locale: str) -> Environment:
        key = (theme, plugins, locale)
        env = self._environments.get(key)
        if env is None:
            env = self._environments[key] = self._build(theme, plugins, locale)
        return env

    def render(
        self,
        name: str,
        *,
        theme: str,
        plugins: frozenset[str],
        locale: str,
        context: Mapping[str, Any],
    ) -> str:
        env = self.environment(theme, plugins, locale)
        return env.get_template(name).render(
            {"locale": locale, "text_direction": text_direction(locale), "theme": theme, **context}
        )

    def register_callable(self, key: str, fn: Callable[..., Any]) -> None:
        self._callables[key] = fn
        for env in self._environments.values():
            env.globals[key] = fn

    def _build(self, theme: str, plugins: frozenset[str], locale: str) -> Environment:
        search: list[Any] = [FileSystemLoader(self._themes_dir / theme / "templates")]
        if theme != "default":
            search.append(FileSystemLoader(self._themes_dir / "default" / "templates"))
        hooks = self._plugins.hooks_for_plugins(plugins)
        for dirs in hooks.register_template_dirs():
            search += [FileSystemLoader(d) for d in dirs]
        core = FileSystemLoader(CORE_TEMPLATES)
        # "core/base.html" always names the core template, so a theme can extend it.
        search += [core, PrefixLoader({"core": core})]
        env = Environment(
            loader=ChoiceLoader(search),
            autoescape=select_autoescape(["html", "xml", "txt"], default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            bytecode_cache=_COMPILED,
        )
        # Match the extraction (babel.cfg: trimmed = true) so multi-line {% trans %}
        # blocks are looked up by the same msgid they were extracted with.
        env.policies["ext.i18n.trimmed"] = True
        env.install_gettext_translations(translations(locale), newstyle=True)  # type: ignore[attr-defined]
        env.globals.update(self._callables)
        env.globals["language_name"] = language_name
        env.globals["language_name_in_page"] = partial(language_name_in, locale=locale)
        return env


class LitestarTemplates(TemplateEngineProtocol[Any, Any]):
    """Adapter so that ``litestar.response.Template`` renders through :class:`TemplateRenderer`."""

    def __init__(
        self, directory: Path | list[Path] | None = None, engine_instance: Any | None = None
    ) -> None:
        if not isinstance(engine_instance, TemplateRenderer):
            raise TypeError("LitestarTemplates needs a TemplateRenderer as engine_instance")
        self.renderer = engine_instance

    def get_template(self, template_name: str) -> _RequestTemplate:
        return _RequestTemplate(self.renderer, template_name)

    def render_string(self, template_string: str, context: Mapping[str, Any]) -> str:
        raise NotImplementedError("Tandem renders named templates only")

    def register_template_callable(self, key: str, template_callable: Callable[..., Any]) -> None:
        self.renderer.register_callable(key, template_callable)


class _RequestTemplate:
    def __init__(self, renderer: TemplateRenderer, name: str) -> None:
        self._renderer = renderer
        self._name = name

    def render(self, **context: Any) -> str:
        ctx = request_context(context["request"])
        return self._renderer.render(
            self._name,
            theme=ctx.theme,
            plugins=ctx.plugins,
            locale=ctx.locale,
            context={
                "site": ctx.site,
                "tenant": ctx.tenant,
                "offered_locales": ctx.offered_locales,
                **context,
            },
        )
