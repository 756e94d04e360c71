"""Matching runs end to end, on SQLite and PostgreSQL: the services, the job and the JSON API
(``/api/v1/cohorts/<cohort>/matching``).

München runs a cohort with six accepted mentees (A1 to A6) and four accepted mentors (B1
with two places, B2 to B4 with one: five places in all), with the built-in criteria
plugins for occupation and availability (scores) and conflict of interest (a filter)
enabled. A7 is a mentee still in review (never a candidate). Clara coordinates; Amira
(A1) and Jonas (B1) are participants; Omar coordinates Augsburg (another tenant).
Everything after the seed goes through the code under test.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.sessions import Database
from core.identity.models import AuditEntry, Membership, User
from core.identity.sessions import start_session
from core.jobs.models import OutboxMessage
from core.matching import jobs, services
from core.matching.criteria import SCALE, CriterionKind
from core.matching.models import MatchConstraint, MatchProposal, MatchRun, MatchUnmatched
from core.matching.tenant_criteria import criteria_for
from core.pairings import services as pairings
from core.pairings.lifecycle import PairingState
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.programmes.models import Cohort, Programme
from core.settings import Settings
from core.tenancy.snapshot import TenantSnapshot, load_snapshot
from tests.conftest import make_app
from tests.test_identity_sessions import login
from tests.test_jobs_outbox import tenants_without_jobs
from tests.test_pairings import api

Client = AsyncTestClient[Litestar]
MUENCHEN = "muenchen.localhost:8000"
AUGSBURG = "augsburg.localhost:8000"
COHORT = "2027-spring"
OTHER_COHORT = "2027-autumn"
PLUGINS = ("match_occupation", "match_availability", "match_conflict")
BASE = f"/api/v1/cohorts/{COHORT}/matching"

# name: (kind, occupation, capacity, availability, user)
PEOPLE: dict[str, tuple[ApplicationKind, str, int | None, list[str]]] = {
    "A1": (ApplicationKind.MENTEE, "214", None, ["weekday_evening"]),
    "A2": (ApplicationKind.MENTEE, "214", None, ["weekend_daytime"]),
    "A3": (ApplicationKind.MENTEE, "222", None, ["weekday_evening", "weekend_daytime"]),
    "A4": (ApplicationKind.MENTEE, "251", None, ["weekday_daytime"]),
    "A5": (ApplicationKind.MENTEE, "222", None, ["weekend_evening"]),
    "A6": (ApplicationKind.MENTEE, "251", None, ["weekday_evening"]),
    "B1": (ApplicationKind.MENTOR, "214", 2, ["weekday_evening", "weekend_daytime"]),
    "B2": (ApplicationKind.MENTOR, "222", 1, ["weekend_evening"]),
    "B3": (ApplicationKind.MENTOR, "251", 1, ["weekday_daytime", "weekday_evening"]),
    "B4": (ApplicationKind.MENTOR, "214", 1, ["weekend_daytime"]),
}


@dataclass
class World:
    db: Database
    plugins: PluginHost
    tenant_id: uuid.UUID
    augsburg_id: uuid.UUID
    cohort: Cohort
    other_cohort: Cohort
    users: dict[str, User]
    apps: dict[str, Application]
    web: Client | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    async def tenant(self) -> TenantSnapshot:
        snapshot = await load_snapshot(self.db, self.tenant_id)
        assert snapshot is not None
        return snapshot

    def name_of(self, application_id: uuid.UUID | str) -> str:
        wanted = uuid.UUID(str(application_id))
        return next(name for name, app in self.apps.items() if app.id == wanted)


def _application(
    cohort: Cohort, name: str, user: User | None, *, status: ApplicationStatus | None = None
) -> Application:
    kind, occupation, capacity, slots = PEOPLE.get(
        name, (ApplicationKind.MENTEE, "214", None, ["weekday_evening"])
    )
    return Application(
        cohort_id=cohort.id,
        kind=kind,
        status=status or ApplicationStatus.ACCEPTED,
        user_id=user.id if user else None,
        name=f"Person {name}",
        email=f"{name.lower()}@apply.example",
        locale="de" if name.endswith(("1", "3", "5")) else "en",
        occupation_code=occupation,
        availability=slots,
        languages=[{"code": "de", "level": "B2"}],
        years_experience=2 if kind is ApplicationKind.MENTEE else 12,
        employer="Stadtwerke" if kind is ApplicationKind.MENTOR else "",
        consent_version="1",
        capacity=capacity,
    )


async def seed(db: Database, plugins: PluginHost) -> World:
    ids = await tenants_without_jobs(db)
    tenant_id = ids["muenchen"]
    roles = {"clara": ["admin"], "amira": ["mentee"], "jonas": ["mentor"]}
    async with db.platform_session() as session, session.begin():
        users = {
            name: User(display_name=name.title(), email=f"{name}@example.org")
            for name in [*roles, "omar"]
        }
        session.add_all(users.values())
    async with db.tenant_session(tenant_id) as session, session.begin():
        session.add_all(Membership(user_id=users[n].id, roles=r) for n, r in roles.items())
        # Exactly these criteria, whatever tenants/muenchen.toml enables.
        for plugin_id in sorted(plugins.infos):
            if plugin_id.startswith("match_"):
                enabled = plugin_id in PLUGINS
                await set_plugin_state(session, plugins, plugin_id, enabled=enabled)
    async with db.tenant_session(ids["augsburg"]) as session, session.begin():
        session.add(Membership(user_id=users["omar"].id, roles=["admin"]))
    today = date.today()
    async with db.tenant_session(tenant_id) as session, session.begin():
        programme = Programme(slug="mentoring", name="Mentoring", duration_weeks=16)
        session.add(programme)
        await session.flush()
        cohorts = []
        for slug, name in ((COHORT, "Frühjahr 2027"), (OTHER_COHORT, "Herbst 2027")):
            cohort = Cohort(
                programme_id=programme.id,
                slug=slug,
                name=name,
                applications_open_on=today - timedelta(days=60),
                applications_close_on=today - timedelta(days=30),
                starts_on=today - timedelta(days=20),
                ends_on=today + timedelta(days=100),
            )
            session.add(cohort)
            cohorts.append(cohort)
        await session.flush()
        cohort, other = cohorts
        owners = {"A1": users["amira"], "B1": users["jonas"]}
        apps = {name: _application(cohort, name, owners.get(name)) for name in PEOPLE}
        apps["A7"] = _application(cohort, "A7", None, status=ApplicationStatus.IN_REVIEW)
        apps["X1"] = _application(other, "X1", None)  # a mentee of the other cohort
        session.add_all(apps.values())
    return World(db, plugins, tenant_id, ids["augsburg"], cohort, other, users, apps)


@pytest.fixture
async def world(synced: Database, plugins: PluginHost) -> World:
    return await seed(synced, plugins)


@pytest.fixture
async def web_world(world: World, settings: Settings) -> AsyncIterator[World]:
    async with AsyncTestClient(
        make_app(settings, world.plugins), base_url="http://localhost"
    ) as web:
        web.follow_redirects = False
        world.web = web
        yield world


# --- helpers ----------------------------------------------------------------------------------


async def as_user(w: World, name: str | None) -> None:
    """Sign the client in as ``name`` (Omar on Augsburg); None signs out."""
    assert w.web is not None
    if name is None:
        w.web.cookies.clear()
        return
    tenant_id = w.augsburg_id if name == "omar" else w.tenant_id
    if name not in w.tokens:
        w.tokens[name] = await start_session(w.db, tenant_id, w.users[name])
    login(w.web, w.tokens[name])


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/problem+json")
    return {e["key"]: e["message"] for e in response.json().get("errors", [])}


async def count(w: World, model: Any) -> int:
    async with w.db.tenant_session(w.tenant_id) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def proposals(w: World, run_id: uuid.UUID | str) -> list[MatchProposal]:
    async with w.db.tenant_session(w.tenant_id) as session:
        return list(
            await session.scalars(
                select(MatchProposal)
                .where(MatchProposal.run_id == uuid.UUID(str(run_id)))
                .order_by(MatchProposal.score.desc(), MatchProposal.mentee_application_id)
            )
        )


def pairs_of(w: World, rows: list[MatchProposal]) -> set[tuple[str, str]]:
    return {(w.name_of(p.mentee_application_id), w.name_of(p.mentor_application_id)) for p in rows}


async def run_here(w: World, raw: dict[str, Any] | None = None) -> MatchRun:
    """A run started through the service, committed."""
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, w.cohort.id)
        assert cohort is not None
        return await services.start_run(
            session,
            plugins=w.plugins,
            tenant=await w.tenant(),
            cohort=cohort,
            raw=raw or {},
            user_id=w.users["clara"].id,
        )


async def wait_for_run(w: World, run_id: str, *, seconds: float = 60) -> dict[str, Any]:
    """Poll the API until the run has ended (the app's in-process worker computes it)."""
    deadline = time.monotonic() + seconds
    while True:
        response = await api(w, "GET", f"{BASE}/runs/{run_id}")
        assert response.status_code == 200, response.text
        body = response.json()
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"run still {body['status']} after {seconds} s"
        await asyncio.sleep(0.2)


# --- the choices of a run ---------------------------------------------------------------------


async def test_the_tenants_criteria_are_the_defaults(world: World) -> None:
    criteria = criteria_for(world.plugins, await world.tenant())
    scores = {c.id: c.weight for c in criteria if c.kind is CriterionKind.SCORE}
    assert set(scores) == {"match_occupation", "match_availability"}
    choices = services.check_run({}, criteria)
    assert choices.weights == scores
    assert (choices.mode, choices.maximise_matched, choices.seed) == ("optimal", False, 0)
    what_if = services.check_run(
        {"weights": {"match_occupation": "2,5", "match_availability": 0}, "seed": "7"}, criteria
    )
    assert what_if.weights == {"match_occupation": 2.5, "match_availability": 0.0}
    assert what_if.seed == 7
    # Weight 0 leaves a criterion out of the run; the tenant's settings stay as they were.
    used = services.run_criteria(world.plugins, await world.tenant(), what_if.weights)
    assert [c.id for c in used if c.kind is CriterionKind.SCORE] == ["match_occupation"]
    assert next(c for c in used if c.id == "match_occupation").weight == 2.5
    again = criteria_for(world.plugins, await world.tenant())
    assert {c.id: c.weight for c in again if c.kind is CriterionKind.SCORE} == scores


@pytest.mark.parametrize(
    ("raw", "keys"),
    [
        ({"weights": {"match_occupation": -1}}, {"weights.match_occupation"}),
        ({"weights": {"match_occupation": 101}}, {"weights.match_occupation"}),
        ({"weights": {"match_occupation": "viel"}}, {"weights.match_occupation"}),
        ({"weights": {"match_occupation": True}}, {"weights.match_occupation"}),
        ({"weights": {"match_conflict": 1}}, {"weights.match_conflict"}),  # a filter
        ({"weights": {"nonsense": 1}}, {"weights.nonsense"}),
        ({"seed": -1}, {"seed"}),
        ({"seed": "1.5"}, {"seed"}),
        ({"seed": 2**31}, {"seed"}),
        ({"mode": "greedy"}, {"mode"}),
        ({"maximise_matched": "yes"}, {"maximise_matched"}),
        ({"colour": "blue"}, {"colour"}),
    ],
)
async def test_invalid_choices_store_nothing(
    world: World, raw: dict[str, Any], keys: set[str]
) -> None:
    with pytest.raises(services.InvalidInput) as refused:
        await run_here(world, raw)
    assert set(refused.value.problems) == keys
    assert await count(world, MatchRun) == 0
    assert await count(world, AuditEntry) == 0


# --- a small run, in the request --------------------------------------------------------------


async def test_small_run_is_computed_at_once(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await api(w, "POST", f"{BASE}/runs", {"seed": 3})
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "done" and run["progress"] == 1.0 and run["error"] is None
    assert run["options"] == {"mode": "optimal", "maximise_matched": False, "seed": 3}
    assert set(run["weights"]) == {"match_occupation", "match_availability"}
    assert run["filters"] == ["match_conflict"]
    summary = run["summary"]
    # Six waiting mentees, five places: five tandems, one mentee left over.
    assert (summary["mentees"], summary["mentors"], summary["places"]) == (6, 4, 5)
    assert summary["matched"] == 5 == run["proposals"]
    assert summary["proof"]["proven"] is True
    assert run["comparison"] is None  # the first run

    rows = await proposals(w, run["id"])
    assert len(rows) == 5
    assert sum(p.score for p in rows) == summary["total_score_millionths"]
    assert all(set(p.parts) == {"match_occupation", "match_availability"} for p in rows)
    # Capacities hold: B1 at most two mentees, the others one; each mentee once.
    mentors = [w.name_of(p.mentor_application_id) for p in rows]
    assert mentors.count("B1") <= 2
    assert all(mentors.count(m) <= 1 for m in ("B2", "B3", "B4"))
    assert len({p.mentee_application_id for p in rows}) == 5
    # The weighted mean of the parts is the score (weights 3 and 1 by default).
    weights = run["weights"]
    for p in rows:
        mean = sum(weights[c] * s for c, s in p.parts.items()) / sum(weights.values())
        assert abs(p.score - round(mean * SCALE)) <= 2

    unmatched = (await api(w, "GET", f"{BASE}/runs/{run['id']}/unmatched")).json()
    assert len(unmatched) == 1 and unmatched[0]["side"] == "mentee"
    assert unmatched[0]["reason"] == "capacity_exhausted"
    assert "places" in unmatched[0]["reason_text"]
    german = (await api(w, "GET", f"{BASE}/runs/{run['id']}/unmatched", lang="de")).json()
    assert german[0]["reason_text"] != unmatched[0]["reason_text"]

    listed = (await api(w, "GET", f"{BASE}/runs")).json()
    assert [r["id"] for r in listed] == [run["id"]]
    audit = [a for a in await _audits(w) if a.action == services.RUN_STARTED]
    assert len(audit) == 1 and audit[0].details["seed"] == 3


async def _audits(w: World) -> list[AuditEntry]:
    async with w.db.tenant_session(w.tenant_id) as session:
        return list(await session.scalars(select(AuditEntry)))


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_every_proposal_is_explained(web_world: World, lang: str) -> None:
    w = web_world
    await as_user(w, "clara")
    run = (await api(w, "POST", f"{BASE}/runs", {})).json()
    page = (await api(w, "GET", f"{BASE}/runs/{run['id']}/proposals", lang=lang)).json()
    assert page["total"] == 5 and len(page["proposals"]) == 5
    scores = [p["score"] for p in page["proposals"]]
    assert scores == sorted(scores, reverse=True)
    labels = {"en": {"Occupation"}, "de": {"Beruf"}}[lang]
    for proposal in page["proposals"]:
        reasons = proposal["reasons"]
        assert {r["criterion"] for r in reasons} == {
            "match_occupation",
            "match_availability",
            "match_conflict",
        }
        assert all(r["sentence"].strip() for r in reasons)
        assert labels & {r["label"] for r in reasons}
        assert [r["kind"] for r in reasons][-1] == "filter"  # filters after scores
        assert any(proposal["mentee"]["name"] in r["sentence"] for r in reasons)
    english = (await api(w, "GET", f"{BASE}/runs/{run['id']}/proposals", lang="en")).json()
    if lang == "de":
        assert [r["sentence"] for r in english["proposals"][0]["reasons"]] != [
            r["sentence"] for r in page["proposals"][0]["reasons"]
        ]
    paged = (await api(w, "GET", f"{BASE}/runs/{run['id']}/proposals?offset=3&limit=2")).json()
    assert [p["id"] for p in paged["proposals"]] == [p["id"] for p in english["proposals"][3:]]


async def test_stable_mode_reports_blocking_pairs(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await api(w, "POST", f"{BASE}/runs", {"mode": "stable", "maximise_matched": True})
    assert response.status_code == 201, response.text
    run = response.json()
    assert run["status"] == "done", run
    assert run["options"]["mode"] == "stable"
    assert run["summary"]["blocking_pairs"] == 0
    assert run["summary"]["matched"] == len(await proposals(w, run["id"])) > 0


async def test_same_input_and_seed_give_the_same_proposals(world: World) -> None:
    first = await run_here(world, {"seed": 11})
    second = await run_here(world, {"seed": 11})
    assert pairs_of(world, await proposals(world, first.id)) == pairs_of(
        world, await proposals(world, second.id)
    )


async def test_a_failing_solver_marks_the_run_failed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the solver fell over")

    monkeypatch.setattr(services, "solve", broken)
    run = await run_here(world)
    assert run.status == "failed"
    assert "the solver fell over" in run.error
    assert await count(world, MatchProposal) == 0
    async with world.db.tenant_session(world.tenant_id) as session:
        stored = await session.get(MatchRun, run.id)
        assert stored is not None and stored.status == "failed" and stored.finished_at


# --- a large run, through the job -------------------------------------------------------------


async def test_large_run_goes_through_the_job(
    web_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = web_world
    await as_user(w, "clara")
    inline = (await api(w, "POST", f"{BASE}/runs", {"seed": 5})).json()
    monkeypatch.setattr(services, "INLINE_PAIRS", 10)  # 6 x 4 pairs: too many now
    response = await api(w, "POST", f"{BASE}/runs", {"seed": 5})
    assert response.status_code == 201, response.text
    queued = response.json()
    assert queued["status"] in ("queued", "running", "done")
    async with w.db.platform_session() as session:
        jobs_queued = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == jobs.ACTOR_NAME)
        )
        assert [j.kwargs for j in jobs_queued] == [{"run_id": queued["id"]}]
    done = await wait_for_run(w, queued["id"])
    assert done["status"] == "done", done
    assert done["progress"] == 1.0
    assert done["summary"]["matched"] == 5
    rows = await proposals(w, done["id"])
    assert len(rows) == 5 and all(p.parts for p in rows)
    # The same choices and seed as the run in the request: the same tandems.
    assert pairs_of(w, rows) == pairs_of(w, await proposals(w, inline["id"]))
    assert done["comparison"]["changed"] == 0 and done["comparison"]["kept"] == 5
    assert await count(w, MatchUnmatched) == 2  # one per run


async def test_the_job_writes_progress_in_its_own_transactions(world: World) -> None:
    """On PostgreSQL the bar moves on the row while the job's transaction is open; on
    SQLite (one writer at a time) it moves in this process only."""
    run = await _queued_run(world)
    reporter = jobs.ProgressReporter(world.db, world.tenant_id, run.id, poll_seconds=0.01)

    async def slow_solve() -> str:
        for step in range(1, 11):
            reporter.progress(step / 10, "solving")
            await asyncio.sleep(0.03)
        return "solved"

    await reporter.stage(0.0, services.STAGE_READING)
    assert await reporter.follow(slow_solve()) == "solved"
    async with world.db.tenant_session(world.tenant_id) as session:
        stored = await session.get(MatchRun, run.id)
        assert stored is not None
        seen = services.progress_of(stored)
    assert seen[0] >= 0.9
    if world.db.dialect == "sqlite":
        assert reporter.writes == 0 and stored.status == "queued"
    else:
        assert reporter.writes >= 3
        assert stored.status == "running" and stored.progress >= 0.9


async def _queued_run(w: World) -> MatchRun:
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        run = MatchRun(cohort_id=w.cohort.id, options={}, weights={}, filters=[])
        session.add(run)
    return run


async def test_the_job_computes_a_queued_run_once(world: World) -> None:
    run = await _queued_run(world)
    tenant = await world.tenant()
    for expected in (True, False):  # a second delivery finds the run done
        async with world.db.tenant_session(world.tenant_id) as session, session.begin():
            ran = await jobs.execute_run(session, world.db, tenant, world.plugins, run.id)
        assert ran is expected
    async with world.db.tenant_session(world.tenant_id) as session:
        stored = await session.get(MatchRun, run.id)
        assert stored is not None and stored.status == "done" and stored.progress == 1.0
    assert len(await proposals(world, run.id)) == 5
    assert run.id not in services.LIVE_PROGRESS or stored.status == "done"


# --- what-if and comparing --------------------------------------------------------------------


async def test_a_what_if_run_is_compared_with_the_previous(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    first = (await api(w, "POST", f"{BASE}/runs", {})).json()
    # Availability only: occupation no longer counts.
    second = (
        await api(
            w,
            "POST",
            f"{BASE}/runs",
            {"weights": {"match_occupation": 0, "match_availability": 1}},
        )
    ).json()
    assert second["weights"] == {"match_occupation": 0.0, "match_availability": 1.0}
    before = pairs_of(w, await proposals(w, first["id"]))
    after = pairs_of(w, await proposals(w, second["id"]))
    comparison = second["comparison"]
    assert comparison["previous_run_id"] == first["id"]
    assert comparison["kept"] == len(before & after)
    assert comparison["changed"] == len(after - before)
    assert comparison["removed"] == len(before - after)
    assert comparison["matched_difference"] == len(after) - len(before)
    difference = second["summary"]["total_score"] - first["summary"]["total_score"]
    assert comparison["total_score_difference"] == pytest.approx(difference, abs=1e-6)
    assert all(set(p.parts) == {"match_availability"} for p in await proposals(w, second["id"]))
    # The tenant's settings are untouched: the next plain run weighs as the first did.
    third = (await api(w, "POST", f"{BASE}/runs", {})).json()
    assert third["weights"] == first["weights"]


# --- locks and exclusions ---------------------------------------------------------------------


async def test_lock_and_forbid_hold_in_the_next_run(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    first = (await api(w, "POST", f"{BASE}/runs", {})).json()
    best = (await proposals(w, first["id"]))[0]
    best_pair = (w.name_of(best.mentee_application_id), w.name_of(best.mentor_application_id))
    forbid = await api(
        w,
        "POST",
        f"{BASE}/constraints",
        {
            "mentee_application_id": str(best.mentee_application_id),
            "mentor_application_id": str(best.mentor_application_id),
            "kind": "forbid",
        },
    )
    assert forbid.status_code == 201, forbid.text
    assert forbid.json()["kind"] == "forbid"
    # Lock a pair the first run did not propose: A4 (IT) with B2 (nursing).
    lock = await api(
        w,
        "POST",
        f"{BASE}/constraints",
        {
            "mentee_application_id": str(w.apps["A4"].id),
            "mentor_application_id": str(w.apps["B2"].id),
            "kind": "lock",
        },
    )
    assert lock.status_code == 201, lock.text
    assert ("A4", "B2") not in pairs_of(w, await proposals(w, first["id"]))
    listed = (await api(w, "GET", f"{BASE}/constraints")).json()
    assert {(c["mentee"]["name"], c["mentor"]["name"], c["kind"]) for c in listed} == {
        (f"Person {best_pair[0]}", f"Person {best_pair[1]}", "forbid"),
        ("Person A4", "Person B2", "lock"),
    }

    second = (await api(w, "POST", f"{BASE}/runs", {})).json()
    rows = await proposals(w, second["id"])
    pairs = pairs_of(w, rows)
    assert best_pair not in pairs
    assert ("A4", "B2") in pairs
    assert [p.locked for p in rows if w.name_of(p.mentee_application_id) == "A4"] == [True]
    assert second["summary"]["locked"] == 1

    # Removing the lock: the next run is free again.
    lock_id = lock.json()["id"]
    removed = await api(w, "DELETE", f"{BASE}/constraints/{lock_id}")
    assert removed.status_code == 204, removed.text
    again = await api(w, "DELETE", f"{BASE}/constraints/{lock_id}")
    assert again.status_code == 404
    third = (await api(w, "POST", f"{BASE}/runs", {})).json()
    assert not any(p.locked for p in await proposals(w, third["id"]))


async def test_forbidding_every_mentor_leaves_a_mentee_without_one(world: World) -> None:
    async with world.db.tenant_session(world.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, world.cohort.id)
        assert cohort is not None
        for mentor in ("B1", "B2", "B3", "B4"):
            await services.add_constraint(
                session,
                cohort,
                world.apps["A1"].id,
                world.apps[mentor].id,
                "forbid",
                user_id=world.users["clara"].id,
            )
    run = await run_here(world)
    async with world.db.tenant_session(world.tenant_id) as session:
        unmatched = await services.unmatched_of(session, run)
    reasons = {world.name_of(u.application_id): u.reason for u in unmatched}
    assert reasons == {"A1": "no_allowed_mentor"}


@pytest.mark.parametrize(
    ("mentee", "mentor", "kind", "key"),
    [
        ("B1", "B2", "lock", "mentee_application_id"),  # a mentor as mentee
        ("A1", "A2", "lock", "mentor_application_id"),  # a mentee as mentor
        ("A7", "B1", "lock", "mentee_application_id"),  # still in review
        ("X1", "B1", "lock", "mentee_application_id"),  # another cohort's
        ("A1", "B1", "maybe", "kind"),
    ],
)
async def test_invalid_constraints_are_refused(
    web_world: World, mentee: str, mentor: str, kind: str, key: str
) -> None:
    w = web_world
    await as_user(w, "clara")
    body = {
        "mentee_application_id": str(w.apps[mentee].id),
        "mentor_application_id": str(w.apps[mentor].id),
        "kind": kind,
    }
    response = await api(w, "POST", f"{BASE}/constraints", body, lang="de")
    if key == "kind":  # not one of the enum's values: the request cannot be read
        assert response.status_code == 400
    else:
        assert response.status_code == 422, response.text
        assert key in errors_of(response)
    assert await count(w, MatchConstraint) == 0


async def test_locks_respect_one_mentor_per_mentee_and_places(world: World) -> None:
    async with world.db.tenant_session(world.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, world.cohort.id)
        assert cohort is not None

        async def add(mentee: str, mentor: str, kind: str = "lock") -> Any:
            return await services.add_constraint(
                session,
                cohort,
                world.apps[mentee].id,
                world.apps[mentor].id,
                kind,
                user_id=None,
            )

        await add("A1", "B2")
        with pytest.raises(services.InvalidInput) as second_lock:
            await add("A1", "B3")
        assert "mentee_application_id" in second_lock.value.problems
        with pytest.raises(services.InvalidInput) as full:
            await add("A2", "B2")  # B2 has one place, taken by A1's lock
        assert "mentor_application_id" in full.value.problems
        with pytest.raises(services.InvalidInput) as same:
            await add("A1", "B2")
        assert "kind" in same.value.problems
        # The same pair forbidden instead: the lock becomes an exclusion.
        changed = await add("A1", "B2", "forbid")
        assert changed.kind == "forbid"
        assert len(await services.constraints_of(session, cohort)) == 1


# --- sending proposals ------------------------------------------------------------------------


async def test_send_makes_proposed_tandems_once(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    run = (await api(w, "POST", f"{BASE}/runs", {})).json()
    rows = await proposals(w, run["id"])
    first, second, *rest = rows
    await _clear_outbox(w)

    sent = await api(
        w,
        "POST",
        f"{BASE}/runs/{run['id']}/send",
        {"proposal_ids": [str(first.id), str(second.id)]},
    )
    assert sent.status_code == 200, sent.text
    body = sent.json()
    assert {s["proposal_id"] for s in body["sent"]} == {str(first.id), str(second.id)}
    assert body["refused"] == [] and body["already_sent"] == []
    async with w.db.tenant_session(w.tenant_id) as session:
        made = list(await session.scalars(select(Pairing)))
    assert len(made) == 2 and all(p.state == PairingState.PROPOSED for p in made)
    by_mentee = {p.mentee_application_id: p for p in made}
    pairing = by_mentee[first.mentee_application_id]
    assert pairing.mentor_application_id == first.mentor_application_id
    assert pairing.score == pytest.approx(first.score / SCALE)
    assert pairing.explanation["run_id"] == run["id"]
    assert pairing.explanation["parts"] == first.parts
    assert all(r["sentence"] for r in pairing.explanation["reasons"])
    stored = {p.id: p.pairing_id for p in await proposals(w, run["id"])}
    assert stored[first.id] == pairing.id and stored[second.id] is not None
    # Both people of each tandem are mailed.
    mails = await _mails(w)
    assert len(mails) == 4

    # Sending again makes nothing new.
    again = await api(w, "POST", f"{BASE}/runs/{run['id']}/send", {"proposal_ids": [str(first.id)]})
    assert again.json() == {"sent": [], "already_sent": [str(first.id)], "refused": []}
    assert await count(w, Pairing) == 2

    # "Send all" sends the rest.
    everything = (await api(w, "POST", f"{BASE}/runs/{run['id']}/send", {"all": True})).json()
    assert {s["proposal_id"] for s in everything["sent"]} == {str(p.id) for p in rest}
    assert await count(w, Pairing) == 5
    listed = (await api(w, "GET", f"{BASE}/runs/{run['id']}")).json()
    assert listed["sent"] == 5


async def test_two_sends_at_once_make_one_tandem(world: World) -> None:
    run = await run_here(world)
    [best, *_] = await proposals(world, run.id)
    tenant = await world.tenant()

    async def send() -> services.SendReport:
        return await services.send_proposals(
            world.db,
            plugins=world.plugins,
            tenant=tenant,
            cohort_id=world.cohort.id,
            run_id=run.id,
            proposal_ids=[best.id],
            by=_Coordinator(world.users["clara"].id),
            locale="en",
        )

    reports = await asyncio.gather(send(), send())
    assert sum(len(r.sent) for r in reports) == 1
    # The other one saw it sent, or was refused because the mentee is taken now.
    assert sum(len(r.already_sent) + len(r.refused) for r in reports) == 1
    assert await count(world, Pairing) == 1


@dataclass(frozen=True)
class _Coordinator:
    id: uuid.UUID
    roles: frozenset[str] = frozenset({"admin"})


async def test_a_proposal_whose_people_are_taken_is_reported(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    run = (await api(w, "POST", f"{BASE}/runs", {})).json()
    rows = await proposals(w, run["id"])
    taken = rows[1]
    # Meanwhile someone pairs that mentee by hand with a mentor who has room — not the
    # mentor of the first proposal, whose place must stay free for it.
    by_hand = next(
        w.apps[key].id
        for key in ("B1", "B2", "B3", "B4")
        if w.apps[key].id != rows[0].mentor_application_id
    )
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, w.cohort.id)
        mentee = await session.get(Application, taken.mentee_application_id)
        mentor = await session.get(Application, by_hand)
        assert cohort and mentee and mentor
        await pairings.propose(session, cohort, mentee, mentor, None)
    before = await count(w, Pairing)
    response = await api(
        w,
        "POST",
        f"{BASE}/runs/{run['id']}/send",
        {"proposal_ids": [str(rows[0].id), str(taken.id)]},
        lang="de",
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [s["proposal_id"] for s in body["sent"]] == [str(rows[0].id)]
    [refused] = body["refused"]
    assert refused["proposal_id"] == str(taken.id)
    assert refused["errors"][0]["key"] == "mentee_application_id"
    assert "Tandem" in refused["errors"][0]["message"]  # German
    assert await count(w, Pairing) == before + 1
    assert {p.id: p.pairing_id for p in await proposals(w, run["id"])}[taken.id] is None


async def test_send_refuses_bad_choices(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    run = (await api(w, "POST", f"{BASE}/runs", {})).json()
    other = (await api(w, "POST", f"/api/v1/cohorts/{OTHER_COHORT}/matching/runs", {})).json()
    nothing = await api(w, "POST", f"{BASE}/runs/{run['id']}/send", {"proposal_ids": []})
    assert nothing.status_code == 422 and "proposal_ids" in errors_of(nothing)
    stranger = await api(
        w, "POST", f"{BASE}/runs/{run['id']}/send", {"proposal_ids": [str(uuid.uuid4())]}
    )
    assert stranger.status_code == 422
    # A run of the other cohort is not found under this one.
    wrong_cohort = await api(w, "POST", f"{BASE}/runs/{other['id']}/send", {"all": True})
    assert wrong_cohort.status_code == 404
    assert (await api(w, "GET", f"{BASE}/runs/{other['id']}")).status_code == 404
    assert await count(w, Pairing) == 0
    # A run that has not finished sends nothing.
    queued = await _queued_run(w)
    not_done = await api(w, "POST", f"{BASE}/runs/{queued.id}/send", {"all": True})
    assert not_done.status_code == 409


async def _clear_outbox(w: World) -> None:
    await tenants_without_jobs(w.db)


async def _mails(w: World) -> list[OutboxMessage]:
    async with w.db.platform_session() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.actor_name == "core.send_mail")
        )
        return [r for r in rows if r.kwargs.get("template") == "pairing_update"]


# --- invalid input through the API ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "lang", "word"),
    [
        ({"weights": {"match_occupation": -2}}, "weights.match_occupation", "de", "Gewicht"),
        ({"weights": {"match_occupation": 1000}}, "weights.match_occupation", "en", "weight"),
        ({"weights": {"unknown": 1}}, "weights.unknown", "de", "unknown"),
        ({"seed": -1}, "seed", "de", "Zahl"),
        ({"mode": "fastest"}, "mode", "en", "option"),
    ],
)
async def test_api_refuses_invalid_runs_in_the_users_language(
    web_world: World, body: dict[str, Any], key: str, lang: str, word: str
) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await api(w, "POST", f"{BASE}/runs", body, lang=lang)
    assert response.status_code == 422, response.text
    errors = errors_of(response)
    assert set(errors) == {key}
    assert word.lower() in errors[key].lower()
    assert await count(w, MatchRun) == 0


async def test_api_refuses_what_it_cannot_read(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    for body in ({"weights": {"match_occupation": "heavy"}}, {"seed": "x"}, {"extra": 1}):
        response = await api(w, "POST", f"{BASE}/runs", body)
        assert response.status_code == 400, body
    assert await count(w, MatchRun) == 0


# --- who may ----------------------------------------------------------------------------------


def _endpoints(run_id: str, constraint_id: str) -> list[tuple[str, str, Any]]:
    return [
        ("GET", BASE, None),
        ("POST", f"{BASE}/runs", {}),
        ("GET", f"{BASE}/runs", None),
        ("GET", f"{BASE}/runs/{run_id}", None),
        ("GET", f"{BASE}/runs/{run_id}/proposals", None),
        ("GET", f"{BASE}/runs/{run_id}/unmatched", None),
        ("POST", f"{BASE}/runs/{run_id}/send", {"all": True}),
        ("GET", f"{BASE}/constraints", None),
        (
            "POST",
            f"{BASE}/constraints",
            {
                "mentee_application_id": str(uuid.uuid4()),
                "mentor_application_id": str(uuid.uuid4()),
                "kind": "lock",
            },
        ),
        ("DELETE", f"{BASE}/constraints/{constraint_id}", None),
    ]


async def test_only_the_tenants_coordinators_may(web_world: World) -> None:
    w = web_world
    run = await run_here(w)
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        cohort = await session.get(Cohort, w.cohort.id)
        assert cohort is not None
        constraint = await services.add_constraint(
            session, cohort, w.apps["A2"].id, w.apps["B3"].id, "forbid", user_id=None
        )
    endpoints = _endpoints(str(run.id), str(constraint.id))
    runs_before = await count(w, MatchRun)
    for who, host, expected in (
        ("amira", MUENCHEN, 403),
        ("jonas", MUENCHEN, 403),
        ("omar", AUGSBURG, 404),
        (None, MUENCHEN, 401),
    ):
        await as_user(w, who)
        for method, path, body in endpoints:
            response = await api(w, method, path, body, host=host)
            assert response.status_code == expected, (who, method, path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
    assert await count(w, MatchRun) == runs_before
    assert await count(w, MatchConstraint) == 1
    assert await count(w, Pairing) == 0


async def test_another_tenants_ids_are_not_found(web_world: World) -> None:
    """Augsburg's coordinator with a cohort of the same slug still reaches none of
    München's runs or constraints."""
    w = web_world
    run = await run_here(w)
    async with w.db.tenant_session(w.augsburg_id) as session, session.begin():
        programme = Programme(slug="m", name="M", duration_weeks=10)
        session.add(programme)
        await session.flush()
        session.add(
            Cohort(
                programme_id=programme.id,
                slug=COHORT,
                name="Augsburg",
                applications_open_on=date(2027, 1, 1),
                applications_close_on=date(2027, 2, 1),
                starts_on=date(2027, 3, 1),
                ends_on=date(2027, 9, 1),
            )
        )
    await as_user(w, "omar")
    own = await api(w, "GET", BASE, host=AUGSBURG)
    assert own.status_code == 200 and own.json()["runs"] == []
    for method, path, body in (
        ("GET", f"{BASE}/runs/{run.id}", None),
        ("GET", f"{BASE}/runs/{run.id}/proposals", None),
        ("POST", f"{BASE}/runs/{run.id}/send", {"all": True}),
    ):
        response = await api(w, method, path, body, host=AUGSBURG)
        assert response.status_code == 404, (path, response.text)
    # Applications of München cannot be locked from Augsburg.
    response = await api(
        w,
        "POST",
        f"{BASE}/constraints",
        {
            "mentee_application_id": str(w.apps["A1"].id),
            "mentor_application_id": str(w.apps["B1"].id),
            "kind": "lock",
        },
        host=AUGSBURG,
    )
    assert response.status_code == 422
    assert await count(w, MatchConstraint) == 0
    assert await count(w, Pairing) == 0


async def test_openapi_documents_the_matching_api(web_world: World) -> None:
    w = web_world
    assert w.web is not None
    schema = (await w.web.get("/api/docs/openapi.json", headers={"host": MUENCHEN})).json()
    paths = {p for p in schema["paths"] if p.startswith("/api/v1/cohorts/{cohort_slug}/matching")}
    assert {
        "/api/v1/cohorts/{cohort_slug}/matching",
        "/api/v1/cohorts/{cohort_slug}/matching/runs",
        "/api/v1/cohorts/{cohort_slug}/matching/runs/{run_id}",
        "/api/v1/cohorts/{cohort_slug}/matching/runs/{run_id}/proposals",
        "/api/v1/cohorts/{cohort_slug}/matching/runs/{run_id}/unmatched",
        "/api/v1/cohorts/{cohort_slug}/matching/runs/{run_id}/send",
        "/api/v1/cohorts/{cohort_slug}/matching/constraints",
        "/api/v1/cohorts/{cohort_slug}/matching/constraints/{constraint_id}",
    } <= paths
    start = schema["paths"]["/api/v1/cohorts/{cohort_slug}/matching/runs"]["post"]
    assert {"403", "404", "422"} <= set(start["responses"])


# --- the demo ---------------------------------------------------------------------------------


async def test_the_demo_leaves_a_cohort_to_match(
    db: Database, plugins: PluginHost, settings: Settings
) -> None:
    """``tandem demo load``: each demo tenant's current cohort has accepted people without
    a tandem, and a run with the tenant's own criteria proposes tandems for them."""
    from core.demo.loader import load_demo
    from core.programmes.services import cohort_status
    from core.tenancy.sync import sync_tenants

    await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir)
    await load_demo(db, plugins, only=("muenchen",))
    ids = await tenants_without_jobs(db)
    snapshot = await load_snapshot(db, ids["muenchen"])
    assert snapshot is not None
    async with db.tenant_session(ids["muenchen"]) as session, session.begin():
        cohorts = list(await session.scalars(select(Cohort)))
        current = next(c for c in cohorts if cohort_status(c).value == "applications_open")
        mentees, mentors = await services.candidate_counts(session, current)
        run = await services.start_run(
            session, plugins=plugins, tenant=snapshot, cohort=current, raw={}, user_id=None
        )
        made = await services.proposals_of(session, run)
        left = await services.unmatched_of(session, run)
    assert (mentees, mentors) == (8, 3)
    assert run.status == "done", run.error
    assert run.summary["matched"] == len(made) > 0
    assert run.summary["proof"]["proven"] is True
    # Every waiting mentee is either proposed or listed with the reason.
    mentee_reasons = {"no_allowed_mentor", "capacity_exhausted"}
    assert len(made) + len([u for u in left if u.reason in mentee_reasons]) == 8
