"""A cohort as a matching problem (core.matching.candidates) and a tenant's criteria
(core.matching.tenant_criteria), on SQLite and PostgreSQL.

München's cohort has mentees and mentors in every state an application or a pairing can
be in; Augsburg has a cohort with the same slug, people and constraints of its own,
which must never show up in München's problem. The criteria come from small probe
plugins defined here (also used by tests/test_matching_cli.py), so that these tests do
not depend on the built-in criteria's scoring.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel, ConfigDict, Field

from core.applications.models import Application, ApplicationKind, ApplicationStatus
from core.db.base import utcnow
from core.db.sessions import Database
from core.identity.models import User
from core.matching.candidates import CohortPeople, cohort_problem, people_of
from core.matching.criteria import Criterion, CriterionKind
from core.matching.features import Person, Side, Vocabulary, encode
from core.matching.instance import criteria_plugins
from core.matching.models import ConstraintKind, MatchConstraint
from core.matching.problem import Pair, Problem
from core.matching.solver import solve
from core.matching.tenant_criteria import criteria_for
from core.pairings.lifecycle import PairingState
from core.pairings.models import Pairing
from core.pluginhost import PluginInfo, hookimpl
from core.pluginhost.manager import PluginHost
from core.pluginhost.service import set_plugin_state
from core.programmes.models import Cohort, Programme
from core.tenancy.models import TenantStatus
from core.tenancy.snapshot import TenantSnapshot
from tests.test_jobs_outbox import tenants_without_jobs

COHORT = "2027-spring"

# --- probe criteria plugins ----------------------------------------------------------------


class Weighted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    weight: float = Field(1.0, gt=0)


class DistrictSettings(Weighted):
    radius_km: float = Field(5.0, ge=0)


class SharedLanguage(Criterion):
    """1 when the two speak a language in common (any level), else 0."""

    kind = CriterionKind.SCORE
    label = "Shared language"

    def __init__(self, criterion_id: str, weight: float) -> None:
        self.id, self.weight = criterion_id, weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        a = (mentees["languages"] > 0).astype(np.float32)
        b = (mentors["languages"] > 0).astype(np.float32)
        return (a @ b.T > 0).astype(np.float32)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return "They share a language."


class SameDistrict(Criterion):
    kind = CriterionKind.SCORE
    label = "Same district"

    def __init__(self, criterion_id: str, weight: float) -> None:
        self.id, self.weight = criterion_id, weight

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        a, b = mentees["district"][:, None], mentors["district"][None, :]
        return ((a == b) & (a >= 0)).astype(np.float32)

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return "They live in the same district."


class NotSelfNorColleague(Criterion):
    """A filter: nobody with themselves, nobody with someone of their own employer."""

    kind = CriterionKind.FILTER
    label = "No conflict of interest"

    def __init__(self, criterion_id: str) -> None:
        self.id = criterion_id

    def evaluate(self, mentees: Side, mentors: Side, vocabulary: Vocabulary) -> np.ndarray:
        same_person = mentees["person"][:, None] == mentors["person"][None, :]
        a, b = mentees["employer"][:, None], mentors["employer"][None, :]
        return ~(same_person & (mentees["person"][:, None] >= 0)) & ~((a == b) & (a >= 0))

    def explain(self, mentee: Person, mentor: Person, locale: str) -> str:
        return "No conflict of interest."


class LanguageProbe:
    PLUGIN = PluginInfo("probe_language", "Probe language", "test", "0.1", settings=Weighted)

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        settings = Weighted.model_validate(tenant.plugin_settings[self.PLUGIN.id])
        return [SharedLanguage(self.PLUGIN.id, settings.weight)]


class DistrictProbe:
    PLUGIN = PluginInfo(
        "probe_district", "Probe district", "test", "0.1", settings=DistrictSettings
    )

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        settings = DistrictSettings.model_validate(tenant.plugin_settings[self.PLUGIN.id])
        return [SameDistrict(self.PLUGIN.id, settings.weight)]


class FilterProbe:
    PLUGIN = PluginInfo("probe_filter", "Probe filter", "test", "0.1")
    # One object for every run, as a plugin may well do: what-if weights must copy it.
    criterion = NotSelfNorColleague("probe_filter")

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        return [self.criterion]


class DuplicateProbe:
    """Brings a criterion whose id another plugin (probe_language) uses already."""

    PLUGIN = PluginInfo("probe_duplicate", "Probe duplicate", "test", "0.1", settings=Weighted)

    @hookimpl
    def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
        return [SharedLanguage("probe_language", 1.0)]


PROBES = ("probe_district", "probe_filter", "probe_language")


def probe_host() -> PluginHost:
    """The installed plugins plus the probes (built-in criteria plugins are left disabled)."""
    return PluginHost.load(
        extra=[LanguageProbe(), DistrictProbe(), FilterProbe(), DuplicateProbe()]
    )


def snapshot(plugin_settings: dict[str, dict[str, Any]]) -> TenantSnapshot:
    return TenantSnapshot(
        id=uuid.uuid4(),
        slug="t",
        name="T",
        status=TenantStatus.ACTIVE,
        default_locale="en",
        locales=("en",),
        theme="default",
        revision=1,
        plugin_settings=MappingProxyType(plugin_settings),
    )


@pytest.fixture(scope="module")
def host() -> PluginHost:
    return probe_host()


# --- a tenant's criteria -------------------------------------------------------------------


def test_only_enabled_plugins_contribute_in_order_of_id(host: PluginHost) -> None:
    tenant = snapshot({"probe_language": {"weight": 2.0}, "probe_filter": {}, "announcements": {}})
    criteria = criteria_for(host, tenant)
    assert [c.id for c in criteria] == ["probe_filter", "probe_language"]
    assert criteria[1].weight == 2.0
    assert criteria_for(host, snapshot({})) == ()
    assert {"probe_district", "probe_language", "probe_duplicate"} <= set(criteria_plugins(host))
    assert "announcements" not in criteria_plugins(host)


def test_a_disabled_built_in_criterion_has_no_effect_for_that_tenant(host: PluginHost) -> None:
    """Two tenants, the same people: only the one that enabled match_gender applies it."""
    mentees = [Person("amira", occupation="2512", gender="f", same_gender=True)]
    mentors = [
        Person("jonas", occupation="2512", gender="m"),  # the same occupation
        Person("lena", occupation="9112", gender="f"),  # another occupation
    ]
    side_a, side_b, vocabulary = encode(mentees, mentors)
    common = {"match_occupation": {}}
    with_gender = criteria_for(host, snapshot({**common, "match_gender": {}}))
    without = criteria_for(host, snapshot(common))
    assert "match_gender" in {c.id for c in with_gender}
    assert "match_gender" not in {c.id for c in without}

    def matched(criteria: tuple[Criterion, ...]) -> list[tuple[str, str]]:
        solution = solve(Problem(side_a, side_b, vocabulary, criteria))
        return [(side_a.ids[p.mentee], side_b.ids[p.mentor]) for p in solution.proposals]

    # Occupation alone prefers Jonas; the gender wish (where enabled) allows only Lena.
    assert matched(without) == [("amira", "jonas")]
    assert matched(with_gender) == [("amira", "lena")]


def test_two_criteria_with_one_id_are_refused_naming_it(host: PluginHost) -> None:
    tenant = snapshot({"probe_language": {}, "probe_duplicate": {}})
    with pytest.raises(ValueError, match=r"same id.*probe_language"):
        criteria_for(host, tenant)


def test_what_if_weights_change_a_copy_and_nothing_else(host: PluginHost) -> None:
    tenant = snapshot({"probe_language": {"weight": 2.0}, "probe_district": {"weight": 1.0}})
    what_if = criteria_for(host, tenant, {"probe_district": 4})
    assert {c.id: c.weight for c in what_if} == {"probe_district": 4.0, "probe_language": 2.0}
    assert {c.id: c.weight for c in criteria_for(host, tenant)} == {
        "probe_district": 1.0,
        "probe_language": 2.0,
    }


def test_a_shared_criterion_object_is_copied_before_its_weight_changes(
    host: PluginHost,
) -> None:
    class SharedScore:
        PLUGIN = PluginInfo("probe_shared", "Probe shared", "test", "0.1")
        criterion = SharedLanguage("probe_shared", 1.0)

        @hookimpl
        def register_matching_criteria(self, tenant: TenantSnapshot) -> list[Criterion]:
            return [self.criterion]

    shared = SharedScore()
    own = PluginHost.load(entry_points=False, extra=[shared])
    (changed,) = criteria_for(own, snapshot({"probe_shared": {}}), {"probe_shared": 3.5})
    assert changed.weight == 3.5 and changed is not shared.criterion
    assert shared.criterion.weight == 1.0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"nope": 1}, "no score criterion 'nope'"),
        ({"probe_filter": 1}, "no score criterion 'probe_filter'"),  # filters have no weight
        ({"probe_language": 0}, "weight of 'probe_language' must be greater than 0"),
        ({"probe_language": -1}, "weight of 'probe_language' must be greater than 0"),
        ({"probe_language": math.nan}, "weight of 'probe_language' must be greater than 0"),
        ({"probe_language": "2"}, "weight of 'probe_language' must be a number"),
    ],
)
def test_bad_what_if_weights_are_refused_naming_the_criterion(
    host: PluginHost, weights: dict[str, Any], message: str
) -> None:
    tenant = snapshot({"probe_language": {}, "probe_filter": {}})
    with pytest.raises(ValueError, match=message):
        criteria_for(host, tenant, weights)


# --- the cohort's candidates ---------------------------------------------------------------


@dataclass
class Cohorts:
    db: Database
    tenant_id: uuid.UUID
    other_tenant_id: uuid.UUID
    cohort: Cohort
    other_cohort: Cohort
    apps: dict[str, Application]
    other_apps: dict[str, Application]
    users: dict[str, User]


def _app(
    cohort: Cohort,
    kind: ApplicationKind,
    name: str,
    status: ApplicationStatus = ApplicationStatus.ACCEPTED,
    **fields: Any,
) -> Application:
    values: dict[str, Any] = {
        "occupation_code": "2142",
        "email": f"{name}@apply.example",
        "locale": "en",
        "consent_version": "1",
        "capacity": 1 if kind is ApplicationKind.MENTOR else None,
    }
    values.update(fields)
    return Application(cohort_id=cohort.id, kind=kind, status=status, name=name.title(), **values)


async def _cohort(db: Database, tenant_id: uuid.UUID) -> Cohort:
    today = date.today()
    async with db.tenant_session(tenant_id) as session, session.begin():
        programme = Programme(slug="mentoring", name="Mentoring", duration_weeks=16)
        session.add(programme)
        await session.flush()
        cohort = Cohort(
            programme_id=programme.id,
            slug=COHORT,
            name="Spring 2027",
            applications_open_on=today - timedelta(days=60),
            applications_close_on=today - timedelta(days=30),
            starts_on=today - timedelta(days=20),
            ends_on=today + timedelta(days=100),
        )
        session.add(cohort)
    return cohort


async def seed(db: Database, plugins: PluginHost | None = None) -> Cohorts:
    """München's cohort with people in every state; Augsburg's with the same slug.

    With ``plugins``, both tenants enable the probes and disable every other criteria
    plugin, so that a run sees exactly the probes' criteria.
    """
    ids = await tenants_without_jobs(db)
    muenchen, augsburg = ids["muenchen"], ids["augsburg"]
    async with db.platform_session() as session, session.begin():
        users = {
            name: User(display_name=name.title(), email=f"{name}@example.org")
            for name in ("amira", "jonas", "fatima")
        }
        session.add_all(users.values())
    cohort = await _cohort(db, muenchen)
    other_cohort = await _cohort(db, augsburg)
    M, T = ApplicationKind.MENTEE, ApplicationKind.MENTOR
    S = ApplicationStatus
    async with db.tenant_session(muenchen) as session, session.begin():
        apps = {
            "amira": _app(
                cohort,
                M,
                "amira",
                user_id=users["amira"].id,
                occupation_code="2512",
                languages=[{"code": "ar", "level": "C2"}, {"code": "de", "level": "A2"}],
                german_level="B1",
                district="Maxvorstadt",
                availability=["weekday_evening", "weekend_daytime"],
                gender="female",
                preferences={"same_gender_mentor": True},
                years_experience=4,
            ),
            "bilal": _app(cohort, M, "bilal"),  # in a proposed tandem with Jonas
            "hana": _app(cohort, M, "hana", languages=[{"code": "en", "level": "B2"}]),
            "ivan": _app(cohort, M, "ivan"),  # in an active tandem with Paul
            "carla": _app(cohort, M, "carla", S.WITHDRAWN),
            "dario": _app(cohort, M, "dario", S.WAITLISTED),
            "emil": _app(cohort, M, "emil", S.REJECTED),
            "gina": _app(cohort, M, "gina", S.SUBMITTED),
            # Applied as a mentee without an account, with the address of her account.
            "fatima_mentee": _app(cohort, M, "fatima", email="fatima@example.org"),
            "jonas": _app(
                cohort,
                T,
                "jonas",
                user_id=users["jonas"].id,
                capacity=2,
                employer="Siemens AG",
                languages=[{"code": "de", "level": "C2"}, {"code": "en", "level": "C1"}],
                district="Schwabing",
                gender="male",
                years_experience=20,
            ),
            "mona": _app(cohort, T, "mona", capacity=1),  # her tandem with Hana is completed
            "paul": _app(cohort, T, "paul", capacity=1),  # full: Ivan
            "fatima_mentor": _app(
                cohort, T, "fatima", user_id=users["fatima"].id, email="fatima@example.org"
            ),
            "rita": _app(cohort, T, "rita", S.IN_REVIEW, capacity=3),
            "olga": _app(cohort, T, "olga", capacity=None),  # from before capacity was asked
        }
        session.add_all(apps.values())
        await session.flush()
        session.add_all(
            [
                _pairing(cohort, apps["bilal"], apps["jonas"], PairingState.PROPOSED),
                _pairing(cohort, apps["ivan"], apps["paul"], PairingState.ACTIVE),
                _pairing(cohort, apps["hana"], apps["mona"], PairingState.COMPLETED),
                _constraint(cohort, apps["amira"], apps["jonas"], ConstraintKind.LOCK),
                _constraint(cohort, apps["hana"], apps["mona"], ConstraintKind.FORBID),
                _constraint(cohort, apps["bilal"], apps["mona"], ConstraintKind.LOCK),
                _constraint(cohort, apps["amira"], apps["paul"], ConstraintKind.FORBID),
                _constraint(cohort, apps["carla"], apps["mona"], ConstraintKind.FORBID),
            ]
        )
    async with db.tenant_session(augsburg) as session, session.begin():
        other_apps = {
            "xaver": _app(other_cohort, M, "xaver", languages=[{"code": "de", "level": "C2"}]),
            "yvonne": _app(other_cohort, T, "yvonne", capacity=3, district="Maxvorstadt"),
            "zeno": _app(other_cohort, M, "zeno", email="amira@apply.example"),
        }
        session.add_all(other_apps.values())
        await session.flush()
        session.add_all(
            [
                _constraint(other_cohort, other_apps["xaver"], other_apps["yvonne"], "lock"),
                _constraint(other_cohort, other_apps["zeno"], other_apps["yvonne"], "forbid"),
            ]
        )
    if plugins is not None:
        for tenant_id in (muenchen, augsburg):
            async with db.tenant_session(tenant_id) as session, session.begin():
                for plugin_id in criteria_plugins(plugins):
                    if plugin_id in PROBES:
                        await set_plugin_state(
                            session, plugins, plugin_id, enabled=True, settings={}
                        )
                    elif plugin_id != "probe_duplicate":
                        await set_plugin_state(
                            session, plugins, plugin_id, enabled=False, settings=None
                        )
    return Cohorts(db, muenchen, augsburg, cohort, other_cohort, apps, other_apps, users)


def _pairing(cohort: Cohort, mentee: Application, mentor: Application, state: PairingState):
    return Pairing(
        cohort_id=cohort.id,
        mentee_application_id=mentee.id,
        mentor_application_id=mentor.id,
        state=state,
    )


def _constraint(
    cohort: Cohort, mentee: Application, mentor: Application, kind: ConstraintKind | str
) -> MatchConstraint:
    return MatchConstraint(
        cohort_id=cohort.id,
        mentee_application_id=mentee.id,
        mentor_application_id=mentor.id,
        kind=ConstraintKind(kind),
    )


@pytest.fixture
async def cohorts(synced: Database) -> Cohorts:
    return await seed(synced)


async def _problem(c: Cohorts, cohort: Cohort | None = None, criteria: tuple = ()):
    async with c.db.tenant_session(c.tenant_id) as session:
        return await cohort_problem(session, cohort or c.cohort, criteria)


def _names(c: Cohorts, ids: tuple[uuid.UUID, ...]) -> list[str]:
    by_id = {app.id: name for name, app in {**c.apps, **c.other_apps}.items()}
    return [by_id[i] for i in ids]


async def test_accepted_mentees_without_an_open_tandem_and_mentors_with_places_take_part(
    cohorts: Cohorts,
) -> None:
    problem, people = await _problem(cohorts)
    # Hana's tandem is completed: she may be matched again, and Mona's place is free.
    assert set(_names(cohorts, people.mentees)) == {"amira", "hana", "fatima_mentee"}
    assert set(_names(cohorts, people.mentors)) == {"jonas", "mona", "fatima_mentor", "olga"}
    assert set(_names(cohorts, people.paired_mentees)) == {"bilal", "ivan"}
    assert _names(cohorts, people.full_mentors) == ["paul"]
    assert problem.mentees.ids == tuple(str(i) for i in people.mentees)
    assert problem.mentors.ids == tuple(str(i) for i in people.mentors)
    mentors = _names(cohorts, people.mentors)
    places = dict(zip(mentors, problem.mentors["capacity"].tolist(), strict=True))
    load = dict(zip(mentors, problem.mentors["load"].tolist(), strict=True))
    # The proposed tandem with Bilal takes one of Jonas's two places.
    assert places == {"jonas": 1, "mona": 1, "fatima_mentor": 1, "olga": 1}
    assert load == {"jonas": 1, "mona": 0, "fatima_mentor": 0, "olga": 0}
    assert problem.mentees["capacity"].tolist() == [1, 1, 1]
    for row, application_id in enumerate(people.mentors):
        assert people.mentor_row(application_id) == row
    assert people.mentee_row(cohorts.apps["bilal"].id) is None
    # The same rows in the same order every time: ties are broken by row.
    again, _ = await _problem(cohorts)
    assert again.mentees.ids == problem.mentees.ids and again.mentors.ids == problem.mentors.ids


async def test_application_fields_become_the_person_matching_sees(cohorts: Cohorts) -> None:
    problem, people = await _problem(cohorts)
    amira = problem.mentees.people[people.mentee_row(cohorts.apps["amira"].id)]
    assert amira == Person(
        id=str(cohorts.apps["amira"].id),
        occupation="2512",
        # The German level of the form, higher than the "de" of the language list, wins.
        languages={"ar": "C2", "de": "B1"},
        district="Maxvorstadt",
        availability=("weekday_evening", "weekend_daytime"),
        gender="female",
        same_gender=True,
        employer="",
        person=str(cohorts.users["amira"].id),
        years=4.0,
        capacity=1,
        load=0,
        name="Amira",
    )
    jonas = problem.mentors.people[people.mentor_row(cohorts.apps["jonas"].id)]
    assert (jonas.employer, jonas.capacity, jonas.load, jonas.years) == ("Siemens AG", 1, 1, 20.0)
    assert jonas.languages == {"de": "C2", "en": "C1"}
    assert jonas.person == str(cohorts.users["jonas"].id)
    assert jonas.same_gender is False
    # Without an account yet, Fatima the mentee is the Fatima who mentors with one.
    fatima = {
        problem.mentees.people[people.mentee_row(cohorts.apps["fatima_mentee"].id)].person,
        problem.mentors.people[people.mentor_row(cohorts.apps["fatima_mentor"].id)].person,
    }
    assert fatima == {str(cohorts.users["fatima"].id)}
    hana = problem.mentees.people[people.mentee_row(cohorts.apps["hana"].id)]
    assert hana.person == "hana@apply.example" and hana.languages == {"en": "B2"}
    olga = problem.mentors.people[people.mentor_row(cohorts.apps["olga"].id)]
    assert olga.capacity == 1
    columns = problem.mentees
    row = people.mentee_row(cohorts.apps["amira"].id)
    assert columns["occupation"][row] == 2512
    assert columns["same_gender"][row]
    assert columns["person"][row] >= 0


async def test_locks_and_exclusions_of_candidates_apply_and_the_others_are_reported(
    cohorts: Cohorts,
) -> None:
    problem, people = await _problem(cohorts)
    a = cohorts.apps
    row = people.mentee_row
    col = people.mentor_row
    assert problem.locked == {Pair(row(a["amira"].id), col(a["jonas"].id))}
    assert problem.forbidden == {Pair(row(a["hana"].id), col(a["mona"].id))}
    skipped = {
        (_names(cohorts, (s.mentee_application_id,))[0], s.kind, s.reason) for s in people.skipped
    }
    assert skipped == {
        ("bilal", ConstraintKind.LOCK, "mentee_not_candidate"),
        ("amira", ConstraintKind.FORBID, "mentor_not_candidate"),
        ("carla", ConstraintKind.FORBID, "mentee_not_candidate"),
    }


async def test_people_of_any_applications_for_explaining_past_runs(cohorts: Cohorts) -> None:
    a, theirs = cohorts.apps, cohorts.other_apps
    names = ("amira", "bilal", "jonas", "paul", "fatima_mentee", "carla")
    wanted = [a[n].id for n in names] + [theirs["xaver"].id, uuid.uuid4()]
    async with cohorts.db.tenant_session(cohorts.tenant_id) as session:
        people = await people_of(session, wanted)
        assert await people_of(session, []) == {}
    assert set(people) == {a[n].id for n in names}  # not Augsburg's, not unknown ids
    problem, rows = await _problem(cohorts)
    assert people[a["amira"].id] == problem.mentees.people[rows.mentee_row(a["amira"].id)]
    assert people[a["jonas"].id] == problem.mentors.people[rows.mentor_row(a["jonas"].id)]
    # Paired or full since: still explained, with today's places.
    assert people[a["bilal"].id].name == "Bilal"
    assert (people[a["paul"].id].capacity, people[a["paul"].id].load) == (0, 1)
    assert people[a["fatima_mentee"].id].person == str(cohorts.users["fatima"].id)
    async with cohorts.db.tenant_session(cohorts.other_tenant_id) as session:
        assert set(await people_of(session, wanted)) == {theirs["xaver"].id}


async def test_locks_contradicting_older_ones_are_skipped_not_fatal(cohorts: Cohorts) -> None:
    a = cohorts.apps
    later = utcnow() + timedelta(minutes=5)
    async with cohorts.db.tenant_session(cohorts.tenant_id) as session, session.begin():
        # Jonas has one place left, which Amira's (older) lock takes; Amira is locked.
        second_mentor = _constraint(cohorts.cohort, a["amira"], a["olga"], ConstraintKind.LOCK)
        full = _constraint(cohorts.cohort, a["hana"], a["jonas"], ConstraintKind.LOCK)
        second_mentor.created_at = later
        full.created_at = later + timedelta(seconds=1)
        session.add_all([second_mentor, full])
    problem, people = await _problem(cohorts)
    assert problem.locked == {
        Pair(people.mentee_row(a["amira"].id), people.mentor_row(a["jonas"].id))
    }
    reasons = {(s.mentee_application_id, s.mentor_application_id): s.reason for s in people.skipped}
    assert reasons[(a["amira"].id, a["olga"].id)] == "mentee_locked_already"
    assert reasons[(a["hana"].id, a["jonas"].id)] == "mentor_locks_full"


async def test_the_criteria_given_are_the_problems(cohorts: Cohorts, host: PluginHost) -> None:
    criteria = criteria_for(host, snapshot({"probe_language": {}, "probe_filter": {}}))
    problem, _ = await _problem(cohorts, criteria=criteria)
    assert problem.criteria == criteria


async def test_another_tenants_people_and_constraints_never_appear(cohorts: Cohorts) -> None:
    theirs = {str(app.id) for app in cohorts.other_apps.values()}
    problem, people = await _problem(cohorts)
    assert not theirs & {*problem.mentees.ids, *problem.mentors.ids}
    assert all(
        s.mentee_application_id not in {a.id for a in cohorts.other_apps.values()}
        for s in people.skipped
    )

    # Their cohort, loaded in their session and handed to ours: refused.
    with pytest.raises(LookupError, match="another tenant"):
        await _problem(cohorts, cohorts.other_cohort)

    # Their cohort's id smuggled in as one of ours: the tenant filter finds nothing.
    smuggled = Cohort(id=cohorts.other_cohort.id, tenant_id=cohorts.tenant_id, slug=COHORT)
    problem, people = await _problem(cohorts, smuggled)
    assert len(problem.mentees) == len(problem.mentors) == 0
    assert people == CohortPeople(mentees=(), mentors=())
    assert not problem.locked and not problem.forbidden

    # And Augsburg's own run sees only Augsburg.
    async with cohorts.db.tenant_session(cohorts.other_tenant_id) as session:
        problem, people = await cohort_problem(session, cohorts.other_cohort, ())
    assert {*problem.mentees.ids, *problem.mentors.ids} == theirs
    assert len(problem.locked) == len(problem.forbidden) == 1


async def test_a_platform_session_cannot_read_a_cohort(cohorts: Cohorts) -> None:
    async with cohorts.db.platform_session() as session:
        with pytest.raises(ValueError, match="tenant session"):
            await cohort_problem(session, cohorts.cohort, ())


async def test_an_empty_cohort_is_an_empty_problem(cohorts: Cohorts) -> None:
    async with cohorts.db.tenant_session(cohorts.tenant_id) as session, session.begin():
        programme = Programme(slug="empty", name="Empty", duration_weeks=8)
        session.add(programme)
        await session.flush()
        today = date.today()
        empty = Cohort(
            programme_id=programme.id,
            slug="empty",
            name="Empty",
            applications_open_on=today,
            applications_close_on=today,
            starts_on=today,
            ends_on=today,
        )
        session.add(empty)
    problem, people = await _problem(cohorts, empty)
    assert len(problem.mentees) == len(problem.mentors) == 0
    assert people.skipped == ()
