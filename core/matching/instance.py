"""The instance file of ``tandem match solve``: a matching problem as JSON, and its answer.

An instance names the people of both sides with their feature values, the criteria
(plugin ids with each plugin's settings: weight and parameters) and the options::

    {"mentees": [{"id": "m1", "occupation": "2512", "languages": {"de": "B2"}, ...}],
     "mentors": [{"id": "t1", ..., "capacity": 2, "load": 0}],
     "criteria": {"match_occupation": {"weight": 3}},
     "options": {"mode": "optimal", "maximise_matched": false, "seed": 0},
     "locks": [["m1", "t1"]], "forbidden": [["m2", "t1"]]}

docs/matching.md describes every field; :data:`SCHEMA_PATH` is the JSON Schema, made
from the pydantic models below by :func:`instance_schema` (tests keep it current).

Checking happens in three passes, each reporting every problem it finds with the
path of the field (``mentors[3].capacity: must be ≥ 0``): the JSON syntax (line and
column), the shapes and reference data (the models: types, ranges, CEFR levels,
ISCO-08 codes, language codes, time slots), and what only the whole file can tell
(duplicate ids, locks naming nobody, criteria and their plugin settings).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from core.matching.criteria import SCALE, CriterionKind
from core.matching.features import Person, encode
from core.matching.problem import Mode, Options, Pair, Problem, Solution
from core.matching.tenant_criteria import criteria_for
from core.pluginhost.info import PluginSettingsError
from core.pluginhost.manager import PluginHost
from core.reference import availability, cefr, languages, occupations
from core.tenancy.models import TenantStatus
from core.tenancy.snapshot import TenantSnapshot

SCHEMA_PATH = Path(__file__).with_name("instance.schema.json")
SCHEMA_ID = "https://tandem.example/schemas/matching-instance.json"
HOOK = "register_matching_criteria"

FieldProblem = tuple[str, str]  # (field path, message)


class InstanceError(ValueError):
    """An instance that cannot be solved as written; ``problems`` are (path, message)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = problems
        super().__init__(
            "\n".join(f"{path}: {message}" if path else message for path, message in problems)
        )


# --- reference data checks ------------------------------------------------------------------


def _isco(code: str) -> str:
    """An ISCO-08 code of 1-4 digits whose groups exist (the reference lists minor
    groups only where applicants choose them; finer digits are the caller's)."""
    if not code:
        return code
    if not (code.isascii() and code.isdigit() and len(code) <= 4):
        raise ValueError(f"{code!r} is not an ISCO-08 code (1 to 4 digits)")
    known = occupations.OCCUPATIONS
    if len(code) >= 2 and code[:2] not in known:
        raise ValueError(f"{code!r}: ISCO-08 has no sub-major group {code[:2]}")
    minor_listed = any(len(c) == 3 and c.startswith(code[:2]) for c in known)
    if len(code) >= 3 and minor_listed and code[:3] not in known:
        raise ValueError(f"{code!r}: ISCO-08 has no minor group {code[:3]}")
    return code


def _language(code: str) -> str:
    return languages.normalise(code)


Level = Literal[cefr.LEVELS]  # type: ignore[valid-type]
Slot = Literal[tuple(availability.SLOTS)]  # type: ignore[valid-type]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


# --- the models (and so the JSON Schema) ----------------------------------------------------


class _Strict(BaseModel):
    # strict: "3" is not a number and 3.0 not an integer; a wrong type is an error
    # rather than a guess, since a silently coerced capacity changes the answer.
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class MenteeSpec(_Strict):
    """A mentee: who they are and what the criteria compare."""

    id: Id = Field(description="Unique among the mentees; the output names people by it.")
    occupation: Annotated[str, AfterValidator(_isco)] = Field(
        "", description='ISCO-08 code, 1-4 digits ("2512"); "" unknown.'
    )
    languages: dict[Annotated[str, AfterValidator(_language)], Level] = Field(
        default_factory=dict, description='ISO 639 code -> CEFR level, {"de": "B2"}.'
    )
    district: str = Field("", description="Free text, compared case-insensitively.")
    location: tuple[Latitude, Longitude] | None = Field(
        None, description="[latitude, longitude] in degrees; null unknown."
    )
    availability: list[Slot] = Field(default_factory=list, description="Time slots when free.")
    gender: str = Field("", description="Self-described; compared only for same_gender.")
    same_gender: bool = Field(False, description="The mentee asks for a mentor of their gender.")
    employer: str = Field("", description="Free text; the conflict-of-interest criterion.")
    person: str = Field(
        "", description="Who the human is (e-mail, user id): nobody is matched with themselves."
    )
    years: Annotated[float, Field(ge=0)] = Field(0.0, description="Years of experience.")
    name: str = Field("", description="Shown, never compared.")


class MentorSpec(MenteeSpec):
    """A mentor: the mentee fields plus how many mentees they can take."""

    capacity: Annotated[int, Field(ge=0)] = Field(1, description="Places left in this run.")
    load: Annotated[int, Field(ge=0)] = Field(0, description="Mentees they already have.")


class OptionsSpec(_Strict):
    mode: Literal["optimal", "stable"] = Field(
        "optimal", description="optimal: the best total score; stable: no blocking pair."
    )
    maximise_matched: bool = Field(
        False, description="First the number of mentees matched, then the score."
    )
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = Field(
        0, description="Breaks ties between equal scores."
    )
    candidates_per_mentee: Annotated[int, Field(ge=0)] = Field(
        0, description="Candidates kept per mentee before the optimality proof; 0 automatic."
    )


class InstanceSpec(_Strict):
    """A matching problem for ``tandem match solve``."""

    model_config = ConfigDict(title="Tandem matching instance")

    schema_: str | None = Field(None, alias="$schema", description="Optional; ignored.")
    mentees: list[MenteeSpec]
    mentors: list[MentorSpec]
    criteria: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Plugin id -> that plugin's settings (weight and parameters); "
        "see `tandem plugins show ID`.",
    )
    options: OptionsSpec = Field(default_factory=OptionsSpec)
    locks: list[tuple[Id, Id]] = Field(
        default_factory=list, description="[mentee id, mentor id] pairs that stay matched."
    )
    forbidden: list[tuple[Id, Id]] = Field(
        default_factory=list, description="[mentee id, mentor id] pairs never matched."
    )


def instance_schema() -> dict[str, Any]:
    """The JSON Schema of instance files, as stored in :data:`SCHEMA_PATH`."""
    schema = InstanceSpec.model_json_schema(by_alias=True)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID, **schema}


def schema_text() -> str:
    return json.dumps(instance_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> None:
    """Regenerate the schema file: ``python -m core.matching.instance``."""
    path.write_text(schema_text(), encoding="utf-8")


# --- reading an instance ------------------------------------------------------------------


@dataclass(frozen=True)
class Instance:
    spec: InstanceSpec
    problem: Problem
    options: Options


def parse(text: str | bytes) -> InstanceSpec:
    """The instance's models, or InstanceError naming every field that is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InstanceError([("", f"not UTF-8 text (byte {exc.start})")]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InstanceError(
            [("", f"not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}")]
        ) from None
    if not isinstance(data, dict):
        raise InstanceError([("", "must be a JSON object with mentees, mentors and criteria")])
    try:
        spec = InstanceSpec.model_validate_json(text)
    except ValidationError as exc:
        raise InstanceError([(_path(e["loc"]), _message(e)) for e in exc.errors()]) from None
    problems = _cross_checks(spec)
    if problems:
        raise InstanceError(problems)
    return spec


def load(text: str | bytes, plugins: PluginHost) -> Instance:
    """Parse, check the criteria against the installed plugins and build the problem."""
    spec = parse(text)
    settings = _criteria_settings(spec.criteria, plugins)
    try:
        criteria = criteria_for(plugins, _snapshot(settings))
    except ValueError as exc:
        raise InstanceError([("criteria", str(exc))]) from None
    mentees = [_person(m) for m in spec.mentees]
    mentors = [_person(m, capacity=m.capacity, load=m.load) for m in spec.mentors]
    mentee_side, mentor_side, vocabulary = encode(mentees, mentors)
    mentee_row = {m.id: row for row, m in enumerate(spec.mentees)}
    mentor_row = {m.id: row for row, m in enumerate(spec.mentors)}
    problem = Problem(
        mentees=mentee_side,
        mentors=mentor_side,
        vocabulary=vocabulary,
        criteria=criteria,
        locked=frozenset(Pair(mentee_row[a], mentor_row[b]) for a, b in spec.locks),
        forbidden=frozenset(Pair(mentee_row[a], mentor_row[b]) for a, b in spec.forbidden),
    )
    options = Options(
        mode=Mode(spec.options.mode),
        maximise_matched=spec.options.maximise_matched,
        seed=spec.options.seed,
        candidates_per_mentee=spec.options.candidates_per_mentee,
    )
    return Instance(spec, problem, options)


def _person(spec: MenteeSpec, *, capacity: int = 1, load: int = 0) -> Person:
    return Person(
        id=spec.id,
        occupation=spec.occupation or None,
        languages=dict(spec.languages),
        district=spec.district,
        location=spec.location,
        availability=tuple(spec.availability),
        gender=spec.gender,
        same_gender=spec.same_gender,
        employer=spec.employer,
        person=spec.person,
        years=spec.years,
        capacity=capacity,
        load=load,
        name=spec.name,
    )


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if part == "[key]":  # the dict key itself was wrong; the message names it
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _message(error: Mapping[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "greater_than_equal":
        return f"must be ≥ {_number(ctx['ge'])}"
    if kind == "less_than_equal":
        return f"must be ≤ {_number(ctx['le'])}"
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "unknown field"
    if kind in {"int_type", "int_from_float"}:
        return "must be an integer"
    if kind in {"too_short", "string_too_short"} and ctx.get("min_length") == 1:
        return "must not be empty"
    message = str(error["msg"]).removeprefix("Value error, ")
    return message.replace("Input should be", "must be")


def _number(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _cross_checks(spec: InstanceSpec) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for side, people in (("mentees", spec.mentees), ("mentors", spec.mentors)):
        first: dict[str, int] = {}
        for row, person in enumerate(people):
            if person.id in first:
                problems.append(
                    (
                        f"{side}[{row}].id",
                        f"duplicate id {person.id!r} (also {side}[{first[person.id]}])",
                    )
                )
            else:
                first[person.id] = row
    mentee_ids = {m.id for m in spec.mentees}
    mentors = {m.id: m for m in spec.mentors}
    for field in ("locks", "forbidden"):
        for k, (mentee, mentor) in enumerate(getattr(spec, field)):
            if mentee not in mentee_ids:
                problems.append((f"{field}[{k}][0]", f"no mentee has the id {mentee!r}"))
            if mentor not in mentors:
                problems.append((f"{field}[{k}][1]", f"no mentor has the id {mentor!r}"))
    locked = set(spec.locks)
    for k, pair in enumerate(spec.forbidden):
        if pair in locked:
            problems.append((f"forbidden[{k}]", f"the pair {list(pair)} is locked as well"))
    locked_to: dict[str, str] = {}
    mentor_locks: Counter[str] = Counter()
    for k, (mentee, mentor) in enumerate(spec.locks):
        if mentee not in mentee_ids or mentor not in mentors or locked_to.get(mentee) == mentor:
            continue  # reported above, or the same lock twice
        if mentee in locked_to:
            problems.append(
                (f"locks[{k}]", f"mentee {mentee!r} is locked to {locked_to[mentee]!r} already")
            )
            continue
        locked_to[mentee] = mentor
        mentor_locks[mentor] += 1
        if mentor_locks[mentor] > mentors[mentor].capacity:
            problems.append(
                (
                    f"locks[{k}]",
                    f"mentor {mentor!r} has more locked mentees than places "
                    f"(capacity {mentors[mentor].capacity})",
                )
            )
    return problems


def criteria_plugins(plugins: PluginHost) -> list[str]:
    """Ids of the installed plugins that contribute matching criteria."""
    caller = getattr(plugins.pm.hook, HOOK)
    return sorted({impl.plugin_name for impl in caller.get_hookimpls()})


def _criteria_settings(
    raw: Mapping[str, Mapping[str, Any]], plugins: PluginHost
) -> dict[str, dict[str, Any]]:
    """Each criterion's settings as its plugin normalises them, or InstanceError."""
    offering = criteria_plugins(plugins)
    installed = ", ".join(offering) or "none"
    problems: list[FieldProblem] = []
    settings: dict[str, dict[str, Any]] = {}
    for plugin_id, params in raw.items():
        if plugin_id not in offering:
            problems.append(
                (
                    f"criteria.{plugin_id}",
                    f"unknown criterion (installed criteria plugins: {installed})",
                )
            )
            continue
        try:
            settings[plugin_id] = plugins.info(plugin_id).validate_settings(dict(params))
        except PluginSettingsError as exc:
            problems += [(f"criteria.{plugin_id}.{field}", msg) for field, msg in exc.problems]
    if problems:
        raise InstanceError(problems)
    return settings


def _snapshot(plugin_settings: dict[str, dict[str, Any]]) -> TenantSnapshot:
    """A tenant that exists only for this file: its enabled plugins are the criteria."""
    return TenantSnapshot(
        id=uuid.UUID(int=0),
        slug="instance",
        name="Instance file",
        status=TenantStatus.ACTIVE,
        default_locale="en",
        locales=("en",),
        theme="default",
        revision=0,
        plugin_settings=MappingProxyType(plugin_settings),
    )


# --- the answer -------------------------------------------------------------------------------


def solution_json(
    problem: Problem, options: Options, solution: Solution, *, names: bool = False
) -> dict[str, Any]:
    """What ``tandem match solve`` and ``run`` print: ids, scores in [0, 1], timings.

    Scores are the solver's millionths divided by :data:`SCALE` (exact to six
    places); ``total_score_millionths`` is the exact integer total.
    """
    mentees, mentors = problem.mentees, problem.mentors

    def who(side: Any, row: int, key: str) -> dict[str, Any]:
        entry: dict[str, Any] = {key: side.ids[row]}
        if names:
            entry[f"{key}_name"] = side.people[row].name if side.people else ""
        return entry

    assignment = [
        {
            **who(mentees, p.mentee, "mentee"),
            **who(mentors, p.mentor, "mentor"),
            "score": round(p.score / SCALE, 6),
            "parts": {cid: round(float(v), 6) for cid, v in sorted(p.parts.items())},
            "locked": p.locked,
        }
        for p in sorted(solution.proposals, key=lambda p: (p.mentee, p.mentor))
    ]
    return {
        "assignment": assignment,
        "unmatched_mentees": [
            {**who(mentees, u.index, "id"), "reason": str(u.reason)}
            for u in sorted(solution.unmatched_mentees, key=lambda u: u.index)
        ],
        "unmatched_mentors": [
            {**who(mentors, u.index, "id"), "reason": str(u.reason)}
            for u in sorted(solution.unmatched_mentors, key=lambda u: u.index)
        ],
        "total_score": round(solution.total_score / SCALE, 6),
        "total_score_millionths": int(solution.total_score),
        "matched": solution.matched,
        "mentees": len(mentees),
        "mentors": len(mentors),
        # Filters have no weight to show: it would only suggest they are weighed.
        "criteria": {
            c.id: {
                "kind": str(c.kind),
                "weight": float(c.weight) if c.kind is CriterionKind.SCORE else None,
            }
            for c in problem.criteria
        },
        "options": {
            "mode": str(options.mode),
            "maximise_matched": options.maximise_matched,
            "seed": options.seed,
        },
        "proof": dict(solution.proof),
        "blocking_pairs": solution.blocking_pairs,
        "score_seconds": round(solution.score_seconds, 4),
        "solve_seconds": round(solution.solve_seconds, 4),
    }


def dumps(answer: Mapping[str, Any]) -> str:
    """JSON text of an answer; numpy numbers (a solver's proof) as plain numbers."""
    return json.dumps(answer, indent=2, ensure_ascii=False, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


if __name__ == "__main__":
    write_schema()
