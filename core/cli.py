"""The ``tandem`` command: serve, migrate, sync tenants, manage plugins, run workers."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from pydantic import ValidationError

from core.settings import Settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        messages = "; ".join(_config_error(err) for err in exc.errors())
        raise click.ClickException(f"configuration error: {messages}") from None


def _config_error(err: Any) -> str:
    """One readable line per error, naming the environment variable when there is one."""
    message = err["msg"].removeprefix("Value error, ")
    field = ".".join(str(part) for part in err.get("loc", ()))
    return f"TANDEM_{field.upper()}: {message}" if field else message


def _run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(coro_factory())  # type: ignore[arg-type]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log more.")
def main(verbose: bool) -> None:
    """Tandem: mentoring partnerships for many organisations on one platform."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


# --- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations (as the table owner, TANDEM_MIGRATION_DATABASE_URL)."""
    from core.db.migrate import upgrade

    upgrade(_settings(), revision)


@db.command("downgrade")
@click.argument("revision", default="base")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (default: base, an empty database)."""
    from core.db.migrate import downgrade

    downgrade(_settings(), revision)


@db.command("create-app-role")
@click.option(
    "--password-env",
    default=None,
    help="Environment variable holding the role's password (none: trust auth).",
)
def db_create_app_role(password_env: str | None) -> None:
    """Create the PostgreSQL login role the application connects as (TANDEM_APP_DB_ROLE).

    Connects with TANDEM_MIGRATION_DATABASE_URL (a role allowed to create roles).
    """
    import os

    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    from core.db.postgres import create_app_role

    settings = _settings()
    url = settings.migration_database_url
    if not url.startswith("postgresql"):
        raise click.ClickException("create-app-role is for PostgreSQL only")
    password = None
    if password_env:
        password = os.environ.get(password_env)
        # A typo in the variable's name must not leave a role without a password.
        if not password:
            raise click.ClickException(f"environment variable {password_env} is not set")

    async def go() -> None:
        engine = create_async_engine(url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(create_app_role, settings.app_db_role, password)
        finally:
            await engine.dispose()

    _run(go)
    click.echo(f"role {settings.app_db_role} is ready (LOGIN, NOBYPASSRLS, owns nothing)")


# --- tenants ----------------------------------------------------------------------------


@main.group()
def tenants() -> None:
    """The tenants/ files and the tenants in the database."""


@tenants.command("sync")
@click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
def tenants_sync(dry_run: bool) -> None:
    """Make the database match the tenants/ files (idempotent)."""
    from core.db.sessions import Database
    from core.pluginhost.manager import PluginHost
    from core.tenancy.files import TenantFilesError
    from core.tenancy.sync import sync_tenants

    settings = _settings()

    async def go() -> list[str]:
        db = Database(settings.database_url)
        try:
            report = await sync_tenants(
                db, PluginHost.load(), settings.tenants_dir, settings.themes_dir, dry_run=dry_run
            )
        finally:
            await db.dispose()
        return report.lines()

    try:
        lines = _run(go)
    except TenantFilesError as exc:
        click.echo("tenants/ has errors; nothing was changed:", err=True)
        for problem in exc.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(2)
    prefix = "(dry run) " if dry_run else ""
    for line in lines:
        click.echo(prefix + line)


@tenants.command("list")
def tenants_list() -> None:
    """List the tenants in the database."""
    from sqlalchemy import select

    from core.db.sessions import Database
    from core.tenancy.models import Tenant

    settings = _settings()

    async def go() -> list[Tenant]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session:
                return list(await session.scalars(select(Tenant).order_by(Tenant.slug)))
        finally:
            await db.dispose()

    for tenant in _run(go):
        click.echo(
            f"{tenant.slug:20} {tenant.status.value:10} {','.join(tenant.locales):8} "
            f"{tenant.chosen_theme or tenant.theme:12} {tenant.name}"
        )


# --- demo data --------------------------------------------------------------------------


@main.group()
def demo() -> None:
    """Demo data for the demo tenants (muenchen, augsburg, toronto)."""


@demo.command("load")
@click.option("--reset", is_flag=True, help="Delete the demo programme first, then load anew.")
def demo_load(reset: bool) -> None:
    """Load a demo programme with cohorts, applications, tandems, meetings and check-ins.

    Idempotent: a tenant that has the demo already is left as it is. Needs the tenants'
    members, so run `tandem tenants sync` first.
    """
    from core.db.sessions import Database
    from core.demo.loader import DemoError, load_demo
    from core.pluginhost.manager import PluginHost

    settings = _settings()

    async def go() -> list[str]:
        db = Database(settings.database_url)
        try:
            return await load_demo(db, PluginHost.load(), reset=reset)
        finally:
            await db.dispose()

    try:
        lines = _run(go)
    except DemoError as exc:
        raise click.ClickException(str(exc)) from None
    for line in lines:
        click.echo(line)


# --- plugins ----------------------------------------------------------------------------


@main.group()
def plugins() -> None:
    """Installed plugins and their per-tenant state."""


@plugins.command("list")
@click.option("--tenant", "slug", default=None, help="Show which plugins this tenant enabled.")
def plugins_list(slug: str | None) -> None:
    """List installed plugins (and, with --tenant, their state there)."""
    from core.pluginhost.manager import PluginHost

    host = PluginHost.load()
    state: dict[str, Any] = {}
    if slug:
        state = _run(lambda: _tenant_plugin_state(slug))
    for plugin_id, info in sorted(host.infos.items()):
        line = f"{plugin_id:20} {info.version:8} {info.name}"
        if slug:
            row = state.get(plugin_id)
            line += "  [enabled]" if row and row["enabled"] else "  [disabled]"
            if row and row["enabled"]:
                line += " " + json.dumps(row["settings"], ensure_ascii=False)
        click.echo(line)


@plugins.command("show")
@click.argument("plugin_id")
def plugins_show(plugin_id: str) -> None:
    """Describe a plugin and print its settings schema."""
    from core.pluginhost.manager import PluginHost

    try:
        info = PluginHost.load().info(plugin_id)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    click.echo(f"{info.name} ({info.id} {info.version})\n{info.description}\n")
    click.echo(json.dumps(info.settings_schema(), indent=2, ensure_ascii=False))


@plugins.command("enable")
@click.argument("plugin_id")
@click.option("--tenant", "slug", required=True)
@click.option(
    "--settings",
    "settings_json",
    default=None,
    help='Settings as JSON, e.g. \'{"title": {"en": "Hello"}}\'; omitted: keep.',
)
def plugins_enable(plugin_id: str, slug: str, settings_json: str | None) -> None:
    """Enable PLUGIN_ID for a tenant, with settings validated against its schema."""
    settings = None
    if settings_json is not None:
        try:
            settings = json.loads(settings_json)
        except json.JSONDecodeError as exc:
            raise click.ClickException(f"--settings is not valid JSON: {exc}") from None
        if not isinstance(settings, dict):
            raise click.ClickException("--settings must be a JSON object")
    _change_plugin(slug, plugin_id, enabled=True, settings=settings)


@plugins.command("disable")
@click.argument("plugin_id")
@click.option("--tenant", "slug", required=True)
def plugins_disable(plugin_id: str, slug: str) -> None:
    """Disable PLUGIN_ID for a tenant (its settings are kept)."""
    _change_plugin(slug, plugin_id, enabled=False, settings=None)


def _change_plugin(slug: str, plugin_id: str, *, enabled: bool, settings: Any) -> None:
    from core.db.sessions import Database
    from core.pluginhost.info import PluginSettingsError
    from core.pluginhost.manager import PluginHost
    from core.pluginhost.service import set_plugin_state

    app_settings = _settings()
    host = PluginHost.load()

    async def go() -> str | None:
        db = Database(app_settings.database_url)
        try:
            tenant = await _tenant_by_slug(db, slug)
            async with db.tenant_session(tenant.id) as session, session.begin():
                return await set_plugin_state(
                    session, host, plugin_id, enabled=enabled, settings=settings
                )
        finally:
            await db.dispose()

    try:
        change = _run(go)
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    except PluginSettingsError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{slug}: {change}" if change else f"{slug}: unchanged")


async def _tenant_by_slug(db: Any, slug: str) -> Any:
    from sqlalchemy import select

    from core.tenancy.models import Tenant

    async with db.platform_session() as session:
        tenant = await session.scalar(select(Tenant).where(Tenant.slug == slug))
    if tenant is None:
        raise KeyError(f"no tenant {slug!r}")
    return tenant


async def _tenant_plugin_state(slug: str) -> dict[str, Any]:
    from core.db.sessions import Database
    from core.pluginhost.service import plugin_rows

    db = Database(_settings().database_url)
    try:
        tenant = await _tenant_by_slug(db, slug)
        async with db.tenant_session(tenant.id) as session:
            rows = await plugin_rows(session)
            return {pid: {"enabled": r.enabled, "settings": r.settings} for pid, r in rows.items()}
    except KeyError as exc:
        raise click.ClickException(exc.args[0]) from None
    finally:
        await db.dispose()


# --- operators --------------------------------------------------------------------------


@main.group()
def operators() -> None:
    """The people who run the deployment (the operator console on the platform host)."""


@operators.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the e-mail address).")
@click.option(
    "--subject",
    default=None,
    help="Their subject ('sub') at the operators' OpenID provider (TANDEM_OPERATOR_OIDC_ISSUER):"
    " the account they sign in with on the platform host.",
)
def operators_add(email: str, name: str, subject: str | None) -> None:
    """Create an operator with EMAIL, or link one to --subject (nothing happens twice).

    Operators sign in on the platform host with the provider's account SUBJECT only;
    their e-mail address never decides who they are.
    """
    from core.db.sessions import Database
    from core.identity.operators import Added, OperatorError, add_operator, check_subject
    from core.mail.compose import MailError, check_address

    try:
        email = check_address(email)
    except MailError as exc:
        raise click.ClickException(str(exc)) from None
    name = name.strip()
    if len(name) > 200 or not name.isprintable():
        raise click.ClickException("--name must be one line of at most 200 characters")
    settings = _settings()
    identity = None
    if subject is not None:
        try:
            subject = check_subject(subject)
        except OperatorError as exc:
            raise click.BadParameter(str(exc), param_hint="--subject") from None
        if not settings.operator_sign_in_configured:
            raise click.ClickException(
                "--subject links the operator's account at the operators' OpenID provider, "
                "but none is configured: set TANDEM_OPERATOR_OIDC_ISSUER, "
                "TANDEM_OPERATOR_OIDC_CLIENT_ID and TANDEM_OPERATOR_OIDC_CLIENT_SECRET"
            )
        identity = (settings.operator_oidc_issuer, subject)

    async def go() -> tuple[Added, str | None]:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session, session.begin():
                added, user = await add_operator(session, email, name, identity)
                return added, user.email
        finally:
            await db.dispose()

    try:
        added, account_email = _run(go)
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    signs_in = f" (signs in as {subject!r} at {identity[0]})" if identity else ""
    click.echo(
        {
            Added.CREATED: f"operator {email} created{signs_in}",
            Added.LINKED: f"operator {email} linked{signs_in}",
            Added.PROMOTED: f"the existing account {account_email or '(no e-mail)'} is now "
            f"an operator{signs_in}",
            Added.UNCHANGED: f"operator {email} exists already{signs_in}",
        }[added]
    )


@operators.command("remove")
@click.argument("email")
def operators_remove(email: str) -> None:
    """Take the operator role from EMAIL and end their sessions on the platform host.

    The account itself stays: it may take part in tenants.
    """
    from core.db.sessions import Database
    from core.identity.operators import OperatorError, remove_operator
    from core.identity.sessions import end_sessions_of
    from core.mail.compose import MailError, check_address

    try:
        email = check_address(email)
    except MailError as exc:
        raise click.ClickException(str(exc)) from None
    settings = _settings()

    async def go() -> bool:
        db = Database(settings.database_url)
        try:
            async with db.platform_session() as session, session.begin():
                user_ids = await remove_operator(session, email)
            # After the commit: a sign-in racing with this finds no operator any more.
            return any([await end_sessions_of(db, user_id, None) for user_id in user_ids])
        finally:
            await db.dispose()

    try:
        ended = _run(go)
    except OperatorError as exc:
        raise click.ClickException(str(exc)) from None
    signed_out = "; their sessions on the platform host were ended" if ended else ""
    click.echo(f"{email} is no operator any more{signed_out}")


# --- matching ---------------------------------------------------------------------------

# Exit statuses (docs/matching.md): 0 solved, 1 the run failed, 2 the input was wrong.
_MODES = click.Choice(["optimal", "stable"])


class _BadInput(Exception):
    """What the user gave cannot be used: exit status 2 with these lines."""

    def __init__(self, heading: str, lines: list[str] | None = None) -> None:
        super().__init__(heading)
        self.heading = heading
        self.lines = lines or []


def _bad_input(exc: _BadInput) -> NoReturn:
    click.echo(exc.heading, err=True)
    for line in exc.lines:
        click.echo(f"  {line}", err=True)
    sys.exit(2)


def _match_options(base: Any, mode: str | None, maximise: bool | None, seed: int | None) -> Any:
    """The run's options: the command line wins over the file's."""
    from dataclasses import replace

    from core.matching.problem import Mode

    changes: dict[str, Any] = {}
    if mode is not None:
        changes["mode"] = Mode(mode)
    if maximise is not None:
        changes["maximise_matched"] = maximise
    if seed is not None:
        changes["seed"] = seed
    return replace(base, **changes)


def _solve_problem(problem: Any, options: Any) -> Any:
    from core.matching.solver import solve

    try:
        return solve(problem, options)
    except RuntimeError as exc:  # a criterion plugin's bug, or a proof that failed
        raise click.ClickException(str(exc)) from None
    except ValueError as exc:  # the solver refuses the problem as given (e.g. a lock)
        raise _BadInput(f"cannot solve: {exc}") from None


def _emit(text: str, output: Any) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")


def _match_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--mode", type=_MODES, default=None, help="optimal or stable."),
            click.option(
                "--maximise-matched/--no-maximise-matched",
                "maximise",
                default=None,
                help="First the number of mentees matched, then the score.",
            ),
            click.option(
                "--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Tie-breaking."
            ),
            click.option(
                "--output",
                "-o",
                type=click.Path(dir_okay=False, writable=True, path_type=Path),
                default=None,
                help="Write the JSON here instead of standard output.",
            ),
        ]
    ):
        command = option(command)
    return command


@main.group()
def match() -> None:
    """Matching: solve instance files, run a cohort's matching (see docs/matching.md)."""


@match.command("solve")
@click.argument("instance_file", type=click.File("rb"))
@_match_flags
def match_solve(
    instance_file: Any, mode: str | None, maximise: bool | None, seed: int | None, output: Any
) -> None:
    """Solve INSTANCE_FILE (JSON; - reads standard input) and print the assignment as JSON.

    Touches no database. Options given here override the file's "options".
    """
    from core.matching import instance as instances
    from core.pluginhost.manager import PluginHost

    try:
        loaded = instances.load(instance_file.read(), PluginHost.load())
        options = _match_options(loaded.options, mode, maximise, seed)
        solution = _solve_problem(loaded.problem, options)
    except instances.InstanceError as exc:
        _bad_input(_BadInput(f"{instance_file.name}: invalid instance", str(exc).splitlines()))
    except _BadInput as exc:
        _bad_input(exc)
    answer = instances.solution_json(loaded.problem, options, solution)
    _emit(instances.dumps(answer), output)


@match.command("schema")
def match_schema() -> None:
    """Print the JSON Schema of instance files."""
    from core.matching.instance import schema_text

    click.echo(schema_text(), nl=False)


@match.command("run")
@click.option("--tenant", "slug", required=True, help="The tenant's slug.")
@click.option("--cohort", "cohort_slug", required=True, help="The cohort's slug in that tenant.")
@click.option(
    "--weight",
    "weights",
    multiple=True,
    metavar="CRITERION=WEIGHT",
    help="What-if: another weight for a score criterion (repeatable).",
)
@click.option("--save", is_flag=True, help="Store the run and its proposals for the cohort's page.")
@_match_flags
def match_run(
    slug: str,
    cohort_slug: str,
    weights: tuple[str, ...],
    save: bool,
    mode: str | None,
    maximise: bool | None,
    seed: int | None,
    output: Any,
) -> None:
    """Match a cohort's accepted applications under the tenant's enabled criteria.

    Prints the same JSON as `solve`, with application ids and names. Changes nothing
    unless --save is given; saved runs show on the cohort's matching page, from where
    proposals are sent.
    """
    from core.db.sessions import Database
    from core.matching import instance as instances
    from core.matching.candidates import cohort_problem
    from core.matching.problem import Options
    from core.matching.tenant_criteria import criteria_for
    from core.pairings.services import cohort_by_slug
    from core.pluginhost.manager import PluginHost
    from core.tenancy.snapshot import take_snapshot

    settings = _settings()
    host = PluginHost.load()
    options = _match_options(Options(), mode, maximise, seed)

    async def go() -> tuple[Any, Any, Any, str | None]:
        db = Database(settings.database_url)
        try:
            try:
                tenant = await _tenant_by_slug(db, slug)
            except KeyError as exc:
                raise _BadInput(exc.args[0]) from None
            snapshot = await take_snapshot(db, tenant)
            try:
                criteria = criteria_for(host, snapshot, _weights(weights))
            except ValueError as exc:
                raise _BadInput(f"{slug}: {exc}") from None
            # One transaction from reading to saving: a run is stored only for the
            # applications and tandems it saw.
            async with db.tenant_session(tenant.id) as session, session.begin():
                cohort = await cohort_by_slug(session, cohort_slug)
                if cohort is None:
                    raise _BadInput(f"tenant {slug!r} has no cohort {cohort_slug!r}")
                problem, people = await cohort_problem(session, cohort, criteria)
                solution = _solve_problem(problem, options)
                run_id = None
                if save:
                    run_id = await _save_run(
                        session, cohort, criteria, options, problem, people, solution
                    )
            return problem, people, solution, run_id
        finally:
            await db.dispose()

    try:
        problem, people, solution, run_id = _run(go)
    except _BadInput as exc:
        _bad_input(exc)
    answer = {
        "tenant": slug,
        "cohort": cohort_slug,
        **({"run": run_id} if run_id else {}),
        **instances.solution_json(problem, options, solution, names=True),
        "paired_mentees": [str(app) for app in people.paired_mentees],
        "full_mentors": [str(app) for app in people.full_mentors],
        "skipped_constraints": [
            {
                "kind": str(skip.kind),
                "mentee": str(skip.mentee_application_id),
                "mentor": str(skip.mentor_application_id),
                "reason": skip.reason,
            }
            for skip in people.skipped
        ],
    }
    _emit(instances.dumps(answer), output)


async def _save_run(
    session: Any,
    cohort: Any,
    criteria: Any,
    options: Any,
    problem: Any,
    people: Any,
    solution: Any,
) -> str:
    """Store a solved run as the cohort's page would (core.matching.services)."""
    from core.identity import audit
    from core.matching.criteria import CriterionKind
    from core.matching.models import MatchRun, RunStatus
    from core.matching.services import RUN_STARTED, store_solution

    chosen = {
        "mode": str(options.mode),
        "maximise_matched": options.maximise_matched,
        "seed": options.seed,
    }
    run = MatchRun(
        cohort_id=cohort.id,
        status=RunStatus.RUNNING,
        options=chosen,
        weights={c.id: float(c.weight) for c in criteria if c.kind is CriterionKind.SCORE},
        filters=[c.id for c in criteria if c.kind is CriterionKind.FILTER],
    )
    session.add(run)
    await session.flush()
    details = {"run_id": str(run.id), "cohort": cohort.slug, **chosen, "via": "command line"}
    audit.record(session, RUN_STARTED, None, details)
    await store_solution(session, run, problem, people, solution)
    return str(run.id)


def _weights(values: tuple[str, ...]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for value in values:
        criterion, _, weight = value.partition("=")
        try:
            weights[criterion.strip()] = float(weight)
        except ValueError:
            raise _BadInput(f"--weight {value!r}: expected CRITERION=NUMBER") from None
    return weights


# --- periodic jobs ----------------------------------------------------------------------


@main.group()
def jobs() -> None:
    """Periodic jobs: the schedule, and running tasks by hand."""


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if value is not None else "-"


def _declared_tasks() -> dict[str, Any]:
    """The periodic tasks, as a web process or worker declares them: plugins' too."""
    from core.jobs.schedule import load_core_tasks
    from core.pluginhost.manager import PluginHost

    PluginHost.load()  # imports the plugins, whose modules may declare tasks
    return load_core_tasks()


@jobs.command("schedule")
def jobs_schedule() -> None:
    """List the periodic tasks with their last and next run (times in UTC)."""
    from core.db.sessions import Database
    from core.jobs.schedule import format_interval, schedule_status

    settings = _settings()
    _declared_tasks()

    async def go() -> list[Any]:
        db = Database(settings.database_url)
        try:
            return await schedule_status(db)
        finally:
            await db.dispose()

    click.echo(f"{'TASK':34} {'SCOPE':8} {'EVERY':6} {'NEXT RUN':19}  {'LAST RUN':19}  JOBS")
    for task in _run(go):
        next_run = _when(task.next_run_at) if task.next_run_at else "next scheduler pass"
        line = (
            f"{task.name:34} {task.scope:8} {format_interval(task.every):6} {next_run:19}  "
            f"{_when(task.last_run_at):19}  {task.last_enqueued_count}"
        )
        if not task.declared:
            line += "  (not declared in this code: ignored)"
        click.echo(line)


@jobs.command("run-due")
def jobs_run_due() -> None:
    """Enqueue the tasks that are due now (what every scheduler loop does each pass)."""
    from core.db.sessions import Database
    from core.jobs.schedule import run_due

    settings = _settings()
    _declared_tasks()

    async def go() -> list[Any]:
        db = Database(settings.database_url)
        try:
            return await run_due(db)
        finally:
            await db.dispose()

    reports = _run(go)
    for report in reports:
        click.echo(report.line())
    if not reports:
        click.echo("nothing is due")


@jobs.command("run")
@click.argument("task")
@click.option("--tenant", "slug", default=None, help="Only this tenant (tenant tasks only).")
def jobs_run(task: str, slug: str | None) -> None:
    """Enqueue TASK now, whatever its schedule (its next scheduled run stays as it is)."""
    from core.db.sessions import Database
    from core.jobs.schedule import UnknownTaskError, run_task

    settings = _settings()
    tasks = _declared_tasks()
    if task not in tasks:
        raise click.BadParameter(str(UnknownTaskError(task, tasks)), param_hint="TASK")
    if slug is not None and tasks[task].scope != "tenant":
        raise click.BadParameter(f"{task} is a platform task", param_hint="--tenant")

    async def go() -> Any:
        db = Database(settings.database_url)
        try:
            tenant_ids = None
            if slug is not None:
                try:
                    tenant_ids = [(await _tenant_by_slug(db, slug)).id]
                except KeyError as exc:
                    raise click.BadParameter(exc.args[0], param_hint="--tenant") from None
            return await run_task(db, task, tenant_ids=tenant_ids)
        finally:
            await db.dispose()

    click.echo(_run(go).line())
    click.echo("the workers run the jobs once the outbox relay has sent them")


# --- stored secrets ---------------------------------------------------------------------


@main.group("secrets")
def secrets_group() -> None:
    """Secrets stored encrypted (TANDEM_ENCRYPTION_KEYS): new keys, rotation."""


@secrets_group.command("new-key")
@click.option("--id", "key_id", default="k1", show_default=True, help="The key's id.")
def secrets_new_key(key_id: str) -> None:
    """Print a new 'keyid:base64key' entry for TANDEM_ENCRYPTION_KEYS."""
    from core.crypto import new_key_entry

    try:
        click.echo(new_key_entry(key_id))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@secrets_group.command("rotate")
@click.option("--dry-run", is_flag=True, help="Report what would change, change nothing.")
def secrets_rotate(dry_run: bool) -> None:
    """Re-encrypt every stored secret with the first key of TANDEM_ENCRYPTION_KEYS.

    All or nothing: if any secret cannot be decrypted with the keys given, nothing
    changes and the command lists them.
    """
    from core.crypto import Keyring, SecretBoxError
    from core.db.sessions import Database
    from core.identity.providers import RotationFailed, rotate_client_secrets

    settings = _settings()
    keyring = Keyring.from_settings(settings)

    async def go() -> list[str]:
        db = Database(settings.database_url)
        try:
            report = await rotate_client_secrets(db, keyring, dry_run=dry_run)
        finally:
            await db.dispose()
        return report.lines()

    try:
        lines = _run(go)
    except RotationFailed as exc:
        click.echo(f"{exc}:", err=True)
        for line in exc.report.lines():
            click.echo(f"  {line}", err=True)
        sys.exit(2)
    except SecretBoxError as exc:
        raise click.ClickException(str(exc)) from None
    prefix = "(dry run) " if dry_run else ""
    for line in lines or ["no stored secrets"]:
        click.echo(prefix + line)


# --- serving ----------------------------------------------------------------------------


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=None, type=int, help="Default: TANDEM_PORT (8000).")
@click.option("--reload", is_flag=True, help="Restart on code changes (development).")
def serve(host: str, port: int | None, reload: bool) -> None:
    """Serve the web application (with an in-process job worker when no broker is set)."""
    import uvicorn

    settings = _settings()
    uvicorn.run(
        "core.web.asgi:app",
        host=host,
        port=port or settings.port,
        reload=reload,
        proxy_headers=settings.trust_forwarded_host,
        server_header=False,
    )


@main.command("worker")
@click.option("--threads", default=4, show_default=True, help="Worker threads.")
def worker(threads: int) -> None:
    """Run job workers and the outbox relay (needs TANDEM_BROKER_URL)."""
    import dramatiq

    # Imported for their side effect: they declare the core and matching actors.
    import core.events
    import core.matching.jobs  # noqa: F401
    from core.db.sessions import Database
    from core.jobs.actors import JobRuntime
    from core.jobs.broker import build_broker
    from core.jobs.relay import OutboxRelay
    from core.jobs.schedule import Scheduler, load_core_tasks
    from core.mail import configure_mail  # also declares core.send_mail
    from core.pluginhost.manager import PluginHost

    settings = _settings()
    if not settings.broker_url:
        raise click.ClickException(
            "TANDEM_BROKER_URL is not set: without a broker the web process runs jobs itself"
        )
    configure_mail(settings)
    host = PluginHost.load()
    load_core_tasks()  # declares the periodic tasks' actors
    broker = build_broker(settings.broker_url)
    JobRuntime.configure(lambda: (Database(settings.database_url), host))
    job_worker = dramatiq.Worker(broker, worker_threads=threads)
    job_worker.start()

    async def relay_until_stopped() -> None:
        db = Database(settings.database_url)
        relay = OutboxRelay(db, broker, settings.outbox_poll_seconds)
        relay.start()
        scheduler = Scheduler.start_if_enabled(db, settings.scheduler_poll_seconds)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        click.echo(f"worker running with {threads} threads; Ctrl-C to stop")
        await stop.wait()
        if scheduler is not None:
            await scheduler.stop()
        await relay.stop()
        await db.dispose()

    try:
        asyncio.run(relay_until_stopped())
    finally:
        job_worker.stop()
        broker.close()
