"""The home page of a signed-in mentee or mentor, on SQLite and PostgreSQL, with the demo
data of München and Augsburg: their tandem, next steps, hours, check-ins, applications —
and nothing of another tenant."""

from __future__ import annotations

from datetime import date

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.sessions import Database
from core.demo.loader import load_demo
from core.identity.models import User
from core.identity.sessions import start_session
from core.pairings.dashboard import Step, next_steps
from core.pairings.lifecycle import Actor, PairingState
from core.pairings.services import PairingAccess
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from core.tenancy.sync import sync_tenants
from tests.conftest import MigratedDatabase
from tests.test_identity_sessions import login, tenant_ids

Client = AsyncTestClient[Litestar]
HOSTS = {"muenchen": "muenchen.localhost:8000", "augsburg": "augsburg.localhost:8000"}


# All on one test worker, which then loads the demo once per backend (about 10 s each).
pytestmark = pytest.mark.xdist_group("home")
_loaded: set[str] = set()  # the backends whose snapshot "home" holds the demo


@pytest.fixture
async def demo(
    db: Database, plugins: PluginHost, settings: Settings, migrated: MigratedDatabase
) -> Database:
    """The synced tenants with München's and Augsburg's demo. The tests only read it, so
    it is loaded once per backend and copied back, row for row, for each later test."""
    if migrated.backend in _loaded:
        migrated.restore_rows("home")
        return db
    await sync_tenants(db, plugins, settings.tenants_dir, settings.themes_dir)
    await load_demo(db, plugins, only=("muenchen", "augsburg"))
    migrated.save_rows("home")
    _loaded.add(migrated.backend)
    return db


async def _sign_in(db: Database, web: Client, slug: str, who: str) -> None:
    ids = await tenant_ids(db)
    async with db.platform_session() as session:
        user = await session.scalar(select(User).where(User.email == f"{who}@{slug}.example"))
    assert user is not None
    login(web, await start_session(db, ids[slug], user))


async def _home(web: Client, slug: str, lang: str) -> str:
    response = await web.get("/", headers={"host": HOSTS[slug], "accept-language": lang})
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("lang", "heading", "step"),
    [
        ("en", "Your tandem with Thomas Wagner", "Answer the check-in: Midpoint check-in."),
        ("de", "Ihr Tandem mit Thomas Wagner", "Beantworten Sie die Befragung:"),
    ],
)
async def test_demo_mentee_sees_her_tandem(
    demo: Database, client: Client, lang: str, heading: str, step: str
) -> None:
    await _sign_in(demo, client, "muenchen", "mentee")
    html = await _home(client, "muenchen", lang)
    assert heading in html
    assert step in html
    assert 'data-step="answer_checkin"' in html
    assert '<progress id="hours-' in html  # hours against the programme's 16
    assert 'data-status="accepted"' in html  # her application
    assert 'class="hero"' not in html
    # Nothing of Augsburg's demo people.
    for other in ("Carlos Mendoza", "Markus Weber", "augsburg.example"):
        assert other not in html


async def test_demo_mentor_is_asked_to_accept_the_second_proposal(
    demo: Database, client: Client
) -> None:
    await _sign_in(demo, client, "muenchen", "mentor")
    html = await _home(client, "muenchen", "en")
    assert html.count('class="card my-tandem"') == 2
    assert 'data-step="accept_proposal"' in html
    assert "Your tandem with Olena Kovalenko" in html


async def test_augsburg_mentee_sees_only_augsburg(demo: Database, client: Client) -> None:
    await _sign_in(demo, client, "augsburg", "mentee")
    html = await _home(client, "augsburg", "de")
    assert "Ihr Tandem mit Markus Weber" in html
    for other in ("Thomas Wagner", "Olena Kovalenko", "muenchen.example"):
        assert other not in html


async def test_a_session_of_one_tenant_shows_nothing_on_another(
    demo: Database, client: Client
) -> None:
    # The München mentee's session cookie sent to Augsburg's host: no participant part.
    await _sign_in(demo, client, "muenchen", "mentee")
    html = await _home(client, "augsburg", "en")
    assert "Your tandem with" not in html and "Thomas Wagner" not in html


@pytest.mark.parametrize("who", [None, "coordinator"])
async def test_others_see_the_public_home(demo: Database, client: Client, who: str | None) -> None:
    if who:
        await _sign_in(demo, client, "muenchen", who)
    html = await _home(client, "muenchen", "en")
    assert 'class="hero"' in html
    assert "participant-home" not in html


# --- next steps, rule by rule -------------------------------------------------------------


class _Row:
    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)


def _access(state: PairingState, *, accepted: tuple[Actor, ...] = (), at_risk: bool = False):
    pairing = _Row(
        id="p1",
        state=state,
        mentee_accepted_at=date(2026, 1, 1) if Actor.MENTEE in accepted else None,
        mentor_accepted_at=date(2026, 1, 1) if Actor.MENTOR in accepted else None,
        at_risk_since=date(2026, 1, 1) if at_risk else None,
    )
    return PairingAccess(pairing, None, None, frozenset({Actor.MENTEE}), None)  # type: ignore[arg-type]


def _steps(access: PairingAccess, agreement: object = None, meetings: int = 0) -> list[Step]:
    return [s.step for s in next_steps(access, Actor.MENTEE, agreement, meetings, [])]  # type: ignore[arg-type]


def test_next_steps_follow_the_tandem() -> None:
    assert _steps(_access(PairingState.PROPOSED)) == [Step.ACCEPT_PROPOSAL]
    accepted = _access(PairingState.PROPOSED, accepted=(Actor.MENTEE,))
    assert _steps(accepted) == [Step.AWAIT_PARTNER]
    active = _access(PairingState.ACTIVE)
    assert _steps(active) == [Step.WRITE_GOALS, Step.LOG_FIRST_MEETING]
    goals = _Row(goals="Ziele", mentee_accepted_at=None, mentor_accepted_at=None)
    assert _steps(active, goals, 2) == [Step.ACCEPT_GOALS]
    agreed = _Row(goals="Ziele", mentee_accepted_at=date(2026, 1, 1), mentor_accepted_at=None)
    assert _steps(active, agreed, 2) == []
    assert _steps(_access(PairingState.ACTIVE, at_risk=True), agreed, 1) == [Step.MEET_AGAIN]
    assert _steps(_access(PairingState.PAUSED), agreed, 1) == [Step.RESUME]
    assert _steps(_access(PairingState.COMPLETED), agreed, 5) == []
