"""What the demo's tenants, agents and technicians write: a few plausible
texts per kind of problem, in the tenant's language."""

# Per triage tree: how often it is reported (relative), where in the home
# (VERA DEFECTLOCATIE codes) and what tenants typically write.
TREE_WEIGHTS = {
    "leak": 24,
    "heating": 18,
    "drain": 13,
    "door_lock": 12,
    "electrics": 9,
    "mould": 9,
    "glass": 5,
    "other": 10,
}

LOCATIONS = {
    "leak": ("BAD", "KEU", "TOI", "WOO", "SLA", "HAL"),
    "heating": ("WOO", "TRI", "ZOL", "BAD", "SLA", "KEU"),
    "drain": ("BAD", "KEU", "TOI", "WRI"),
    "door_lock": ("ENT", "HAL", "BAL", "SLA", "BER"),
    "electrics": ("KEU", "WOO", "HAL", "TRI", "SLA", "BAD"),
    "mould": ("BAD", "SLA", "WOO", "KEU", "ZOL"),
    "glass": ("WOO", "SLA", "KEU", "ENT"),
    "other": ("OVE", "BER", "TUI", "BAL", "GAL", "POR"),
}
DEFAULT_LOCATIONS = ("OVE", "WOO", "KEU")

DESCRIPTIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "leak": {
        "nl": (
            "De kraan in de keuken blijft druppelen, ook als hij helemaal dicht is.",
            "Er lekt water onder de wastafel in de badkamer.",
            "Het toilet blijft doorlopen na het doortrekken.",
            "Er zit een natte plek op het plafond van de woonkamer die groter wordt.",
            "Bij de aansluiting van de wasmachine komt water op de vloer.",
            "Na de regen druppelt het bij het dakraam naar binnen.",
        ),
        "en": (
            "The kitchen tap keeps dripping even when fully closed.",
            "Water is leaking under the bathroom sink.",
            "The toilet keeps running after flushing.",
            "There is a wet patch on the living room ceiling that is getting bigger.",
            "Water comes out at the washing machine connection.",
        ),
    },
    "heating": {
        "nl": (
            "De cv-ketel geeft een storingscode en de verwarming blijft koud.",
            "Er komt geen warm water meer uit de douche.",
            "De radiator in de slaapkamer wordt niet warm.",
            "De druk van de ketel zakt steeds onder de 1 bar.",
            "De ketel maakt een tikkend geluid als de verwarming aanslaat.",
        ),
        "en": (
            "The boiler shows an error code and the heating stays cold.",
            "There is no hot water in the shower any more.",
            "The radiator in the bedroom does not get warm.",
            "The boiler pressure keeps dropping below 1 bar.",
        ),
    },
    "drain": {
        "nl": (
            "Het toilet is verstopt en loopt bijna over.",
            "De douche voert heel langzaam af.",
            "De gootsteen in de keuken is verstopt.",
            "Er komt een rioollucht uit het putje in de badkamer.",
        ),
        "en": (
            "The toilet is blocked and nearly overflowing.",
            "The shower drains very slowly.",
            "The kitchen sink is blocked.",
        ),
    },
    "door_lock": {
        "nl": (
            "De voordeur sluit niet meer goed, het slot valt niet in.",
            "De sleutel is afgebroken in het slot van de voordeur.",
            "De deurklink van de badkamerdeur zit los.",
            "De balkondeur klemt en gaat moeilijk open.",
            "De portiekdeur valt niet meer in het slot.",
        ),
        "en": (
            "The front door does not close properly, the lock does not catch.",
            "The key broke off in the front door lock.",
            "The bathroom door handle is loose.",
            "The balcony door sticks and is hard to open.",
        ),
    },
    "electrics": {
        "nl": (
            "De aardlekschakelaar slaat steeds af.",
            "Een stopcontact in de keuken doet het niet meer.",
            "De lamp in de hal flikkert en gaat dan uit.",
            "Het stopcontact in de woonkamer wordt warm.",
        ),
        "en": (
            "The residual-current device keeps tripping.",
            "A socket in the kitchen has stopped working.",
            "The hall light flickers and then goes out.",
        ),
    },
    "mould": {
        "nl": (
            "Er zitten zwarte plekken op het plafond van de badkamer.",
            "De muur in de slaapkamer voelt vochtig aan en er komt schimmel op.",
            "De kitten rond de douche is zwart uitgeslagen.",
            "Veel condens op de ramen en schimmel in de hoeken.",
        ),
        "en": (
            "There are black spots on the bathroom ceiling.",
            "The bedroom wall feels damp and mould is appearing.",
            "The sealant around the shower has turned black.",
        ),
    },
    "glass": {
        "nl": (
            "Er zit een barst in het raam van de woonkamer.",
            "Het dubbel glas in de slaapkamer is beslagen aan de binnenkant.",
            "Een ruit in de keukendeur is gebroken.",
        ),
        "en": (
            "There is a crack in the living room window.",
            "The double glazing in the bedroom is misted on the inside.",
        ),
    },
    "other": {
        "nl": (
            "De brievenbus van de voordeur klemt.",
            "Het hek van de achtertuin hangt scheef.",
            "De afzuigkap in de keuken werkt niet meer.",
            "De verlichting in de berging doet het niet.",
            "Tegels in de badkamer zitten los.",
        ),
        "en": (
            "The letterbox in the front door sticks.",
            "The back garden gate is hanging crooked.",
            "The kitchen extractor hood has stopped working.",
        ),
    },
}

AGENT_NOTES = (
    "Huurder belt vanaf het werk; liefst 's ochtends langskomen.",
    "Huurder heeft een hond, graag even aanbellen en wachten.",
    "Buren hebben hetzelfde probleem gemeld.",
    "Huurder spreekt weinig Nederlands; dochter vertaalt.",
    "Sleutel ligt bij de buren op nummer hiernaast.",
    "",
    "",
    "",
)

VISIT_NOTES = {
    "fixed": (
        "Opgelost.",
        "Onderdeel vervangen, getest, werkt weer.",
        "Verholpen, huurder uitleg gegeven.",
        "Afgesteld en gecontroleerd.",
    ),
    "not_fixed": (
        "Onderdeel besteld, terugkomen nodig.",
        "Meer tijd nodig, vervolgafspraak maken.",
        "Andere vakman nodig voor het restant.",
    ),
    "not_home": (
        "Niemand thuis, kaartje in de bus gedaan.",
        "Huurder niet aanwezig, telefonisch niet bereikbaar.",
    ),
    "cancelled": (
        "Huurder heeft het zelf opgelost.",
        "Melding vervalt: probleem was al verholpen.",
    ),
}

# Why an appointment is cancelled (the reason the tenant or agent gives).
CANCEL_REASONS = (
    "Toch niet thuis die dag.",
    "Huurder heeft het zelf opgelost.",
    "Probleem is vanzelf verdwenen.",
    "Huurder is ziek.",
)

# Open comments with a survey answer: glad or not, in the tenant's language.
SURVEY_COMMENTS: dict[str, dict[str, tuple[str, ...]]] = {
    "good": {
        "nl": (
            "Snel geholpen, prima monteur.",
            "Netjes gewerkt en alles opgeruimd.",
            "Fijn dat ik zelf een tijd kon kiezen.",
            "Monteur kwam op tijd en legde alles goed uit.",
        ),
        "en": (
            "Quick help, friendly technician.",
            "Tidy work, everything cleaned up.",
            "Nice to pick a time myself.",
            "On time, and explained everything well.",
        ),
    },
    "bad": {
        "nl": (
            "Het duurde veel te lang.",
            "Moest drie keer thuisblijven voor één reparatie.",
            "Monteur was te laat en belde niet.",
            "Het lekt alweer.",
        ),
        "en": (
            "It took far too long.",
            "I had to stay at home three times for one repair.",
            "The technician was late and did not call.",
            "It is leaking again.",
        ),
    },
}

# What an agent writes after calling a tenant back about a low score.
CALLBACK_NOTES = (
    "Huurder gebeld, excuses aangeboden; vervolgafspraak besproken.",
    "Gebeld: huurder was vooral ontevreden over de wachttijd.",
    "Voicemail ingesproken, daarna teruggebeld en uitleg gegeven.",
    "Huurder gebeld; klacht doorgezet naar de teamleider.",
)
