"""Matching benchmark: seeded synthetic cohorts, the built-in criteria, the real solver.

    python bench/matching.py --sizes 1000x300,10000x3000,50000x15000 [--json]
        [--seed N] [--no-dense] [--mode optimal|stable] [--maximise-matched]

Each size runs in a fresh Python process (so that its peak memory is its own): it
generates the cohort, loads the eight ``match_*`` criteria plugins through the plugin
host with their default settings, and solves with :func:`core.matching.solver.solve`.
For sizes up to 5,000 x 1,500 a second fresh process solves the capacity-expanded
dense problem with SciPy (:mod:`core.matching.dense`) and the totals are compared.
bench/README.md describes the generator's distributions and every reported figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere in the checkout
    sys.path.insert(0, str(ROOT))

from core.matching.criteria import SCALE, Criterion  # noqa: E402
from core.matching.features import Person, encode  # noqa: E402
from core.matching.problem import Mode, Options, Problem, Solution  # noqa: E402

DENSE_LIMIT = (5_000, 1_500)  # the dense check's largest size (mentees, mentors)
CRITERIA_PLUGINS = (
    "match_availability",
    "match_capacity",
    "match_conflict",
    "match_gender",
    "match_language",
    "match_location",
    "match_occupation",
    "match_seniority",
)

# -- the synthetic cohort ----------------------------------------------------------------

# ~40 occupations (ISCO-08 codes as core.reference.occupations accepts them: minor
# groups of the professionals, sub-major groups otherwise) with a mentee weight and
# a factor for mentors. Skewed like the programmes' intake: engineering, IT, health
# and business dominate; mentors follow the same fields but are more often managers.
OCCUPATIONS: tuple[tuple[str, float, float], ...] = (
    ("251", 10.0, 1.2),  # software and applications developers and analysts
    ("252", 4.0, 1.0),  # database and network professionals
    ("214", 9.0, 1.0),  # engineering (excluding electrotechnology)
    ("215", 6.0, 1.0),  # electrotechnology engineers
    ("216", 4.0, 0.8),  # architects, planners, surveyors, designers
    ("211", 2.0, 0.7),  # physical and earth sciences
    ("213", 2.0, 0.6),  # life sciences
    ("221", 6.0, 0.7),  # medical doctors
    ("222", 5.0, 0.5),  # nursing and midwifery
    ("224", 1.0, 0.5),  # paramedical practitioners
    ("225", 0.5, 0.5),  # veterinarians
    ("226", 3.0, 0.6),  # other health professionals
    ("231", 1.5, 1.0),  # university teachers
    ("232", 1.0, 0.8),  # vocational teachers
    ("233", 2.5, 0.7),  # secondary teachers
    ("234", 2.0, 0.6),  # primary and early childhood teachers
    ("235", 1.5, 0.6),  # other teaching professionals
    ("241", 6.0, 1.3),  # finance
    ("242", 5.0, 1.3),  # administration
    ("243", 4.0, 1.2),  # sales, marketing and public relations
    ("261", 2.0, 1.1),  # legal
    ("262", 0.7, 0.8),  # librarians, archivists, curators
    ("263", 2.0, 0.9),  # social and religious professionals
    ("264", 1.5, 0.8),  # authors, journalists, linguists
    ("265", 1.0, 0.6),  # creative and performing artists
    ("31", 3.0, 0.6),  # science and engineering associate professionals
    ("32", 2.0, 0.4),  # health associate professionals
    ("33", 3.0, 0.8),  # business and administration associate professionals
    ("34", 1.0, 0.5),  # legal, social, cultural associate professionals
    ("35", 1.5, 0.6),  # ICT technicians
    ("11", 0.5, 3.0),  # chief executives, senior officials
    ("12", 1.5, 3.5),  # administrative and commercial managers
    ("13", 1.0, 3.5),  # production and specialised services managers
    ("41", 2.0, 0.4),  # general and keyboard clerks
    ("42", 1.0, 0.3),  # customer services clerks
    ("51", 1.0, 0.3),  # personal services workers
    ("52", 1.5, 0.3),  # sales workers
    ("71", 1.0, 0.4),  # building trades
    ("72", 1.5, 0.5),  # metal and machinery trades
    ("74", 1.5, 0.5),  # electrical and electronics trades
)

# Munich's 25 city districts: approximate centres and residents (thousands), with how
# much more (or less) often mentees and mentors live there than residents do.
DISTRICTS: tuple[tuple[str, float, float, float, float, float], ...] = (
    ("Altstadt-Lehel", 48.1374, 11.5800, 21, 0.5, 2.0),
    ("Ludwigsvorstadt-Isarvorstadt", 48.1310, 11.5600, 52, 1.3, 1.4),
    ("Maxvorstadt", 48.1500, 11.5700, 52, 0.9, 1.6),
    ("Schwabing-West", 48.1650, 11.5700, 68, 0.7, 1.6),
    ("Au-Haidhausen", 48.1280, 11.5950, 62, 0.8, 1.5),
    ("Sendling", 48.1180, 11.5430, 41, 1.1, 1.0),
    ("Sendling-Westpark", 48.1180, 11.5200, 60, 1.2, 0.9),
    ("Schwanthalerhöhe", 48.1350, 11.5370, 30, 1.6, 0.9),
    ("Neuhausen-Nymphenburg", 48.1550, 11.5300, 100, 0.7, 1.4),
    ("Moosach", 48.1800, 11.5100, 55, 1.5, 0.7),
    ("Milbertshofen-Am Hart", 48.1900, 11.5700, 78, 1.9, 0.6),
    ("Schwabing-Freimann", 48.1800, 11.6000, 82, 1.1, 1.1),
    ("Bogenhausen", 48.1550, 11.6250, 90, 0.8, 1.4),
    ("Berg am Laim", 48.1250, 11.6350, 46, 1.3, 0.8),
    ("Trudering-Riem", 48.1200, 11.6700, 80, 0.9, 1.0),
    ("Ramersdorf-Perlach", 48.0950, 11.6250, 118, 1.6, 0.7),
    ("Obergiesing-Fasangarten", 48.1050, 11.5900, 54, 1.3, 0.8),
    ("Untergiesing-Harlaching", 48.0950, 11.5700, 52, 0.8, 1.1),
    ("Thalkirchen-Obersendling-Forstenried-Fürstenried-Solln", 48.0800, 11.5200, 98, 0.8, 1.2),
    ("Hadern", 48.1150, 11.4800, 51, 1.0, 0.9),
    ("Pasing-Obermenzing", 48.1500, 11.4600, 79, 0.8, 1.2),
    ("Aubing-Lochhausen-Langwied", 48.1600, 11.4200, 50, 1.1, 0.8),
    ("Allach-Untermenzing", 48.1950, 11.4700, 34, 0.9, 0.9),
    ("Feldmoching-Hasenbergl", 48.2150, 11.5400, 62, 1.8, 0.5),
    ("Laim", 48.1350, 11.5050, 57, 1.0, 1.0),
)

LEVELS = ("A1", "A2", "B1", "B2", "C1", "C2")
# Mentees: a first language (C2), German A2-C1, often English, sometimes a third.
MENTEE_FIRST = {
    "ar": 20, "uk": 18, "tr": 12, "fa": 10, "ru": 10, "es": 6,
    "fr": 5, "ro": 5, "en": 4, "pl": 4, "it": 3, "de": 0.5,
}  # fmt: skip
MENTEE_GERMAN = {"A2": 0.15, "B1": 0.35, "B2": 0.35, "C1": 0.15}
# Mentors: German (mostly C2), English mostly, and some of the mentees' languages.
MENTOR_OTHER = {
    "fr": 0.12, "es": 0.08, "tr": 0.04, "ru": 0.04, "it": 0.04, "ar": 0.02,
    "pl": 0.02, "ro": 0.015, "uk": 0.015, "fa": 0.01,
}  # fmt: skip
SLOTS = ("weekday_daytime", "weekday_evening", "weekend_daytime", "weekend_evening")
MENTEE_SLOTS = (0.6, 0.7, 0.45, 0.25)  # popularity of each slot
MENTOR_SLOTS = (0.2, 0.8, 0.45, 0.25)  # mentors work in the day
SLOT_COUNT = (0.3, 0.35, 0.25, 0.1)  # 1, 2, 3 or 4 slots
CAPACITY = (0.45, 0.30, 0.13, 0.07, 0.05)  # 1-5 places per mentor


def _pick(rng: np.random.Generator, weights: dict[str, float] | tuple, size: int) -> np.ndarray:
    """``size`` indices drawn with the given (unnormalised) weights."""
    w = np.array(list(weights.values()) if isinstance(weights, dict) else weights, dtype=float)
    return rng.choice(len(w), size=size, p=w / w.sum())


def _slots(rng: np.random.Generator, size: int, popularity: tuple) -> list[tuple[str, ...]]:
    counts = _pick(rng, SLOT_COUNT, size) + 1
    # Gumbel top-k: the ``count`` largest of log(weight) + Gumbel noise are a weighted
    # draw without replacement.
    noise = np.log(np.array(popularity))[None, :] + rng.gumbel(size=(size, len(SLOTS)))
    order = np.argsort(-noise, axis=1)
    return [tuple(SLOTS[s] for s in sorted(order[r, : counts[r]])) for r in range(size)]


def _places(rng: np.random.Generator, which: np.ndarray, jitter: float) -> list[Any]:
    lat = np.array([d[1] for d in DISTRICTS])[which] + rng.normal(0, 0.010, len(which))
    lon = np.array([d[2] for d in DISTRICTS])[which] + rng.normal(0, 0.015, len(which))
    unknown = rng.random(len(which)) < jitter  # no address given: district only
    return [None if u else (float(a), float(b)) for u, a, b in zip(unknown, lat, lon, strict=True)]


def cohort(n: int, m: int, seed: int) -> tuple[list[Person], list[Person]]:
    """``n`` mentees and ``m`` mentors drawn from the distributions above."""
    rng = np.random.default_rng([seed, n, m])
    codes = [o[0] for o in OCCUPATIONS]
    employers = max(20, m // 6)
    # Zipf-like: a few large employers have many mentors (and conflicts of interest).
    employer_weight = 1.0 / np.arange(1, employers + 1) ** 1.1
    residents = np.array([d[3] for d in DISTRICTS])
    languages = list(MENTEE_FIRST)

    occupation = _pick(rng, tuple(o[1] for o in OCCUPATIONS), n)
    district = _pick(rng, tuple(residents * [d[4] for d in DISTRICTS]), n)
    no_district = rng.random(n) < 0.05
    location = _places(rng, district, 0.15)
    slots = _slots(rng, n, MENTEE_SLOTS)
    first = _pick(rng, MENTEE_FIRST, n)
    german = _pick(rng, MENTEE_GERMAN, n)
    english = rng.random(n) < 0.55
    english_level = _pick(rng, (0.3, 0.45, 0.25), n) + 2  # B1, B2, C1
    third = rng.random(n) < 0.12
    third_language = _pick(rng, MENTEE_FIRST, n)
    gender = _pick(rng, (0.47, 0.51, 0.02), n)
    same = rng.random(n) < np.array([0.25, 0.03, 0.10])[gender]
    employed = rng.random(n) < 0.12
    employer = _pick(rng, tuple(employer_weight), n)
    years = np.clip(rng.gamma(2.5, 3.0, n), 0, 35).round(1)
    genders = ("female", "male", "non-binary")

    mentees = []
    for i in range(n):
        spoken = {languages[first[i]]: "C2"}
        spoken["de"] = max(spoken.get("de", "A1"), list(MENTEE_GERMAN)[german[i]])
        if english[i]:
            spoken.setdefault("en", LEVELS[english_level[i]])
        if third[i]:
            spoken.setdefault(languages[third_language[i]], LEVELS[english_level[i] - 1])
        mentees.append(
            Person(
                id=f"e{i:06d}",
                occupation=codes[occupation[i]],
                languages=spoken,
                district="" if no_district[i] else DISTRICTS[district[i]][0],
                location=None if no_district[i] else location[i],
                availability=slots[i],
                gender=genders[gender[i]],
                same_gender=bool(same[i]),
                employer=f"Employer {employer[i]:04d}" if employed[i] else "",
                person=f"mentee-{i}@example.org",
                years=float(years[i]),
            )
        )

    occupation = _pick(rng, tuple(o[1] * o[2] for o in OCCUPATIONS), m)
    district = _pick(rng, tuple(residents * [d[5] for d in DISTRICTS]), m)
    location = _places(rng, district, 0.10)
    slots = _slots(rng, m, MENTOR_SLOTS)
    german_c1 = rng.random(m) < 0.03
    english = rng.random(m) < 0.8
    english_level = _pick(rng, (0.10, 0.40, 0.40, 0.10), m) + 2  # B1 … C2
    others = {code: rng.random(m) < p for code, p in MENTOR_OTHER.items()}
    other_level = _pick(rng, (0.2, 0.3, 0.3, 0.2), m) + 2
    gender = _pick(rng, (0.38, 0.61, 0.01), m)
    has_employer = rng.random(m) < 0.88
    employer = _pick(rng, tuple(employer_weight), m)
    years = np.clip(3 + rng.gamma(3.0, 5.0, m), 3, 45).round(1)
    capacity = _pick(rng, CAPACITY, m) + 1

    mentors = []
    for j in range(m):
        spoken = {"de": "C1" if german_c1[j] else "C2"}
        if english[j]:
            spoken["en"] = LEVELS[english_level[j]]
        for code, speaks in others.items():
            if speaks[j]:
                spoken[code] = LEVELS[other_level[j]]
        mentors.append(
            Person(
                id=f"r{j:06d}",
                occupation=codes[occupation[j]],
                languages=spoken,
                district=DISTRICTS[district[j]][0],
                location=location[j],
                availability=slots[j],
                gender=genders[gender[j]],
                employer=f"Employer {employer[j]:04d}" if has_employer[j] else "",
                person=f"mentor-{j}@example.org",
                years=float(years[j]),
                capacity=int(capacity[j]),
            )
        )
    return mentees, mentors


# -- criteria through the plugin host ------------------------------------------------------


def builtin_criteria() -> tuple[Criterion, ...]:
    """The eight built-in criteria plugins, default settings, as a tenant would get them."""
    from core.matching.tenant_criteria import criteria_for
    from core.pluginhost.manager import PluginHost
    from core.tenancy.models import TenantStatus
    from core.tenancy.snapshot import TenantSnapshot

    host = PluginHost.load()
    missing = sorted(set(CRITERIA_PLUGINS) - set(host.infos))
    if missing:
        raise SystemExit(
            f"criteria plugins not installed: {', '.join(missing)} "
            "(pip install -e . registers their entry points)"
        )
    settings = {pid: host.info(pid).validate_settings({}) for pid in CRITERIA_PLUGINS}
    tenant = TenantSnapshot(
        id=uuid.UUID(int=0),
        slug="bench",
        name="Benchmark",
        status=TenantStatus.ACTIVE,
        default_locale="de",
        locales=("de", "en"),
        theme="default",
        revision=1,
        plugin_settings=MappingProxyType(settings),
    )
    return criteria_for(host, tenant)


def problem_for(n: int, m: int, seed: int) -> Problem:
    mentees, mentors = cohort(n, m, seed)
    mentee_side, mentor_side, vocabulary = encode(mentees, mentors)
    return Problem(mentee_side, mentor_side, vocabulary, builtin_criteria())


# -- one size, in its own process ----------------------------------------------------------


def _peak_mb() -> float:
    """Largest resident set of this process so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_size(n: int, m: int, seed: int, mode: Mode, maximise_matched: bool) -> dict[str, Any]:
    from core.matching.solver import solve

    started = time.perf_counter()
    problem = problem_for(n, m, seed)
    generated = time.perf_counter()
    base_mb = _peak_mb()
    options = Options(mode=mode, seed=seed, maximise_matched=maximise_matched)
    solution: Solution = solve(problem, options)
    wall = time.perf_counter() - generated
    capacity = problem.mentors["capacity"]
    return {
        "size": f"{n}x{m}",
        "mode": str(mode),
        "maximise_matched": maximise_matched,
        "seed": seed,
        "criteria": [c.id for c in problem.criteria],
        "generate_seconds": round(generated - started, 3),
        "score_seconds": round(solution.score_seconds, 3),
        "solve_seconds": round(solution.solve_seconds, 3),
        "wall_seconds": round(wall, 3),
        "base_mb": base_mb,
        "peak_mb": _peak_mb(),
        "total_score": solution.total_score,
        "mean_score": round(solution.total_score / SCALE / max(solution.matched, 1), 4),
        "matched": solution.matched,
        "places": int(capacity.sum()),
        "unmatched_reasons": _reasons(solution),
        "blocking_pairs": solution.blocking_pairs,
        "proof": solution.proof,
    }


def _reasons(solution: Solution) -> dict[str, int]:
    counts: dict[str, int] = {}
    for unmatched in solution.unmatched_mentees:
        counts[str(unmatched.reason)] = counts.get(str(unmatched.reason), 0) + 1
    return dict(sorted(counts.items()))


def run_dense(n: int, m: int, seed: int, maximise_matched: bool) -> dict[str, Any]:
    from core.matching import dense

    problem = problem_for(n, m, seed)
    started = time.perf_counter()
    reference = dense.solve_dense(problem, maximise_matched=maximise_matched)
    return {
        "dense_total": reference.total,
        "dense_matched": reference.matched,
        "dense_seconds": round(time.perf_counter() - started, 3),
        "dense_peak_mb": _peak_mb(),
    }


# -- driver --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    mentees: int
    mentors: int

    @classmethod
    def parse(cls, text: str) -> Size:
        try:
            n, m = (int(x) for x in text.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(f"size {text!r} is not MENTEESxMENTORS") from None
        if n < 1 or m < 1:
            raise argparse.ArgumentTypeError(f"size {text!r} must be at least 1x1")
        return cls(n, m)

    @property
    def dense_fits(self) -> bool:
        return self.mentees <= DENSE_LIMIT[0] and self.mentors <= DENSE_LIMIT[1]

    def __str__(self) -> str:
        return f"{self.mentees}x{self.mentors}"


def _child(args: list[str]) -> dict[str, Any]:
    """Run this script with ``args`` in a fresh interpreter; its last line is JSON."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"benchmark child {' '.join(args)} failed ({done.returncode})")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(size: Size, args: argparse.Namespace) -> dict[str, Any]:
    common = ["--seed", str(args.seed)] + (["--maximise-matched"] if args.maximise_matched else [])
    result = _child(["--child", str(size), "--mode", args.mode, *common])
    if size.dense_fits and not args.no_dense and args.mode == Mode.OPTIMAL:
        result.update(_child(["--dense-child", str(size), *common]))
        result["optimal_equal"] = result["dense_total"] == result["total_score"]
    return result


TABLE = (
    ("size", "size", "{}"),
    ("score s", "score_seconds", "{:.3f}"),
    ("solve s", "solve_seconds", "{:.3f}"),
    ("wall s", "wall_seconds", "{:.3f}"),
    ("peak MB", "peak_mb", "{:.0f}"),
    ("base MB", "base_mb", "{:.0f}"),
    ("matched", "matched", "{}"),
    ("total", "total_score", "{}"),
    ("dense total", "dense_total", "{}"),
    ("dense s", "dense_seconds", "{:.2f}"),
    ("equal", "optimal_equal", "{}"),
)


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [[title for title, _key, _fmt in TABLE]]
    for r in results:
        rows.append([fmt.format(r[key]) if key in r else "-" for _title, key, fmt in TABLE])
    widths = [max(len(row[c]) for row in rows) for c in range(len(TABLE))]
    for row in rows:
        print("  ".join(cell.rjust(w) for cell, w in zip(row, widths, strict=True)))
    print()
    for r in results:
        proof = ", ".join(f"{k}={v}" for k, v in r["proof"].items())
        print(
            f"{r['size']} ({r['mode']}): places {r['places']}, unmatched {r['unmatched_reasons']}"
        )
        print(f"    proof: {proof}")
    print("\npeak MB: max resident set (ru_maxrss) of a fresh process that generated, scored")
    print("and solved the size; base MB: the same just before scoring (interpreter, imports,")
    print("the generated people). Other work on the machine makes the seconds indicative.")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000x300,10000x3000", help="e.g. 1000x300,10000x3000")
    parser.add_argument("--json", action="store_true", help="one JSON object per line and size")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense SciPy check")
    parser.add_argument("--mode", choices=[str(m) for m in Mode], default=str(Mode.OPTIMAL))
    parser.add_argument("--maximise-matched", action="store_true")
    parser.add_argument("--child", type=Size.parse, help=argparse.SUPPRESS)
    parser.add_argument("--dense-child", type=Size.parse, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        size = args.child
        print(json.dumps(run_size(size.mentees, size.mentors, args.seed, Mode(args.mode),
                                  args.maximise_matched)))  # fmt: skip
        return 0
    if args.dense_child:
        size = args.dense_child
        print(json.dumps(run_dense(size.mentees, size.mentors, args.seed, args.maximise_matched)))
        return 0

    try:
        sizes = [Size.parse(s.strip()) for s in args.sizes.split(",") if s.strip()]
    except argparse.ArgumentTypeError as error:
        parser.error(str(error))
    results = []
    for size in sizes:
        result = measure(size, args)
        results.append(result)
        if args.json:
            print(json.dumps(result), flush=True)
    if not args.json:
        print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
