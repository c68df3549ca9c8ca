"""The people of the demo organisation: fixed lists the seed draws from.

Names are common in Utrecht today (Dutch, Moroccan-Dutch, Turkish-Dutch,
Surinamese-Dutch), plus English-speaking newcomers; no one is real.
"""

from dataclasses import dataclass

ORGANISATION_NAME = "Woonstichting De Domstad"
ORGANISATION_EMERGENCY_PHONE = "030-799 11 12"
ORGANISATION_SERVICE_PHONE = "030-799 11 00"

IN_HOUSE_FIRM = "Onderhoudsdienst De Domstad"
PLUMBING_FIRM = "Loodgietersbedrijf Van Vliet"
ELECTRICAL_FIRM = "Elektro Utrecht B.V."

DEMO_PASSWORD = "demo"  # noqa: S105 - the demo's published staff password

FIRST_NAMES_NL = (
    "Anna", "Bas", "Carla", "Daan", "Eva", "Femke", "Gerard", "Hanneke", "Ingrid", "Jeroen",
    "Karin", "Lars", "Marieke", "Niels", "Olga", "Paul", "Renée", "Sander", "Tineke", "Ulrike",
    "Vera", "Willem", "Yvonne", "Bram", "Lotte", "Joost", "Sanne", "Koen", "Iris", "Ruud",
    "Anouk", "Thijs", "Esther", "Maarten", "Linda", "Henk", "Gerda", "Wim", "Truus", "Cor",
    "Mohamed", "Fatima", "Youssef", "Khadija", "Said", "Nadia", "Ahmet", "Ayşe", "Mehmet", "Elif",
    "Priscilla", "Romano", "Shanti", "Dewi", "Ricardo", "Naomi", "Emre", "Zeynep", "Bilal", "Samira",
)  # fmt: skip

LAST_NAMES_NL = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Visser", "Smit",
    "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen",
    "Dekker", "Brouwer", "de Wit", "Dijkstra", "de Graaf", "van der Meer", "van der Linden", "Kok",
    "Jacobs", "de Haan", "Vermeulen", "van den Heuvel", "van der Veen", "van den Broek", "de Bruijn",
    "van der Heijden", "Schouten", "van Beek", "Willems", "van Vliet", "Hoekstra", "Maas", "Verhoeven",
    "Koster", "van Dam", "Prins", "Blom", "Huisman", "Kuipers", "Post", "Kramer", "Scholten",
    "van Wijk", "Vink", "de Ruiter", "Groen", "Gerritsen", "van Loon", "Bosman", "Molenaar",
    "El Amrani", "Bouzid", "Benali", "El Idrissi", "Ait Taleb", "Yilmaz", "Kaya", "Öztürk", "Demir",
    "Çelik", "Pinas", "Esajas", "Martina", "Nguyen", "Tahiri", "Haddou",
)  # fmt: skip

FIRST_NAMES_EN = (
    "James", "Emily", "Oliver", "Sophie", "Daniel", "Hannah", "Michael", "Sarah", "Thomas", "Laura",
    "David", "Olivia", "Ryan", "Chloe", "Matthew", "Grace", "Priya", "Arjun", "Wei", "Mei",
)  # fmt: skip

LAST_NAMES_EN = (
    "Smith", "Johnson", "Brown", "Taylor", "Wilson", "Davies", "Evans", "Walker", "Robinson",
    "Patel", "Sharma", "O'Brien", "Murphy", "Kelly", "Chen", "Wang", "Garcia", "Anderson", "Clarke",
)  # fmt: skip


@dataclass(frozen=True)
class StaffMember:
    username: str
    first_name: str
    last_name: str
    role: str
    is_superuser: bool = False


# Office staff; the subcontractors' office users are members of their firm.
STAFF = (
    StaffMember("agent", "Sanne", "de Wit", "agent"),
    StaffMember("planner", "Ruben", "Bakker", "planner"),
    StaffMember("designer", "Lotte", "Vermeulen", "designer"),
    StaffMember("manager", "Anouk", "Hendriks", "manager"),
    StaffMember("admin", "Kees", "Jansen", "admin", is_superuser=True),
    StaffMember("sub-loodgieter", "Marja", "van Vliet", "subcontractor"),
    StaffMember("sub-elektra", "Hans", "Verbeek", "subcontractor"),
)
SUBCONTRACTOR_OFFICE = {"sub-loodgieter": PLUMBING_FIRM, "sub-elektra": ELECTRICAL_FIRM}


@dataclass(frozen=True)
class TechnicianProfile:
    first_name: str
    last_name: str
    firm: str
    specialisms: tuple[str, ...]
    # Weekdays worked (0 = Monday) and hours; most work full weeks.
    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: str = "07:30"
    end: str = "16:00"

    @property
    def username(self) -> str:
        return f"tech-{self.first_name.lower()}"


FULL_WEEK = (0, 1, 2, 3, 4)

# Specialisms are VERA ONDERHOUDSPECIALISME codes. Together they cover every
# specialism the default triage trees can ask for.
TECHNICIANS = (
    TechnicianProfile("Jan", "de Vries", IN_HOUSE_FIRM, ("LOA", "LOO", "ONT")),
    TechnicianProfile("Pieter", "Bakker", IN_HOUSE_FIRM, ("LOA", "TAL", "OVE")),
    TechnicianProfile("Mohamed", "El Idrissi", IN_HOUSE_FIRM, ("CVI", "LOO")),
    TechnicianProfile("Kees", "van Dijk", IN_HOUSE_FIRM, ("CVI", "LOA")),
    TechnicianProfile("Sanne", "Visser", IN_HOUSE_FIRM, ("ELA", "TAL"), weekdays=(0, 1, 2, 3)),
    TechnicianProfile("Dennis", "Mulder", IN_HOUSE_FIRM, ("ELE", "ELA")),
    TechnicianProfile("Ahmet", "Yıldız", IN_HOUSE_FIRM, ("TAL", "TIM", "GLA")),
    TechnicianProfile("Bram", "Smit", IN_HOUSE_FIRM, ("TIM", "TAL", "DAK")),
    TechnicianProfile("Ricardo", "Pinas", IN_HOUSE_FIRM, ("SCH", "STU"), weekdays=(1, 2, 3, 4)),
    TechnicianProfile(
        "Lisa", "de Boer", IN_HOUSE_FIRM, ("SCH", "VOC"), weekdays=(0, 1, 3), start="08:00", end="13:00"
    ),
    TechnicianProfile("Erik", "Jansen", IN_HOUSE_FIRM, ("LOA", "ONT")),
    TechnicianProfile("Youssef", "Amrani", IN_HOUSE_FIRM, ("CVI", "LOO", "LOA")),
    TechnicianProfile("Marco", "Hendriks", IN_HOUSE_FIRM, ("ELE", "ELA", "CVI")),
    TechnicianProfile("Thijs", "van Leeuwen", IN_HOUSE_FIRM, ("TAL", "GLA", "TIM")),
    TechnicianProfile("Wouter", "Dekker", IN_HOUSE_FIRM, ("STU", "VOC", "INS")),
    TechnicianProfile("Joost", "Kramer", IN_HOUSE_FIRM, ("DAK", "TIM"), weekdays=(0, 1, 2, 3)),
    TechnicianProfile("Fatih", "Demir", IN_HOUSE_FIRM, ("LOA", "TAL", "ELA", "OVE")),
    TechnicianProfile("Ruud", "Peters", IN_HOUSE_FIRM, ("INS", "VOC", "SCH")),
    TechnicianProfile("Gerrit", "van Vliet", PLUMBING_FIRM, ("LOO", "LOA", "CVI")),
    TechnicianProfile("Tom", "van Vliet", PLUMBING_FIRM, ("LOO", "ONT")),
    TechnicianProfile("Hakan", "Öztürk", PLUMBING_FIRM, ("ONT", "LOA")),
    TechnicianProfile("Niels", "Bosman", PLUMBING_FIRM, ("CVI", "LOO"), weekdays=(0, 1, 2, 3)),
    TechnicianProfile("Martijn", "Verbeek", ELECTRICAL_FIRM, ("ELE", "ELA")),
    TechnicianProfile("Ilse", "Dijkstra", ELECTRICAL_FIRM, ("ELE",)),
    TechnicianProfile("Samir", "Bouzid", ELECTRICAL_FIRM, ("ELA", "ELE")),
)
