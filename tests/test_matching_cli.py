"""``tandem match``: instance files (format, errors, solving), the schema, and runs on a
cohort of the test database.

The criteria are the probe plugins of tests/test_matching_candidates.py (shared
language, same district, no conflict of interest), so that the expected assignments
can be worked out by hand. The example in docs/matching.md is solved with the
installed plugins, as a reader would run it.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from core.cli import main
from core.db.sessions import Database
from core.matching import instance as instances
from core.pluginhost.manager import PluginHost
from core.settings import ROOT, Settings
from tests.test_matching_candidates import Cohorts, probe_host, seed

Invoke = Callable[..., Result]
DOCS = ROOT / "docs" / "matching.md"

# m1 and t1 share German and the district: 1.0. m2 and t1 share German only: 0.5.
# t2 shares nothing with anyone (0.0), and m2 may not meet t2. The best total leaves
# m2 out (1.0 + nothing); matching both means m2-t1 and m1-t2 (0.5 + 0.0).
VALID: dict[str, Any] = {
    "mentees": [
        {"id": "m1", "languages": {"de": "B2"}, "district": "Maxvorstadt", "name": "Mia"},
        {"id": "m2", "languages": {"de": "C1"}, "district": "Schwabing"},
    ],
    "mentors": [
        {"id": "t1", "languages": {"de": "C2"}, "district": "maxvorstadt ", "capacity": 1},
        {"id": "t2", "capacity": 1, "load": 2},
    ],
    "criteria": {
        "probe_language": {"weight": 1},
        "probe_district": {"weight": 1, "radius_km": 3},
        "probe_filter": {},
    },
    "options": {"mode": "optimal", "maximise_matched": False, "seed": 0},
    "locks": [],
    "forbidden": [["m2", "t2"]],
}


@pytest.fixture
def probes(monkeypatch: pytest.MonkeyPatch) -> PluginHost:
    """The commands load the installed plugins plus the probes."""
    host = probe_host()
    monkeypatch.setattr(PluginHost, "load", classmethod(lambda cls, **kwargs: host))
    return host


def solve(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, ["match", "solve", *args], input=input)


def write(tmp_path: Path, data: Any, name: str = "instance.json") -> str:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def answer_of(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def pairs(answer: dict[str, Any]) -> set[tuple[str, str]]:
    return {(row["mentee"], row["mentor"]) for row in answer["assignment"]}


# --- solving ----------------------------------------------------------------------------------


def test_an_instance_is_solved_with_scores_parts_and_the_proof(
    probes: PluginHost, tmp_path: Path
) -> None:
    answer = answer_of(solve(write(tmp_path, VALID)))
    assert answer["assignment"] == [
        {
            "mentee": "m1",
            "mentor": "t1",
            "score": 1.0,
            "parts": {"probe_district": 1.0, "probe_language": 1.0},
            "locked": False,
        }
    ]
    assert answer["unmatched_mentees"] == [{"id": "m2", "reason": "capacity_exhausted"}]
    assert [m["id"] for m in answer["unmatched_mentors"]] == ["t2"]
    assert (answer["total_score"], answer["total_score_millionths"]) == (1.0, 1_000_000)
    assert (answer["matched"], answer["mentees"], answer["mentors"]) == (1, 2, 2)
    assert answer["criteria"] == {
        "probe_district": {"kind": "score", "weight": 1.0},
        "probe_filter": {"kind": "filter", "weight": None},
        "probe_language": {"kind": "score", "weight": 1.0},
    }
    assert answer["proof"]["proven"] is True
    assert answer["blocking_pairs"] is None
    assert answer["score_seconds"] >= 0 and answer["solve_seconds"] >= 0


def test_maximising_the_matched_count_first_and_the_command_line_over_the_file(
    probes: PluginHost, tmp_path: Path
) -> None:
    data = copy.deepcopy(VALID)
    data["options"]["maximise_matched"] = True
    path = write(tmp_path, data)
    both = answer_of(solve(path))
    assert pairs(both) == {("m1", "t2"), ("m2", "t1")}
    assert (both["matched"], both["total_score"]) == (2, 0.5)
    assert both["options"] == {"mode": "optimal", "maximise_matched": True, "seed": 0}
    # The command line wins over the file, either way.
    best = answer_of(solve(path, "--no-maximise-matched", "--seed", "7"))
    assert pairs(best) == {("m1", "t1")}
    assert best["options"] == {"mode": "optimal", "maximise_matched": False, "seed": 7}
    plain = write(tmp_path, VALID, "plain.json")
    assert pairs(answer_of(solve(plain, "--maximise-matched"))) == {("m1", "t2"), ("m2", "t1")}


def test_the_stable_mode_reports_blocking_pairs(probes: PluginHost, tmp_path: Path) -> None:
    answer = answer_of(solve(write(tmp_path, VALID), "--mode", "stable"))
    assert answer["options"]["mode"] == "stable"
    assert answer["blocking_pairs"] == 0
    assert ("m1", "t1") in pairs(answer)
    assert ("m2", "t2") not in pairs(answer)  # forbidden
    in_file = copy.deepcopy(VALID)
    in_file["options"]["mode"] = "stable"
    assert answer_of(solve(write(tmp_path, in_file)))["options"]["mode"] == "stable"
    assert answer_of(solve(write(tmp_path, in_file), "--mode", "optimal"))["blocking_pairs"] is None


def test_locks_stay_and_forbidden_pairs_never_appear(probes: PluginHost, tmp_path: Path) -> None:
    data = copy.deepcopy(VALID)
    data["locks"] = [["m2", "t1"]]
    answer = answer_of(solve(write(tmp_path, data), "--maximise-matched"))
    assert {(r["mentee"], r["mentor"], r["locked"]) for r in answer["assignment"]} == {
        ("m2", "t1", True),
        ("m1", "t2", False),
    }
    data["forbidden"] = [["m1", "t1"], ["m2", "t2"]]
    data["locks"] = []
    answer = answer_of(solve(write(tmp_path, data)))
    assert ("m1", "t1") not in pairs(answer) and ("m2", "t2") not in pairs(answer)


def test_the_conflict_filter_holds_same_person_and_same_employer(
    probes: PluginHost, tmp_path: Path
) -> None:
    data = copy.deepcopy(VALID)
    data["forbidden"] = []
    data["mentees"][0]["person"] = "mia@example.org"
    data["mentors"][0]["person"] = "MIA@example.org"  # compared case-insensitively
    data["mentees"][1]["employer"] = "Siemens AG"
    data["mentors"][1]["employer"] = "siemens ag"
    answer = answer_of(solve(write(tmp_path, data), "--maximise-matched"))
    assert pairs(answer) == {("m1", "t2"), ("m2", "t1")}


def _untimed(answer: dict[str, Any]) -> dict[str, Any]:
    def keep(key: str) -> bool:
        return not key.endswith("_seconds")

    proof = {k: v for k, v in answer.get("proof", {}).items() if keep(k)}
    return {k: v for k, v in answer.items() if keep(k)} | {"proof": proof}


def test_standard_input_and_an_output_file(probes: PluginHost, tmp_path: Path) -> None:
    from_stdin = answer_of(solve("-", input=json.dumps(VALID)))
    assert pairs(from_stdin) == {("m1", "t1")}
    target = tmp_path / "out" / "answer.json"
    target.parent.mkdir()
    result = solve(write(tmp_path, VALID), "--output", str(target))
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    written = json.loads(target.read_text(encoding="utf-8"))
    # The same answer, but for the timings (which the proof reports per phase too).
    assert _untimed(written) == _untimed(from_stdin)


def test_the_same_instance_and_seed_give_the_same_answer(
    probes: PluginHost, tmp_path: Path
) -> None:
    data = copy.deepcopy(VALID)
    # Ties everywhere: four mentees who score the same with three mentors.
    data["mentees"] = [{"id": f"m{i}", "languages": {"de": "B2"}} for i in range(4)]
    data["mentors"] = [{"id": f"t{i}", "languages": {"de": "C2"}, "capacity": 1} for i in range(3)]
    data["forbidden"] = []
    path = write(tmp_path, data)
    first = answer_of(solve(path, "--seed", "3"))
    again = answer_of(solve(path, "--seed", "3"))
    assert first["assignment"] == again["assignment"]
    assert first["matched"] == 3


def test_an_instance_with_nobody_or_no_criteria_is_solved(
    probes: PluginHost, tmp_path: Path
) -> None:
    empty = answer_of(solve(write(tmp_path, {"mentees": [], "mentors": []})))
    assert (empty["assignment"], empty["matched"], empty["total_score"]) == ([], 0, 0.0)
    no_criteria = copy.deepcopy(VALID)
    no_criteria["criteria"] = {}
    answer = answer_of(solve(write(tmp_path, no_criteria)))
    assert all(row["score"] == 0.0 and row["parts"] == {} for row in answer["assignment"])


# --- invalid instances -----------------------------------------------------------------------


def _with(**changes: Any) -> dict[str, Any]:
    """VALID with changes given as ``path=value`` (``mentors__1__capacity=-1``)."""
    data = copy.deepcopy(VALID)
    for dotted, value in changes.items():
        *parents, last = [int(p) if p.isdigit() else p for p in dotted.split("__")]
        target: Any = data
        for part in parents:
            target = target[part]
        target[last] = value
    return data


INVALID: list[tuple[str, Any, str]] = [
    ("unknown criterion", _with(criteria={"nope": {}}), "criteria.nope: unknown criterion"),
    (
        "a plugin without criteria",
        _with(criteria={"announcements": {}}),
        "criteria.announcements: unknown criterion",
    ),
    (
        "criterion setting out of range",
        _with(criteria__probe_language={"weight": 0}),
        "criteria.probe_language.weight: Input should be greater than 0",
    ),
    (
        "unknown criterion setting",
        _with(criteria__probe_district={"wieght": 1}),
        "criteria.probe_district.wieght:",
    ),
    (
        "criterion settings not an object",
        _with(criteria__probe_language=3),
        "criteria.probe_language: must be an object",
    ),
    (
        "duplicate criterion ids",
        _with(criteria={"probe_language": {}, "probe_duplicate": {}}),
        "criteria: matching criteria with the same id from several plugins: probe_language",
    ),
    ("negative capacity", _with(mentors__1__capacity=-1), "mentors[1].capacity: must be ≥ 0"),
    ("negative load", _with(mentors__0__load=-3), "mentors[0].load: must be ≥ 0"),
    ("negative years", _with(mentees__0__years=-1), "mentees[0].years: must be ≥ 0"),
    (
        "duplicate mentee id",
        _with(mentees__1__id="m1"),
        "mentees[1].id: duplicate id 'm1' (also mentees[0])",
    ),
    (
        "duplicate mentor id",
        _with(mentors__1__id="t1", forbidden=[]),
        "mentors[1].id: duplicate id 't1' (also mentors[0])",
    ),
    ("empty id", _with(mentees__0__id=""), "mentees[0].id: must not be empty"),
    ("id not a string", _with(mentees__0__id=1), "mentees[0].id: must be a valid string"),
    (
        "capacity as text",
        _with(mentors__0__capacity="2"),
        "mentors[0].capacity: must be an integer",
    ),
    (
        "capacity a fraction",
        _with(mentors__0__capacity=1.5),
        "mentors[0].capacity: must be an integer",
    ),
    ("years as text", _with(mentees__0__years="4"), "mentees[0].years: must be a valid number"),
    (
        "same_gender as text",
        _with(mentees__0__same_gender="yes"),
        "mentees[0].same_gender: must be a valid boolean",
    ),
    (
        "languages as a list",
        _with(mentees__0__languages=["de"]),
        "mentees[0].languages: must be an object",
    ),
    (
        "unknown availability slot",
        _with(mentees__0__availability=["weekday_evening", "sunday_brunch"]),
        "mentees[0].availability[1]: must be 'weekday_daytime', 'weekday_evening'",
    ),
    (
        "bad CEFR level",
        _with(mentees__1__languages={"de": "B3"}),
        "mentees[1].languages.de: must be 'A1'",
    ),
    (
        "unknown language",
        _with(mentees__1__languages={"xx": "B2"}),
        "mentees[1].languages.xx: 'xx' is not a language code we know",
    ),
    (
        "ISCO code that does not exist",
        _with(mentees__0__occupation="7777"),
        "mentees[0].occupation: '7777': ISCO-08 has no sub-major group 77",
    ),
    (
        "ISCO minor group that does not exist",
        _with(mentors__0__occupation="2191"),
        "mentors[0].occupation: '2191': ISCO-08 has no minor group 219",
    ),
    (
        "ISCO code with letters",
        _with(mentees__0__occupation="25a"),
        "mentees[0].occupation: '25a' is not an ISCO-08 code",
    ),
    (
        "ISCO code too long",
        _with(mentees__0__occupation="25123"),
        "mentees[0].occupation: '25123' is not an ISCO-08 code",
    ),
    (
        "latitude out of range",
        _with(mentees__0__location=[91, 11.5]),
        "mentees[0].location[0]: must be ≤ 90",
    ),
    (
        "location incomplete",
        _with(mentees__0__location=[48.1]),
        "mentees[0].location[1]: is required",
    ),
    (
        "lock naming an unknown mentor",
        _with(locks=[["m1", "t9"]]),
        "locks[0][1]: no mentor has the id 't9'",
    ),
    (
        "exclusion naming an unknown mentee",
        _with(forbidden=[["m2", "t2"], ["m7", "t1"]]),
        "forbidden[1][0]: no mentee has the id 'm7'",
    ),
    ("lock not a pair", _with(locks=[["m1"]]), "locks[0][1]: is required"),
    (
        "a pair both locked and forbidden",
        _with(locks=[["m2", "t2"]]),
        "forbidden[0]: the pair ['m2', 't2'] is locked as well",
    ),
    (
        "a mentee locked twice",
        _with(locks=[["m1", "t1"], ["m1", "t2"]], forbidden=[]),
        "locks[1]: mentee 'm1' is locked to 't1' already",
    ),
    (
        "more locks than places",
        _with(locks=[["m1", "t1"], ["m2", "t1"]], forbidden=[]),
        "locks[1]: mentor 't1' has more locked mentees than places (capacity 1)",
    ),
    ("unknown option", _with(options={"speed": "fast"}), "options.speed: unknown field"),
    ("unknown mode", _with(options__mode="greedy"), "options.mode: must be 'optimal' or 'stable'"),
    ("negative seed", _with(options__seed=-1), "options.seed: must be ≥ 0"),
    ("unknown field", _with(colour="blue"), "colour: unknown field"),
    ("unknown person field", _with(mentees__0__age=30), "mentees[0].age: unknown field"),
    ("capacity on a mentee", _with(mentees__0__capacity=2), "mentees[0].capacity: unknown field"),
    ("no mentors", {"mentees": []}, "mentors: is required"),
    ("a person not an object", _with(mentors__0="t1"), "mentors[0]: must be an object"),
    ("not an object", [VALID], "must be a JSON object"),
    ("not JSON", '{\n  "mentees": [,]\n}', "not JSON: Expecting value at line 2, column 15"),
    ("not UTF-8", None, "not UTF-8"),
]


@pytest.mark.parametrize(
    ("data", "message"), [(d, m) for _, d, m in INVALID], ids=[i for i, _, _ in INVALID]
)
def test_an_invalid_instance_exits_2_naming_the_field(
    probes: PluginHost, tmp_path: Path, data: Any, message: str
) -> None:
    path = tmp_path / "bad.json"
    if data is None:
        path.write_bytes(b'{"mentees": [{"id": "\xff"}], "mentors": []}')
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    result = solve(str(path))
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert f"{path}: invalid instance" in result.stderr
    assert message in result.stderr


def test_every_problem_of_a_file_is_reported_at_once(probes: PluginHost, tmp_path: Path) -> None:
    data = _with(mentors__1__capacity=-1, mentees__0__availability=["noon"], colour=1)
    result = solve(write(tmp_path, data))
    assert result.exit_code == 2
    for message in ("mentors[1].capacity", "mentees[0].availability[0]", "colour"):
        assert message in result.stderr
    # Whole-file checks and criteria follow once the shapes are right.
    data = _with(mentees__1__id="m1", locks=[["x", "t1"]], criteria={"nope": {}})
    result = solve(write(tmp_path, data))
    assert result.exit_code == 2
    assert "mentees[1].id: duplicate id" in result.stderr
    assert "locks[0][0]: no mentee has the id 'x'" in result.stderr


def test_a_missing_file_or_bad_option_is_a_usage_error(probes: PluginHost, tmp_path: Path) -> None:
    assert solve(str(tmp_path / "nothing.json")).exit_code == 2
    path = write(tmp_path, VALID)
    assert solve(path, "--mode", "greedy").exit_code == 2
    assert solve(path, "--seed", "-1").exit_code == 2


# --- the JSON Schema ---------------------------------------------------------------------------


def test_the_schema_file_is_made_from_the_models() -> None:
    stored = instances.SCHEMA_PATH.read_text(encoding="utf-8")
    assert stored == instances.schema_text(), (
        "core/matching/instance.schema.json is out of date: "
        "run `.venv/bin/python -m core.matching.instance`"
    )
    schema = json.loads(stored)
    assert schema["$id"] == instances.SCHEMA_ID
    assert set(schema["required"]) == {"mentees", "mentors"}
    assert schema["additionalProperties"] is False
    mentor = schema["$defs"]["MentorSpec"]["properties"]
    assert mentor["capacity"]["minimum"] == 0
    slots = schema["$defs"]["MenteeSpec"]["properties"]["availability"]["items"]["enum"]
    assert "weekday_evening" in slots


def test_the_schema_command_prints_it() -> None:
    result = CliRunner().invoke(main, ["match", "schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == instances.instance_schema()


def test_a_file_naming_its_schema_is_accepted(probes: PluginHost, tmp_path: Path) -> None:
    data = {"$schema": instances.SCHEMA_ID, **VALID}
    assert answer_of(solve(write(tmp_path, data)))["matched"] == 1


# --- the documentation's example -------------------------------------------------------------


def _docs_block(marker: str) -> dict[str, Any]:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```json\n(.*?)```", text, re.DOTALL)
    assert found, f"docs/matching.md has no ```json block after <!-- {marker} -->"
    return json.loads(found.group(1))


def test_the_documented_example_solves_to_the_documented_answer(tmp_path: Path) -> None:
    example = _docs_block("example-instance")
    path = write(tmp_path, example)
    answer = answer_of(solve(path))  # the installed plugins, as a reader has them
    documented = _docs_block("example-answer")
    for key in ("assignment", "unmatched_mentees", "unmatched_mentors", "total_score", "matched"):
        assert answer[key] == documented[key], key
    assert answer_of(solve(path, "--mode", "stable"))["blocking_pairs"] == 0


# --- runs on a cohort --------------------------------------------------------------------------


@pytest.fixture
def cli(settings: Settings) -> Invoke:
    environment = {
        "TANDEM_ENV": "test",
        "TANDEM_DATABASE_URL": settings.database_url,
        "TANDEM_MIGRATION_DATABASE_URL": settings.migration_database_url,
        "TANDEM_APP_DB_ROLE": settings.app_db_role,
        "TANDEM_BROKER_URL": "",
        "TANDEM_ROOT": str(settings.root),
    }

    def invoke(*args: str) -> Result:
        return CliRunner(env=environment).invoke(main, list(args))

    return invoke


@pytest.fixture
def cohorts(cli: Invoke, settings: Settings, probes: PluginHost) -> Cohorts:
    result = cli("tenants", "sync")
    assert result.exit_code == 0, result.output

    async def go() -> Cohorts:
        db = Database(settings.database_url)
        try:
            return await seed(db, probes)
        finally:
            await db.dispose()

    return asyncio.run(go())


def test_a_cohort_is_matched_under_the_tenants_criteria(cli: Invoke, cohorts: Cohorts) -> None:
    answer = answer_of(cli("match", "run", "--tenant", "muenchen", "--cohort", "2027-spring"))
    a = {name: str(app.id) for name, app in cohorts.apps.items()}
    assert (answer["tenant"], answer["cohort"]) == ("muenchen", "2027-spring")
    assert set(answer["criteria"]) == {"probe_district", "probe_filter", "probe_language"}
    rows = {(r["mentee"], r["mentor"]): r for r in answer["assignment"]}
    # Amira's lock with Jonas holds, with both names.
    locked = rows[(a["amira"], a["jonas"])]
    assert (locked["locked"], locked["mentee_name"], locked["mentor_name"]) == (
        True,
        "Amira",
        "Jonas",
    )
    # Hana may not meet Mona; Fatima never meets herself.
    assert (a["hana"], a["mona"]) not in rows
    assert (a["fatima_mentee"], a["fatima_mentor"]) not in rows
    assert answer["mentees"] == 3 and answer["mentors"] == 4
    assert set(answer["paired_mentees"]) == {a["bilal"], a["ivan"]}
    assert answer["full_mentors"] == [a["paul"]]
    assert {(s["mentee"], s["reason"]) for s in answer["skipped_constraints"]} == {
        (a["bilal"], "mentee_not_candidate"),
        (a["amira"], "mentor_not_candidate"),
        (a["carla"], "mentee_not_candidate"),
    }
    dumped = json.dumps(answer)
    assert not any(str(app.id) in dumped for app in cohorts.other_apps.values())


def test_what_if_weights_and_options_on_a_run(cli: Invoke, cohorts: Cohorts) -> None:
    args = ("match", "run", "--tenant", "muenchen", "--cohort", "2027-spring")
    answer = answer_of(
        cli(*args, "--weight", "probe_district=4", "--maximise-matched", "--seed", "2")
    )
    assert answer["criteria"]["probe_district"]["weight"] == 4.0
    assert answer["options"] == {"mode": "optimal", "maximise_matched": True, "seed": 2}
    assert answer["matched"] == 3
    stable = answer_of(cli(*args, "--mode", "stable"))
    assert stable["blocking_pairs"] == 0
    bad = cli(*args, "--weight", "probe_filter=2")
    assert bad.exit_code == 2 and "no score criterion 'probe_filter'" in bad.stderr
    bad = cli(*args, "--weight", "probe_language")
    assert bad.exit_code == 2 and "expected CRITERION=NUMBER" in bad.stderr


async def _stored(settings: Settings, tenant_id: Any) -> dict[str, Any]:
    from sqlalchemy import select

    from core.identity.models import AuditEntry
    from core.matching.models import MatchProposal, MatchRun, MatchUnmatched

    db = Database(settings.database_url)
    try:
        async with db.tenant_session(tenant_id) as session:
            return {
                "runs": list(await session.scalars(select(MatchRun))),
                "proposals": list(await session.scalars(select(MatchProposal))),
                "unmatched": list(await session.scalars(select(MatchUnmatched))),
                "audit": [
                    e.details
                    for e in await session.scalars(select(AuditEntry))
                    if e.action == "match_run_started"
                ],
            }
    finally:
        await db.dispose()


def test_a_run_changes_nothing_unless_saved(
    cli: Invoke, cohorts: Cohorts, settings: Settings
) -> None:
    args = ("match", "run", "--tenant", "muenchen", "--cohort", "2027-spring")
    plain = answer_of(cli(*args))
    assert "run" not in plain
    assert all(not rows for rows in asyncio.run(_stored(settings, cohorts.tenant_id)).values())

    saved = answer_of(cli(*args, "--save", "--weight", "probe_language=2"))
    stored = asyncio.run(_stored(settings, cohorts.tenant_id))
    (run,) = stored["runs"]
    assert saved["run"] == str(run.id)
    assert (run.status, run.cohort_id, run.created_by_user_id) == ("done", cohorts.cohort.id, None)
    assert run.options == {"mode": "optimal", "maximise_matched": False, "seed": 0}
    assert run.weights == {"probe_district": 1.0, "probe_language": 2.0}
    assert run.filters == ["probe_filter"]
    assert run.summary["matched"] == saved["matched"]
    assert run.summary["total_score"] == saved["total_score_millionths"]
    assert {
        (str(p.mentee_application_id), str(p.mentor_application_id)) for p in stored["proposals"]
    } == pairs(saved)
    assert len(stored["unmatched"]) == len(saved["unmatched_mentees"]) + len(
        saved["unmatched_mentors"]
    )
    assert stored["audit"] == [
        {
            "run_id": str(run.id),
            "cohort": "2027-spring",
            "mode": "optimal",
            "maximise_matched": False,
            "seed": 0,
            "via": "command line",
        }
    ]
    # Nothing of it in the other tenant.
    assert all(
        not rows for rows in asyncio.run(_stored(settings, cohorts.other_tenant_id)).values()
    )


def test_an_unknown_tenant_or_cohort_exits_2(cli: Invoke, cohorts: Cohorts) -> None:
    result = cli("match", "run", "--tenant", "nowhere", "--cohort", "2027-spring")
    assert result.exit_code == 2 and "no tenant 'nowhere'" in result.stderr
    result = cli("match", "run", "--tenant", "muenchen", "--cohort", "2031-autumn")
    assert result.exit_code == 2
    assert "tenant 'muenchen' has no cohort '2031-autumn'" in result.stderr


def test_another_tenants_cohort_slug_is_not_found(
    cli: Invoke, cohorts: Cohorts, settings: Settings
) -> None:
    async def rename() -> None:
        from core.programmes.models import Cohort

        db = Database(settings.database_url)
        try:
            async with db.tenant_session(cohorts.other_tenant_id) as session, session.begin():
                cohort = await session.get(Cohort, cohorts.other_cohort.id)
                assert cohort is not None
                cohort.slug = "augsburg-only"
        finally:
            await db.dispose()

    asyncio.run(rename())
    result = cli("match", "run", "--tenant", "muenchen", "--cohort", "augsburg-only")
    assert result.exit_code == 2
    assert "tenant 'muenchen' has no cohort 'augsburg-only'" in result.stderr
    answer = answer_of(cli("match", "run", "--tenant", "augsburg", "--cohort", "augsburg-only"))
    ours = {str(app.id) for app in cohorts.apps.values()}
    assert not any(mine in json.dumps(answer) for mine in ours)
    assert answer["mentees"] == 2 and answer["mentors"] == 1
