"""The invented people, companies and places of the demo tenants.

Everything here is made up: names drawn from the communities the programmes serve and
from the host cities, districts of the real cities, and company names that belong to no
real firm. Recognition authorities are described, not named after real offices. The
programmes follow /shared/DOMAIN.md: München 4 months, Augsburg 6 months (opened by a
kick-off), Toronto 24 hours over 4 months.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Occupation:
    code: str  # ISCO-08 (core.reference.occupations)
    field_de: str
    field_en: str
    authority_de: str
    authority_en: str
    position_de: str
    position_en: str


OCCUPATIONS: dict[str, Occupation] = {
    o.code: o
    for o in (
        Occupation(
            "214",
            "Bauingenieurwesen",
            "Civil engineering",
            "Ingenieurkammer (Anerkennungsstelle)",
            "Provincial engineering regulator",
            "Projektleitung Tragwerksplanung",
            "Project engineer, structures",
        ),
        Occupation(
            "222",
            "Gesundheits- und Krankenpflege",
            "Nursing",
            "Landesamt für Pflege (Anerkennung)",
            "Provincial nursing regulator",
            "Stationsleitung",
            "Charge nurse",
        ),
        Occupation(
            "221",
            "Humanmedizin",
            "Medicine",
            "Approbationsbehörde der Regierung",
            "Provincial college of physicians",
            "Oberärztin / Oberarzt",
            "Attending physician",
        ),
        Occupation(
            "251",
            "Softwareentwicklung",
            "Software development",
            "",
            "",
            "Teamleitung Softwareentwicklung",
            "Engineering manager",
        ),
        Occupation(
            "241",
            "Rechnungswesen und Controlling",
            "Accounting",
            "Kammer für Steuerberufe",
            "Provincial accounting body",
            "Leitung Finanzbuchhaltung",
            "Senior accountant",
        ),
        Occupation(
            "233",
            "Lehramt (Mathematik, Physik)",
            "Teaching (mathematics, physics)",
            "Kultusministerium (Lehramtsanerkennung)",
            "Provincial college of teachers",
            "Studienrätin / Studienrat",
            "Secondary school teacher",
        ),
        Occupation(
            "215",
            "Elektrotechnik",
            "Electrical engineering",
            "Ingenieurkammer (Anerkennungsstelle)",
            "Provincial engineering regulator",
            "Gruppenleitung Elektrokonstruktion",
            "Lead electrical engineer",
        ),
        Occupation(
            "74",
            "Industrieelektrik",
            "Industrial electrics",
            "Kammer für Auslandsqualifikationen (IHK)",
            "Provincial trades college",
            "Meister Instandhaltung",
            "Maintenance supervisor",
        ),
    )
}


@dataclass(frozen=True)
class Community:
    """Where people come from: the country of their qualification, a language, names."""

    country: str  # ISO 3166 alpha-2
    language: str  # ISO 639
    first_names: tuple[str, ...]
    surnames: tuple[str, ...]


COMMUNITIES: dict[str, Community] = {
    "ukrainian": Community(
        "UA", "uk",
        ("Olena", "Iryna", "Kateryna", "Oleksandr", "Andrii", "Tetiana", "Mykola", "Halyna"),
        ("Kovalenko", "Shevchenko", "Melnyk", "Bondarenko", "Tkachenko", "Hrytsenko"),
    ),
    "syrian": Community(
        "SY", "ar",
        ("Yusuf", "Rania", "Omar", "Lina", "Samir", "Nour", "Hassan", "Amal"),
        ("Al-Khatib", "Haddad", "Darwish", "Nasser", "Jaber", "Mansour", "Saleh"),
    ),
    "turkish": Community(
        "TR", "tr",
        ("Mehmet", "Ayşe", "Emre", "Elif", "Sevda", "Murat", "Zeynep"),
        ("Yılmaz", "Demir", "Kaya", "Şahin", "Aydın", "Çelik"),  # noqa: RUF001
    ),
    "afghan": Community(
        "AF", "fa",
        ("Farid", "Zahra", "Mariam", "Ahmad", "Shirin", "Nasir"),
        ("Ahmadi", "Hosseini", "Sultani", "Rahimi", "Karimi", "Noori"),
    ),
    "romanian": Community(
        "RO", "ro",
        ("Andreea", "Bogdan", "Ioana", "Mihai", "Elena", "Cristian"),
        ("Popescu", "Ionescu", "Dumitru", "Stan", "Marin", "Georgescu"),
    ),
    "indian": Community(
        "IN", "ta",
        ("Priya", "Arjun", "Anjali", "Rahul", "Sunita", "Karthik", "Deepa"),
        ("Raman", "Nair", "Sharma", "Iyer", "Reddy", "Mehta", "Krishnan"),
    ),
    "nigerian": Community(
        "NG", "yo",
        ("Chinedu", "Ngozi", "Oluwaseun", "Adaeze", "Emeka", "Funmilayo"),
        ("Okafor", "Eze", "Adeyemi", "Okonkwo", "Balogun", "Nwosu"),
    ),
    "colombian": Community(
        "CO", "es",
        ("Carlos", "Valentina", "Luis", "Sofía", "Andrés", "Camila"),
        ("Mendoza", "Ríos", "Herrera", "Castillo", "Gómez", "Vargas"),
    ),
    "iranian": Community(
        "IR", "fa",
        ("Reza", "Hamid", "Leila", "Parisa", "Babak", "Nasrin"),
        ("Karimi", "Rezaei", "Moradi", "Tehrani", "Jafari", "Ebrahimi"),
    ),
    "vietnamese": Community(
        "VN", "vi",
        ("Thi Lan", "Minh", "Hoang", "Thu Trang", "Duc Anh"),
        ("Nguyen", "Tran", "Le", "Pham", "Vu"),
    ),
    "eritrean": Community(
        "ER", "ti",
        ("Senait", "Aster", "Yonas", "Helen", "Dawit"),
        ("Tesfaye", "Gebremedhin", "Haile", "Berhane", "Kidane"),
    ),
    "polish": Community(
        "PL", "pl",
        ("Tomasz", "Dariusz", "Agnieszka", "Katarzyna", "Paweł"),
        ("Kowalski", "Nowak", "Wiśniewska", "Zielińska", "Lewandowski"),
    ),
    "chinese": Community(
        "CN", "zh",
        ("Wei", "Li Na", "Mei Ling", "Jun", "Xiaoming", "Yan"),
        ("Zhang", "Chen", "Wang", "Liu", "Wong", "Huang"),
    ),
    "filipino": Community(
        "PH", "tl",
        ("Maria", "José", "Angelica", "Mark Anthony", "Rowena", "Jerome"),
        ("Santos", "Dela Cruz", "Reyes", "Bautista", "Villanueva", "Garcia"),
    ),
    "pakistani": Community(
        "PK", "ur",
        ("Fatima", "Tariq", "Imran", "Ayesha", "Bilal", "Sana"),
        ("Siddiqui", "Mahmood", "Chaudhry", "Qureshi", "Malik", "Aziz"),
    ),
    "egyptian": Community(
        "EG", "ar",
        ("Yasmin", "Ali", "Huda", "Karim", "Mona", "Tamer"),
        ("Khalil", "Hassan", "Mostafa", "Fahmy", "Sayed", "Ibrahim"),
    ),
    "kenyan": Community(
        "KE", "sw",
        ("Grace", "Joseph", "Wanjiru", "Brian", "Achieng"),
        ("Mwangi", "Otieno", "Kamau", "Njoroge", "Wambui"),
    ),
    "brazilian": Community(
        "BR", "pt",
        ("Beatriz", "Rafael", "Juliana", "Thiago", "Camila"),
        ("Almeida", "Ferreira", "Souza", "Oliveira", "Costa"),
    ),
}  # fmt: skip


@dataclass(frozen=True)
class City:
    slug: str
    locale: str  # the language most people here use with the programme
    other_locale: str
    programme: dict[str, object]
    communities: tuple[str, ...]
    host_first_names: tuple[str, ...]
    host_surnames: tuple[str, ...]
    districts: tuple[str, ...]
    employers: tuple[str, ...]
    german: bool  # whether the programme's people give a German level
    # The demo members of tenants/<slug>.toml, as the loader links them.
    demo_mentee: str
    demo_mentee_occupation: str
    demo_mentee_community: str
    demo_mentor: str
    demo_mentor_occupation: str


CITIES: dict[str, City] = {
    "muenchen": City(
        slug="muenchen",
        locale="de",
        other_locale="en",
        programme={
            "slug": "mentoring-partnerschaft",
            "name": "Mentoring-Partnerschaft München",
            "description": (
                "Vier Monate im Tandem: Zugewanderte Fachkräfte treffen erfahrene "
                "Berufstätige aus ihrem Fach. Zum Abschluss gibt es eine Urkunde bei der "
                "Veranstaltung im Rathaus."
            ),
            "duration_weeks": "17",
            "expected_hours": "16",
            "cadence": "fortnightly",
            "self_matching": False,
            "published": True,
            "min_german_level": "B1",
            "requires_recognition_procedure": False,
        },
        communities=(
            "ukrainian",
            "syrian",
            "turkish",
            "afghan",
            "romanian",
            "indian",
            "nigerian",
            "colombian",
            "iranian",
            "vietnamese",
            "eritrean",
            "polish",
        ),
        host_first_names=(
            "Stefanie",
            "Florian",
            "Katharina",
            "Andreas",
            "Julia",
            "Michael",
            "Anna",
            "Sebastian",
            "Claudia",
            "Markus",
            "Veronika",
            "Lukas",
            "Barbara",
            "Maximilian",
        ),
        host_surnames=(
            "Bauer",
            "Huber",
            "Maier",
            "Hofmann",
            "Schneider",
            "Gruber",
            "Lehner",
            "Fischer",
            "Brandl",
            "Obermeier",
            "Steininger",
            "Hartl",
            "Moser",
            "Aigner",
        ),
        districts=(
            "Schwabing",
            "Sendling",
            "Pasing",
            "Neuhausen",
            "Giesing",
            "Haidhausen",
            "Moosach",
            "Milbertshofen",
            "Bogenhausen",
            "Laim",
            "Neuperlach",
            "Hasenbergl",
        ),
        employers=(
            "Isarbrücke Ingenieure GmbH",
            "Klinikum Alpenblick",
            "Nordlicht Software GmbH",
            "Theresien Steuerberatung",
            "Lindwurm Pflegedienste",
            "Auenhof-Gymnasium",
            "Praxisgemeinschaft Schwabinger Tor",
            "Würmtal Elektrotechnik AG",
        ),
        german=True,
        demo_mentee="Olena Kovalenko",
        demo_mentee_occupation="214",
        demo_mentee_community="ukrainian",
        demo_mentor="Thomas Wagner",
        demo_mentor_occupation="214",
    ),
    "augsburg": City(
        slug="augsburg",
        locale="de",
        other_locale="en",
        programme={
            "slug": "mentoring",
            "name": "Mentoring für zugewanderte Fachkräfte",
            "description": (
                "Sechs Monate im Tandem mit einer Mentorin oder einem Mentor aus dem "
                "eigenen Berufsfeld. Zum Auftakt erklärt die Koordination bei der "
                "Kick-off-Veranstaltung, warum jedes Tandem zusammenpasst. Wer "
                "aufgenommen ist, kann sich auch selbst eine Mentorin oder einen Mentor "
                "aus den passenden Vorschlägen wünschen."
            ),
            "duration_weeks": "26",
            "expected_hours": "",
            "cadence": "monthly",
            # One demo programme with self-matching, so that its pages can be tried.
            "self_matching": True,
            "published": True,
            "min_german_level": "",
            "requires_recognition_procedure": False,
        },
        communities=(
            "colombian",
            "syrian",
            "turkish",
            "afghan",
            "romanian",
            "nigerian",
            "polish",
            "ukrainian",
            "iranian",
            "eritrean",
            "pakistani",
            "brazilian",
            "egyptian",
        ),
        host_first_names=(
            "Matthias",
            "Martina",
            "Johannes",
            "Birgit",
            "Christian",
            "Eva",
            "Georg",
            "Petra",
            "Sandra",
            "Tobias",
            "Monika",
            "Stefan",
            "Sabine",
            "Wolfgang",
        ),
        host_surnames=(
            "Lechner",
            "Fuchs",
            "Wiedemann",
            "Steiner",
            "Kraus",
            "Ziegler",
            "Hartmann",
            "Lang",
            "Mayr",
            "Rieger",
            "Held",
            "Pfister",
            "Kögel",
            "Schuster",
        ),
        districts=(
            "Lechhausen",
            "Göggingen",
            "Haunstetten",
            "Oberhausen",
            "Pfersee",
            "Kriegshaber",
            "Hochzoll",
            "Innenstadt",
            "Bärenkeller",
            "Firnhaberau",
            "Universitätsviertel",
            "Hochfeld",
        ),
        employers=(
            "Lechwerk Maschinenbau GmbH",
            "Fuggerstadt Kliniken",
            "Perlach IT-Systeme GmbH",
            "Wertach Steuerkanzlei",
            "Riedinger Bau GmbH",
            "Realschule am Roten Tor",
            "Schwaben Antriebstechnik AG",
            "Pflegezentrum Am Kobelweg",
        ),
        german=True,
        demo_mentee="Carlos Mendoza",
        demo_mentee_occupation="74",
        demo_mentee_community="colombian",
        demo_mentor="Markus Weber",
        demo_mentor_occupation="74",
    ),
    "toronto": City(
        slug="toronto",
        locale="en",
        other_locale="en",
        programme={
            "slug": "mentoring-partnership",
            "name": "The Mentoring Partnership",
            "description": (
                "24 hours of mentoring over four months with a professional in your "
                "occupation. A coach at a partner agency proposes the match; your first "
                "meeting sets goals in a signed partnership agreement."
            ),
            "duration_weeks": "17",
            "expected_hours": "24",
            "cadence": "weekly",
            "self_matching": False,
            "published": True,
            "min_german_level": "",
            "requires_recognition_procedure": False,
        },
        communities=(
            "indian",
            "pakistani",
            "chinese",
            "filipino",
            "nigerian",
            "iranian",
            "colombian",
            "egyptian",
            "kenyan",
            "brazilian",
            "ukrainian",
        ),
        host_first_names=(
            "Sarah",
            "Michael",
            "Jessica",
            "Kevin",
            "Emily",
            "Ryan",
            "Laura",
            "Daniel",
            "Amanda",
            "Chris",
            "Nadia",
            "Brian",
            "Olivia",
            "Matthew",
        ),
        host_surnames=(
            "Thompson",
            "O'Brien",
            "Campbell",
            "MacDonald",
            "Tremblay",
            "Patel",
            "Wilson",
            "Roy",
            "Singh",
            "Martin",
            "Haddad",
            "Kowalczyk",
            "Nguyen",
            "Fraser",
        ),
        districts=(
            "Scarborough",
            "North York",
            "Etobicoke",
            "East York",
            "York",
            "Downtown",
            "The Annex",
            "Leslieville",
            "Parkdale",
            "Willowdale",
            "Rexdale",
            "Thorncliffe Park",
        ),
        employers=(
            "Lakeshore Financial Group",
            "Don Valley Engineering Ltd.",
            "Harbourfront Health Network",
            "Queen West Software Inc.",
            "Bayview Accounting LLP",
            "Humber Civil Works",
            "Kensington Learning Centre",
            "Ashbridge Power Systems",
        ),
        german=False,
        demo_mentee="Priya Raman",
        demo_mentee_occupation="241",
        demo_mentee_community="indian",
        demo_mentor="David Chen",
        demo_mentor_occupation="241",
    ),
}

# Mentee occupations, most common first (nursing and medicine are the ones short of
# mentors, as programmes report); mentors lean towards software and engineering.
MENTEE_OCCUPATIONS = ("214", "222", "251", "241", "221", "233", "215", "74", "222", "214")
MENTOR_OCCUPATIONS = ("251", "214", "241", "215", "222", "233", "74", "251", "214", "241")

GOALS = {
    "de": (
        "Ich möchte wieder als {field} arbeiten und verstehen, wie Bewerbungen hier ablaufen.",
        "Kontakte in meiner Branche knüpfen und meine Anerkennung abschließen.",
        "Fachsprache verbessern und ein Praktikum in meinem Beruf finden.",
        "Die Arbeitskultur in deutschen Unternehmen kennenlernen und mich gezielt bewerben.",
    ),
    "en": (
        "Get back into {field} and learn how hiring works here.",
        "Build a professional network and finish my licensing steps.",
        "Practise interviews and understand the workplace culture in my field.",
        "Find a first position in my profession and plan the next steps of accreditation.",
    ),
}
MOTIVATION = {
    "de": (
        "Ich war selbst einmal neu hier und weiß, wie viel ein Kontakt im Fach hilft.",
        "Unser Team braucht Fachkräfte, und ich gebe gern weiter, was ich gelernt habe.",
        "Ich möchte Erfahrungen teilen und selbst Neues über andere Arbeitskulturen lernen.",
    ),
    "en": (
        "I was a newcomer once and know how much one professional contact helps.",
        "Our field needs skilled people, and I enjoy passing on what I have learned.",
        "I want to share my experience and learn about other ways of working.",
    ),
}
TOPICS = {
    "de": (
        "Kennenlernen und Ziele",
        "Lebenslauf überarbeiten",
        "Anerkennungsverfahren: nächste Schritte",
        "Vorstellungsgespräch üben",
        "Besuch im Betrieb",
        "Netzwerkveranstaltung der Kammer",
        "Fachbegriffe und Arbeitskultur",
    ),
    "en": (
        "Getting to know each other and goals",
        "Résumé review",
        "Licensing: next steps",
        "Mock interview",
        "Workplace visit",
        "Industry networking event",
        "Workplace culture and terminology",
    ),
}
AGREED_GOALS = {
    "de": (
        "1. Lebenslauf und Anschreiben an den deutschen Arbeitsmarkt anpassen.\n"
        "2. Das Anerkennungsverfahren bis zum Ende des Tandems einreichen.\n"
        "3. Zwei Kontakte zu Unternehmen der Branche knüpfen.\n"
        "Wir treffen uns alle zwei Wochen, abwechselnd vor Ort und online."
    ),
    "en": (
        "1. Adapt the résumé and cover letter to the local job market.\n"
        "2. Complete the next licensing step before the end of the partnership.\n"
        "3. Meet three people in the industry for informational interviews.\n"
        "We meet every week, alternating in person and online."
    ),
}
DISSOLVE_REASON = {
    "de": (
        "Die Mentee hat eine Stelle in einer anderen Stadt angenommen; beide waren einverstanden."
    ),
    "en": "The mentee moved to another province for a job; both agreed to end the partnership.",
}
DECLINE_REASON = {
    "de": "Die Arbeitszeiten passen leider nicht zusammen.",
    "en": "Our schedules do not fit together, unfortunately.",
}
WITHDRAW_REASON = {
    "de": "Passender Vorschlag gefunden: Mentor aus dem gleichen Fachgebiet.",
    "en": "A closer match in the same occupation became available.",
}
REJECT_REASON = {
    "de": "Für diesen Durchgang fehlt die Arbeitserlaubnis; bitte bewerben Sie sich erneut.",
    "en": "The programme requires access to the labour market; please apply again later.",
}
JOB_TITLES = {
    "de": ("Bauingenieurin", "Pflegefachkraft", "Softwareentwickler", "Buchhalterin"),
    "en": ("Structural designer", "Registered practical nurse", "Developer", "Staff accountant"),
}
