"""The coordinators' matching pages (``/admin/cohorts/<cohort>/matching``), on SQLite and
PostgreSQL: the form, a run's page while a job computes it and when it is done, locking
and forbidding from the result, sending chosen proposals, and who may see all this.

The world is :mod:`tests.test_matching_runs`'s: six mentees, four mentors with five
places, the occupation, availability and conflict-of-interest criteria.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from core.db.sessions import Database
from core.matching import services
from core.matching.criteria import CriterionKind
from core.matching.models import MatchConstraint, MatchRun
from core.matching.tenant_criteria import criteria_for
from core.pairings.models import Pairing
from core.pluginhost.manager import PluginHost
from core.settings import Settings
from tests.conftest import make_app
from tests.test_identity_sessions import csrf_token
from tests.test_matching_runs import (
    AUGSBURG,
    COHORT,
    MUENCHEN,
    World,
    as_user,
    count,
    proposals,
    run_here,
    seed,
)
from tests.test_pairings import page

PAGE = f"/admin/cohorts/{COHORT}/matching"


@pytest.fixture
async def web_world(
    synced: Database, plugins: PluginHost, settings: Settings
) -> AsyncIterator[World]:
    w = await seed(synced, plugins)
    async with AsyncTestClient(make_app(settings, plugins), base_url="http://localhost") as web:
        web.follow_redirects = False
        w.web = web
        yield w


async def submit(
    w: World, path: str, data: dict[str, Any] | list[tuple[str, str]], lang: str = "en"
) -> httpx.Response:
    """Post a form as a browser does, with the CSRF token of a page of the same host."""
    assert w.web is not None
    token = csrf_token(await w.web.get("/", headers={"host": MUENCHEN}))
    fields: dict[str, list[str]] = {"_csrf_token": [token]}
    for key, value in data.items() if isinstance(data, dict) else data:
        fields.setdefault(key, []).append(value)
    return await w.web.post(path, headers={"host": MUENCHEN, "accept-language": lang}, data=fields)


def run_path(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.fullmatch(rf"{PAGE}/runs/[0-9a-f-]{{36}}", location), location
    return location


# --- the form ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "heading", "occupation"),
    [("en", "Matching for Frühjahr 2027", "Occupation"), ("de", "Matching für", "Beruf")],
)
async def test_the_form_shows_the_tenants_weights(
    web_world: World, lang: str, heading: str, occupation: str
) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await page(w, PAGE, lang)
    assert response.status_code == 200, response.text
    html = response.text
    assert heading in html
    # The tenant's settings fill the weights in.
    for criterion in criteria_for(w.plugins, await w.tenant()):
        if criterion.kind is CriterionKind.SCORE:
            assert f'name="weights.{criterion.id}" value="{criterion.weight:g}"' in html
    assert f'<label for="weight-match_occupation">{occupation}</label>' in html
    assert 'name="mode" value="optimal" checked' in html
    assert 'name="maximise_matched"' in html and 'name="seed" value="0"' in html
    # Six mentees wait, four mentors: 24 pairs, computed at once.
    assert "24" in html


async def test_the_overview_links_to_matching(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await page(w, f"/admin/cohorts/{COHORT}")
    assert f'href="{PAGE}"' in response.text


@pytest.mark.parametrize(
    ("data", "field_id", "lang", "message"),
    [
        ({"weights.match_occupation": "-1"}, "weight-match_occupation", "de", "Gewicht"),
        ({"weights.match_occupation": "schwer"}, "weight-match_occupation", "en", "weight"),
        ({"seed": "-5"}, "run-seed", "de", "ganze Zahl"),
        ({"mode": "fastest"}, "run-mode", "en", "options"),
    ],
)
async def test_invalid_choices_come_back_with_inline_errors(
    web_world: World, data: dict[str, str], field_id: str, lang: str, message: str
) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await submit(w, PAGE, data, lang)
    assert response.status_code == 422, response.text
    html = response.text
    error = re.search(rf'<p class="field-error" id="{field_id}-error">(.*?)</p>', html, re.S)
    assert error, html
    assert message.lower() in error.group(1).lower()
    assert f'href="#{field_id}"' in html  # the summary leads to the field
    if field_id.startswith("weight-"):
        assert re.search(rf'id="{field_id}"[^>]*aria-invalid="true"', html)
        # What was typed is shown again.
        assert f'value="{data["weights.match_occupation"]}"' in html
    assert await count(w, MatchRun) == 0


async def test_an_unknown_criterion_is_reported(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await submit(w, PAGE, {"weights.match_magic": "2"}, "de")
    assert response.status_code == 422
    assert "match_magic" in response.text
    assert await count(w, MatchRun) == 0


# --- a run's page -----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "de"])
async def test_a_small_run_shows_its_proposals(web_world: World, lang: str) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await submit(
        w,
        PAGE,
        {"weights.match_occupation": "2", "mode": "optimal", "seed": "4", "maximise_matched": "1"},
        lang,
    )
    path = run_path(response)
    shown = await page(w, path, lang)
    assert shown.status_code == 200, shown.text
    html = shown.text
    run_id = uuid.UUID(path.rsplit("/", 1)[1])
    rows = await proposals(w, run_id)
    assert len(rows) == 5
    for row in rows:
        assert f'id="proposal-{row.id}"' in html
        assert f'name="proposal" value="{row.id}"' in html
        assert f'value="lock:{row.mentee_application_id}:{row.mentor_application_id}"' in html
    # A bar per score criterion and proposal, its value as text too.
    assert html.count("<meter") == 10
    assert 'meter min="0" max="1" value="' in html
    assert html.count('class="sentence"') == 10
    # Proposals are shown best first.
    order = [html.index(f'id="proposal-{row.id}"') for row in rows]
    assert order == sorted(order)
    words = {
        "en": ("Optimal, and proven", "Left without a partner", "no places left"),
        "de": ("Optimal, und bewiesen", "Ohne Partner", "keine Plätze"),
    }[lang]
    for word in words:
        assert word in html, word
    assert "There is no earlier finished run" in html or "keinen früheren" in html
    # The weights the run used, by their labels.
    assert {"en": "Occupation 2", "de": "Beruf 2"}[lang] in html
    assert "<progress" not in html  # done: no progress bar


async def test_a_large_run_shows_progress_then_the_result(
    web_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = web_world
    await as_user(w, "clara")
    monkeypatch.setattr(services, "INLINE_PAIRS", 1)
    path = run_path(await submit(w, PAGE, {"seed": "1"}))
    # Until the job has written its result, the page is a progress page.
    async with w.db.tenant_session(w.tenant_id) as session:
        run = await session.get(MatchRun, uuid.UUID(path.rsplit("/", 1)[1]))
        assert run is not None
    deadline = time.monotonic() + 60
    saw_progress = False
    while True:
        html = (await page(w, path)).text
        if "<progress" in html:
            saw_progress = True
            assert re.search(r'<progress id="run-progress" max="1" value="[0-9.]+">', html)
            assert 'aria-live="polite"' in html
            assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html
            assert '<script src="/static/core/matching-progress.js" defer>' in html
            assert f'data-run-api="/api/v1/cohorts/{COHORT}/matching/runs/{run.id}"' in html
        else:
            break
        assert time.monotonic() < deadline, "the job did not finish"
        await asyncio.sleep(0.2)
    assert "<meter" in html and "http-equiv" not in html
    assert len(await proposals(w, run.id)) == 5
    # Whether the first look came before the job finished depends on timing; a run
    # still queued renders the progress page (checked above when seen, and here).
    if not saw_progress:
        await _progress_page_of_a_queued_run(w)


async def _progress_page_of_a_queued_run(w: World) -> None:
    async with w.db.tenant_session(w.tenant_id) as session, session.begin():
        run = MatchRun(cohort_id=w.cohort.id, options={}, weights={}, filters=[])
        session.add(run)
    html = (await page(w, f"{PAGE}/runs/{run.id}")).text
    assert '<progress id="run-progress" max="1" value="0.000">' in html
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html


async def test_the_progress_script_is_served(web_world: World) -> None:
    w = web_world
    response = await page(w, "/static/core/matching-progress.js")
    assert response.status_code == 200
    assert "fetch(" in response.text and "location.reload" in response.text


async def test_a_failed_run_shows_its_error(
    web_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = web_world
    await as_user(w, "clara")

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("criterion exploded")

    monkeypatch.setattr(services, "solve", broken)
    path = run_path(await submit(w, PAGE, {}))
    html = (await page(w, path, "de")).text
    assert "criterion exploded" in html
    assert 'role="alert"' in html
    assert "<meter" not in html


async def test_runs_are_listed_and_compared(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    first = run_path(await submit(w, PAGE, {}))
    second = run_path(await submit(w, PAGE, {"weights.match_occupation": "0"}))
    listing = (await page(w, PAGE)).text
    for path in (first, second):
        assert f'href="{path}"' in listing
    html = (await page(w, second)).text
    assert "Compared with the previous run" in html
    assert f'href="{first}"' in html


# --- locks, exclusions, sending ---------------------------------------------------------------


async def test_lock_and_forbid_from_the_result(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    path = run_path(await submit(w, PAGE, {}))
    run_id = uuid.UUID(path.rsplit("/", 1)[1])
    best, second, *_ = await proposals(w, run_id)
    locked = await submit(
        w,
        f"{PAGE}/constraints",
        {"pair": f"lock:{best.mentee_application_id}:{best.mentor_application_id}", "next": path},
    )
    assert locked.status_code == 303
    assert locked.headers["location"] == f"{path}?done=lock"
    assert "every run keeps it" in (await page(w, locked.headers["location"])).text
    forbidden = await submit(
        w,
        f"{PAGE}/constraints",
        {
            "pair": f"forbid:{second.mentee_application_id}:{second.mentor_application_id}",
            "next": "https://evil.example/",
        },
    )
    assert forbidden.headers["location"] == f"{PAGE}?done=forbid"  # never off-site
    async with w.db.tenant_session(w.tenant_id) as session:
        kinds = {
            c.mentee_application_id: c.kind for c in await session.scalars(select(MatchConstraint))
        }
    assert kinds == {best.mentee_application_id: "lock", second.mentee_application_id: "forbid"}
    listing = (await page(w, PAGE)).text
    assert listing.count("data-constraint=") == 2

    # The next run keeps the lock and leaves out the forbidden pair.
    rerun = uuid.UUID(run_path(await submit(w, PAGE, {})).rsplit("/", 1)[1])
    pairs = {
        (p.mentee_application_id, p.mentor_application_id): p for p in await proposals(w, rerun)
    }
    assert pairs[(best.mentee_application_id, best.mentor_application_id)].locked
    assert (second.mentee_application_id, second.mentor_application_id) not in pairs

    # Removing one.
    constraint_id = re.search(r'data-constraint="([0-9a-f-]{36})" data-kind="lock"', listing)
    assert constraint_id
    removed = await submit(w, f"{PAGE}/constraints/{constraint_id.group(1)}/delete", {})
    assert removed.status_code == 303 and removed.headers["location"] == f"{PAGE}?done=removed"
    assert await count(w, MatchConstraint) == 1


async def test_a_refused_constraint_shows_inline_errors(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    response = await submit(
        w,
        f"{PAGE}/constraints",
        {
            "mentee_application_id": str(w.apps["B1"].id),  # a mentor
            "mentor_application_id": str(w.apps["B2"].id),
            "kind": "lock",
        },
        "de",
    )
    assert response.status_code == 422
    assert 'id="constraint-mentee-error"' in response.text
    assert await count(w, MatchConstraint) == 0


async def test_send_chosen_proposals_from_the_page(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    path = run_path(await submit(w, PAGE, {}))
    run_id = uuid.UUID(path.rsplit("/", 1)[1])
    rows = await proposals(w, run_id)
    chosen = [("proposal", str(rows[0].id)), ("proposal", str(rows[2].id))]
    sent = await submit(w, f"{path}/send", chosen)
    assert sent.status_code == 200, sent.text
    assert "2 proposals sent as tandems" in sent.text
    assert await count(w, Pairing) == 2
    # The page now links the sent ones to their tandems instead of a check box.
    assert f'name="proposal" value="{rows[0].id}"' not in sent.text
    again = await submit(w, f"{path}/send", chosen, "de")
    assert again.status_code == 200
    assert await count(w, Pairing) == 2
    nothing = await submit(w, f"{path}/send", [], "de")
    assert nothing.status_code == 422
    assert "Vorschlag" in nothing.text
    everything = await submit(w, f"{path}/send", {"all": "1"})
    assert "3 proposals sent as tandems" in everything.text
    assert await count(w, Pairing) == 5
    assert "Send the chosen proposals" not in everything.text  # nothing left to send


# --- who may ----------------------------------------------------------------------------------


async def test_pages_are_for_the_tenants_coordinators_only(web_world: World) -> None:
    w = web_world
    run = await run_here(w)
    constraint_count = await count(w, MatchConstraint)
    gets = [PAGE, f"{PAGE}/runs/{run.id}"]
    posts = [
        PAGE,
        f"{PAGE}/runs/{run.id}/send",
        f"{PAGE}/constraints",
        f"{PAGE}/constraints/{uuid.uuid4()}/delete",
    ]
    for who, host, expected in (
        ("amira", MUENCHEN, 403),
        ("jonas", MUENCHEN, 403),
        ("omar", AUGSBURG, 404),
    ):
        await as_user(w, who)
        for path in gets:
            response = await page(w, path, host=host)
            assert response.status_code == expected, (who, path)
        assert w.web is not None
        token = csrf_token(await w.web.get("/", headers={"host": host}))
        for path in posts:
            response = await w.web.post(
                path, headers={"host": host}, data={"_csrf_token": token, "all": "1"}
            )
            assert response.status_code == expected, (who, path, response.text)
    await as_user(w, None)
    for path in gets:
        response = await page(w, path)
        assert response.status_code in (302, 303), path
        assert response.headers["location"].startswith("/login")
    assert await count(w, MatchRun) == 1
    assert await count(w, MatchConstraint) == constraint_count
    assert await count(w, Pairing) == 0


async def test_unknown_runs_and_cohorts_are_not_found(web_world: World) -> None:
    w = web_world
    await as_user(w, "clara")
    assert (await page(w, f"{PAGE}/runs/{uuid.uuid4()}")).status_code == 404
    assert (await page(w, "/admin/cohorts/no-such-cohort/matching")).status_code == 404
    other = await run_here(w)
    # A run of this cohort under the other cohort's address.
    response = await page(w, f"/admin/cohorts/2027-autumn/matching/runs/{other.id}")
    assert response.status_code == 404
