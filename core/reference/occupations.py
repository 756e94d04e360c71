"""Occupations, classified after ISCO-08 (the ILO's International Standard Classification
of Occupations), with titles in English and German.

The codes are ISCO-08's: one digit for the ten *major groups*, two for the 43
*sub-major groups*, three for *minor groups*. Applicants choose a sub-major group, or
for the professions these programmes mostly serve (ISCO major group 2,
"Professionals") the finer minor group: a civil engineer picks 214, a nurse 222.

The English titles follow ISCO-08's group names; the German titles are our own
translations (no official German wording is copied). Only codes listed here are
accepted, and the matching compares them with :func:`related`: two occupations in the
same sub-major group are closely related (a software developer and a database
administrator), two in the same major group loosely (a nurse and an engineer are both
"professionals").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


@dataclass(frozen=True)
class Occupation:
    code: str
    en: str
    de: str

    @property
    def level(self) -> int:
        """1 major group, 2 sub-major group, 3 minor group."""
        return len(self.code)

    @property
    def major(self) -> str:
        return self.code[:1]

    @property
    def sub_major(self) -> str | None:
        return self.code[:2] if len(self.code) >= 2 else None

    def title(self, locale: str) -> str:
        return self.de if locale.split("-")[0].split("_")[0] == "de" else self.en


_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("0", "Armed forces occupations", "Angehörige der Streitkräfte"),
    ("01", "Commissioned armed forces officers", "Offizierinnen und Offiziere"),
    ("02", "Non-commissioned armed forces officers", "Unteroffizierinnen und Unteroffiziere"),
    ("03", "Armed forces occupations, other ranks", "Mannschaftsdienstgrade"),
    ("1", "Managers", "Führungskräfte"),
    (
        "11",
        "Chief executives, senior officials and legislators",
        "Geschäftsführung, höhere Verwaltung und Gesetzgebung",
    ),
    (
        "12",
        "Administrative and commercial managers",
        "Führungskräfte in Verwaltung und kaufmännischen Bereichen",
    ),
    (
        "13",
        "Production and specialised services managers",
        "Führungskräfte in Produktion und spezialisierten Dienstleistungen",
    ),
    (
        "14",
        "Hospitality, retail and other services managers",
        "Führungskräfte in Gastgewerbe, Handel und sonstigen Dienstleistungen",
    ),
    ("2", "Professionals", "Akademische Berufe"),
    (
        "21",
        "Science and engineering professionals",
        "Naturwissenschaften und Ingenieurwesen",
    ),
    ("211", "Physical and earth science professionals", "Physik, Chemie und Geowissenschaften"),
    (
        "212",
        "Mathematicians, actuaries and statisticians",
        "Mathematik, Versicherungsmathematik und Statistik",
    ),
    ("213", "Life science professionals", "Biowissenschaften"),
    (
        "214",
        "Engineering professionals (excluding electrotechnology)",
        "Ingenieurwesen (ohne Elektrotechnik)",
    ),
    ("215", "Electrotechnology engineers", "Elektrotechnik und Elektronik (Ingenieurwesen)"),
    (
        "216",
        "Architects, planners, surveyors and designers",
        "Architektur, Planung, Vermessung und Design",
    ),
    ("22", "Health professionals", "Gesundheitsberufe (akademisch)"),
    ("221", "Medical doctors", "Ärztinnen und Ärzte"),
    ("222", "Nursing and midwifery professionals", "Pflege und Hebammenwesen (akademisch)"),
    (
        "223",
        "Traditional and complementary medicine professionals",
        "Traditionelle und komplementäre Medizin",
    ),
    ("224", "Paramedical practitioners", "Paramedizinische Fachkräfte"),
    ("225", "Veterinarians", "Tierärztinnen und Tierärzte"),
    (
        "226",
        "Other health professionals",
        "Weitere Gesundheitsberufe (z. B. Zahnmedizin, Pharmazie, Therapie)",
    ),
    ("23", "Teaching professionals", "Lehrberufe"),
    ("231", "University and higher education teachers", "Lehre an Hochschulen"),
    ("232", "Vocational education teachers", "Lehre in der beruflichen Bildung"),
    ("233", "Secondary education teachers", "Lehre an weiterführenden Schulen"),
    (
        "234",
        "Primary school and early childhood teachers",
        "Lehre an Grundschulen und frühkindliche Bildung",
    ),
    ("235", "Other teaching professionals", "Weitere Lehr- und Bildungsberufe"),
    (
        "24",
        "Business and administration professionals",
        "Wirtschaft und Verwaltung (akademisch)",
    ),
    ("241", "Finance professionals", "Finanzwesen"),
    ("242", "Administration professionals", "Verwaltung und Organisation"),
    (
        "243",
        "Sales, marketing and public relations professionals",
        "Vertrieb, Marketing und Öffentlichkeitsarbeit",
    ),
    (
        "25",
        "Information and communications technology professionals",
        "Informations- und Kommunikationstechnologie (akademisch)",
    ),
    (
        "251",
        "Software and applications developers and analysts",
        "Software- und Anwendungsentwicklung, Systemanalyse",
    ),
    ("252", "Database and network professionals", "Datenbanken und Netzwerke"),
    (
        "26",
        "Legal, social and cultural professionals",
        "Recht, Soziales und Kultur (akademisch)",
    ),
    ("261", "Legal professionals", "Rechtsberufe"),
    (
        "262",
        "Librarians, archivists and curators",
        "Bibliotheken, Archive und Museen",
    ),
    ("263", "Social and religious professionals", "Soziale und religiöse Berufe"),
    (
        "264",
        "Authors, journalists and linguists",
        "Schreiben, Journalismus, Übersetzen und Dolmetschen",
    ),
    ("265", "Creative and performing artists", "Bildende und darstellende Kunst"),
    (
        "3",
        "Technicians and associate professionals",
        "Technische Berufe und gleichrangige nichttechnische Berufe",
    ),
    (
        "31",
        "Science and engineering associate professionals",
        "Technische Fachkräfte in Naturwissenschaft und Technik",
    ),
    ("32", "Health associate professionals", "Gesundheitsfachberufe"),
    (
        "33",
        "Business and administration associate professionals",
        "Fachkräfte in Wirtschaft und Verwaltung",
    ),
    (
        "34",
        "Legal, social, cultural and related associate professionals",
        "Fachkräfte in Recht, Sozialem und Kultur",
    ),
    (
        "35",
        "Information and communications technicians",
        "Technische Fachkräfte für Informations- und Kommunikationstechnik",
    ),
    ("4", "Clerical support workers", "Bürokräfte und verwandte Berufe"),
    ("41", "General and keyboard clerks", "Allgemeine Büro- und Schreibkräfte"),
    ("42", "Customer services clerks", "Kundenservice und Empfang"),
    (
        "43",
        "Numerical and material recording clerks",
        "Rechnungswesen, Statistik, Lager und Materialwirtschaft",
    ),
    ("44", "Other clerical support workers", "Sonstige Bürokräfte"),
    ("5", "Service and sales workers", "Dienstleistungs- und Verkaufsberufe"),
    ("51", "Personal service workers", "Personenbezogene Dienstleistungen"),
    ("52", "Sales workers", "Verkauf"),
    ("53", "Personal care workers", "Betreuung und Pflegehilfe"),
    ("54", "Protective services workers", "Schutz- und Sicherheitsdienste"),
    (
        "6",
        "Skilled agricultural, forestry and fishery workers",
        "Fachkräfte in Land- und Forstwirtschaft und Fischerei",
    ),
    (
        "61",
        "Market-oriented skilled agricultural workers",
        "Fachkräfte in der marktorientierten Landwirtschaft",
    ),
    (
        "62",
        "Market-oriented skilled forestry, fishery and hunting workers",
        "Fachkräfte in der marktorientierten Forstwirtschaft, Fischerei und Jagd",
    ),
    (
        "63",
        "Subsistence farmers, fishers, hunters and gatherers",
        "Landwirtschaft, Fischerei, Jagd und Sammeln für den Eigenbedarf",
    ),
    ("7", "Craft and related trades workers", "Handwerks- und verwandte Berufe"),
    (
        "71",
        "Building and related trades workers, excluding electricians",
        "Bau und Ausbau (ohne Elektroinstallation)",
    ),
    (
        "72",
        "Metal, machinery and related trades workers",
        "Metallbearbeitung, Maschinenbau und verwandte Berufe",
    ),
    ("73", "Handicraft and printing workers", "Kunsthandwerk und Druck"),
    ("74", "Electrical and electronic trades workers", "Elektro- und Elektronikberufe"),
    (
        "75",
        "Food processing, wood working, garment and other craft and related trades workers",
        "Lebensmittelverarbeitung, Holz, Textil und sonstiges Handwerk",
    ),
    (
        "8",
        "Plant and machine operators, and assemblers",
        "Bedienung von Anlagen und Maschinen, Montage",
    ),
    (
        "81",
        "Stationary plant and machine operators",
        "Bedienung stationärer Anlagen und Maschinen",
    ),
    ("82", "Assemblers", "Montageberufe"),
    (
        "83",
        "Drivers and mobile plant operators",
        "Fahrzeugführung und Bedienung mobiler Anlagen",
    ),
    ("9", "Elementary occupations", "Hilfstätigkeiten"),
    ("91", "Cleaners and helpers", "Reinigung und Hilfskräfte im Haushalt"),
    (
        "92",
        "Agricultural, forestry and fishery labourers",
        "Hilfskräfte in Land- und Forstwirtschaft und Fischerei",
    ),
    (
        "93",
        "Labourers in mining, construction, manufacturing and transport",
        "Hilfskräfte in Bergbau, Bau, Herstellung und Transport",
    ),
    ("94", "Food preparation assistants", "Hilfskräfte in der Küche"),
    (
        "95",
        "Street and related sales and service workers",
        "Straßenverkauf und verwandte Dienstleistungen",
    ),
    (
        "96",
        "Refuse workers and other elementary workers",
        "Abfallentsorgung und sonstige Hilfstätigkeiten",
    ),
)

OCCUPATIONS: dict[str, Occupation] = {code: Occupation(code, en, de) for code, en, de in _GROUPS}
MAJOR_GROUPS: tuple[Occupation, ...] = tuple(o for o in OCCUPATIONS.values() if o.level == 1)
SUB_MAJOR_GROUPS: tuple[Occupation, ...] = tuple(o for o in OCCUPATIONS.values() if o.level == 2)


class UnknownOccupationError(ValueError):
    pass


class Relation(IntEnum):
    """How close two occupations are, for the matching (higher is closer)."""

    UNRELATED = 0
    SAME_MAJOR_GROUP = 1
    SAME_SUB_MAJOR_GROUP = 2
    SAME = 3


def get(code: str) -> Occupation:
    try:
        return OCCUPATIONS[code]
    except KeyError:
        raise UnknownOccupationError(f"{code!r} is not an occupation code here") from None


def is_choosable(code: str) -> bool:
    """Whether an applicant may name ``code`` (a sub-major group or finer, not a major group)."""
    occupation = OCCUPATIONS.get(code)
    return occupation is not None and occupation.level >= 2


def title(code: str, locale: str) -> str:
    """The title in ``locale`` (German for ``de``, English otherwise); the code if unknown."""
    occupation = OCCUPATIONS.get(code)
    return occupation.title(locale) if occupation else code


def same_sub_major_group(code_a: str, code_b: str) -> bool:
    a, b = get(code_a), get(code_b)
    return a.sub_major is not None and a.sub_major == b.sub_major


def same_major_group(code_a: str, code_b: str) -> bool:
    return get(code_a).major == get(code_b).major


def related(code_a: str, code_b: str) -> Relation:
    """How close two occupations are: the same group, the same sub-major or major group."""
    if get(code_a).code == get(code_b).code:
        return Relation.SAME
    if same_sub_major_group(code_a, code_b):
        return Relation.SAME_SUB_MAJOR_GROUP
    if same_major_group(code_a, code_b):
        return Relation.SAME_MAJOR_GROUP
    return Relation.UNRELATED


@dataclass(frozen=True)
class OccupationChoice:
    code: str
    label: str
    depth: int  # 0 for a sub-major group, 1 for a minor group inside it


@dataclass(frozen=True)
class OccupationGroup:
    """A major group with the occupations an applicant can choose inside it."""

    code: str
    label: str
    choices: tuple[OccupationChoice, ...]


def choices(locale: str) -> list[OccupationGroup]:
    """Major groups (for ``<optgroup>``) with their choosable codes, in code order."""
    groups = []
    for major in MAJOR_GROUPS:
        inside = sorted(
            (o for o in OCCUPATIONS.values() if o.level >= 2 and o.major == major.code),
            key=lambda o: o.code,
        )
        groups.append(
            OccupationGroup(
                code=major.code,
                label=f"{major.code} {major.title(locale)}",
                choices=tuple(
                    OccupationChoice(o.code, f"{o.code} {o.title(locale)}", o.level - 2)
                    for o in inside
                ),
            )
        )
    return groups
