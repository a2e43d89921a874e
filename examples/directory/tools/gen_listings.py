#!/usr/bin/env python3
"""Writes data/listings.csv: the fictional businesses of the directory example.

Deterministic (a fixed seed, no clock, no network, standard library only): running it again
gives the same file byte for byte. From the repository root:

    python3 examples/directory/tools/gen_listings.py            # 2,400 listings
    python3 examples/directory/tools/gen_listings.py --count 5000 --seed 7

Everything is made up. Phone numbers are taken from the ranges reserved for fiction
(North America: 555-0100 to 555-0199; the UK: Ofcom's drama numbers; France: ARCEP's
numbers for audiovisual works), and every website is on example.com.
"""

import argparse
import csv
import os
import random
import re
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, os.pardir, "data", "listings.csv")

COLUMNS = [
    "id", "slug", "name", "category", "city", "address", "phone", "hours",
    "amenities", "rating", "reviews", "website", "founded",
]

# --- Places -------------------------------------------------------------------------------

# city: (country, weight, phone prefix). The prefix is the fixed part of a fictional number.
CITIES = {
    "Portland": ("us", 10, "+1 503 555 01"),
    "Austin": ("us", 10, "+1 512 555 01"),
    "Denver": ("us", 8, "+1 303 555 01"),
    "Madison": ("us", 6, "+1 608 555 01"),
    "Savannah": ("us", 5, "+1 912 555 01"),
    "Asheville": ("us", 5, "+1 828 555 01"),
    "Boise": ("us", 5, "+1 208 555 01"),
    "Halifax": ("ca", 5, "+1 902 555 01"),
    "Victoria": ("ca", 5, "+1 250 555 01"),
    "Leeds": ("uk", 8, "+44 113 496 0"),
    "Bristol": ("uk", 8, "+44 117 496 0"),
    "York": ("uk", 5, "+44 1632 960"),
    "Norwich": ("uk", 5, "+44 1632 960"),
    "Brighton": ("uk", 6, "+44 1632 960"),
    "Lyon": ("fr", 8, "+33 4 65 71"),
    "Nantes": ("fr", 6, "+33 2 61 91"),
    "Bordeaux": ("fr", 6, "+33 5 36 49"),
    "Lille": ("fr", 5, "+33 3 53 01"),
}

STREETS = {
    "us": [
        "Main Street", "Oak Avenue", "Alder Street", "Division Street", "Burnside Street",
        "Congress Avenue", "Lamar Boulevard", "Cedar Street", "Elm Street", "Maple Avenue",
        "Park Avenue", "Washington Street", "Lincoln Avenue", "Mill Road", "River Road",
        "Willow Lane", "Hawthorne Boulevard", "Grant Street", "Franklin Street",
        "Jefferson Avenue", "Pine Street", "Walnut Street", "College Avenue", "Spring Street",
        "Market Street", "Broadway", "Lake Street", "Sunset Drive", "Magnolia Avenue",
        "Chestnut Street",
    ],
    "ca": [
        "Gottingen Street", "Quinpool Road", "Spring Garden Road", "Agricola Street",
        "Fort Street", "Government Street", "Douglas Street", "Cook Street", "Oak Bay Avenue",
        "Fernwood Road", "Main Street", "King Street", "Queen Street", "Victoria Road",
        "Harbour Road", "Pandora Avenue", "Blanshard Street", "Robie Street",
    ],
    "uk": [
        "High Street", "Church Lane", "Station Road", "Mill Lane", "Victoria Road",
        "Park Road", "Kirkgate", "Briggate", "Gloucester Road", "Stokes Croft",
        "North Street", "Queen Street", "King Street", "Market Place", "Castle Street",
        "Bridge Street", "Chapel Road", "London Road", "Elm Grove", "The Lanes",
        "Magdalen Street", "Micklegate", "Gillygate", "St Giles Street", "Cheltenham Road",
        "Headingley Lane", "Sydney Street", "Western Road", "Unthank Road", "Walcot Street",
    ],
    "fr": [
        "rue de la République", "rue Mercière", "rue du Bœuf", "cours Lafayette",
        "rue Paul Bert", "avenue Jean Jaurès", "rue Sainte-Catherine", "cours Victor Hugo",
        "rue Crébillon", "rue de Strasbourg", "quai de la Fosse", "rue Nationale",
        "rue de Béthune", "place du Marché", "rue des Carmes", "rue Gambetta",
        "boulevard de la Liberté", "rue du Palais", "rue Saint-Jean", "rue des Tanneurs",
    ],
}

# --- Names --------------------------------------------------------------------------------

ADJECTIVES = [
    "Blue", "Golden", "Little", "Copper", "Silver", "Green", "Red", "Wild", "Quiet", "Bright",
    "Old", "Northern", "Olive", "Amber", "Hazel", "Crimson", "Honest", "Sunny", "Gentle",
    "Juniper", "Ivory", "Rusty", "Velvet", "Saffron", "Cobalt", "Maple", "Lucky", "Humble",
]
ANIMALS = [
    "Heron", "Fox", "Otter", "Wren", "Badger", "Hare", "Owl", "Sparrow", "Magpie", "Finch",
    "Robin", "Falcon", "Bear", "Stag", "Raven", "Swallow", "Kestrel", "Lark", "Moth", "Pike",
]
NATURE = [
    "Oak", "Birch", "Fern", "Thistle", "Willow", "Clover", "Meadow", "River", "Harbour",
    "Orchard", "Cedar", "Linden", "Moss", "Pine", "Hollow", "Ridge", "Brook", "Aspen",
    "Bramble", "Elder", "Rowan", "Sage", "Tamarind", "Heather",
]
OBJECTS = [
    "Anvil", "Lantern", "Compass", "Kettle", "Thimble", "Ladder", "Bell", "Spoon", "Anchor",
    "Key", "Mill", "Needle", "Quill", "Barrel", "Wheel", "Forge", "Hammer", "Sail", "Jar",
    "Loom",
]
SURNAMES = [
    "Abernathy", "Adeyemi", "Baptiste", "Bellamy", "Brennan", "Carvalho", "Chen", "Dubois",
    "Delacroix", "Eriksen", "Fairweather", "Fontaine", "Garcia", "Greaves", "Hartley",
    "Holloway", "Ibrahim", "Jansen", "Kowalski", "Lefèvre", "Lindqvist", "MacLeod",
    "Marchetti", "Moreau", "Nakamura", "Novak", "Okafor", "O'Brien", "Patel", "Quinn",
    "Rahman", "Rossi", "Sato", "Schneider", "Sullivan", "Takahashi", "Thornton", "Varga",
    "Whitfield", "Yilmaz", "Zhou", "Alvarez", "Bianchi", "Costa", "Dimitriou", "Evans",
]
FIRST_NAMES = [
    "Ada", "Bea", "Clara", "Dev", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonah", "Kofi",
    "Lena", "Mateo", "Nell", "Omar", "Priya", "Rosa", "Sami", "Theo", "Uma", "Wes", "Yara",
    "Maud", "Arlo", "Juno", "Ezra", "Iris", "Leon", "Mira", "Otis", "Anouk", "Bram", "Cleo",
    "Dario", "Esme", "Farah", "Gus", "Hana", "Ivo", "Jude", "Kit", "Lior", "Marta", "Nico",
    "Odile", "Pia", "Rafa", "Sol", "Tova", "Vera", "Zane", "Amara", "Basil", "Cosima",
]


def pick(rng, items):
    return items[rng.randrange(len(items))]


def surname(rng):
    return pick(rng, SURNAMES)


def adj_animal(rng):
    return f"{pick(rng, ADJECTIVES)} {pick(rng, ANIMALS)}"


def nature_and_object(rng):
    return f"{pick(rng, NATURE)} & {pick(rng, OBJECTS)}"


def two_surnames(rng):
    a = surname(rng)
    b = surname(rng)
    while b == a:
        b = surname(rng)
    return f"{a} & {b}"


def possessive(name):
    return f"{name}'s"


GENERIC_STREET_WORDS = {
    "Main", "High", "Queen", "King", "Park", "Market", "London", "North", "Church", "Station",
    "Mill", "Bridge", "Castle", "Chapel", "Lake", "River", "Spring", "College", "Victoria",
    "Harbour", "Western", "Sunset", "Elm", "Oak", "Pine", "Cedar", "Maple", "Broadway",
}


def street_word(rng, city):
    """A name from the city's own streets, for names like "Kirkgate Dental": the street's
    distinctive word ("Gottingen", "Mercière"), or the whole street when that word is a
    common one ("High Street", "Queen Street")."""
    street = pick(rng, STREETS[CITIES[city][0]])
    words = [w for w in re.split(r"[ -]", street) if w[:1].isupper() and w not in (
        "Street", "Road", "Avenue", "Lane", "Boulevard", "Drive", "Place", "Grove", "The",
        "St", "Saint", "Sainte", "Jean", "Victor", "Paul", "Bert", "Nationale",
    )]
    if not words:
        return city
    if words[-1] in GENERIC_STREET_WORDS:
        return street if CITIES[city][0] != "fr" else city
    return words[-1]


# Each category: name patterns (functions of rng and city), opening hours, amenities, years,
# how many reviews a typical place has, and how ratings spread.
def names_cafes(rng, city):
    return pick(rng, [
        lambda: f"{adj_animal(rng)} Coffee Roasters",
        lambda: f"{adj_animal(rng)} Coffee",
        lambda: f"The {pick(rng, OBJECTS)} Café",
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Café",
        lambda: f"{pick(rng, NATURE)} Street Espresso",
        lambda: f"Café {pick(rng, NATURE)}",
        lambda: f"{pick(rng, ADJECTIVES)} Cup Coffee House",
    ])()


def names_restaurants(rng, city):
    return pick(rng, [
        lambda: f"The {adj_animal(rng)}",
        lambda: f"{possessive(surname(rng))} Kitchen",
        lambda: f"{pick(rng, NATURE)} & {pick(rng, ['Vine', 'Ember', 'Salt', 'Smoke', 'Table', 'Fig'])}",
        lambda: f"Bistro {pick(rng, NATURE)}",
        lambda: f"The {pick(rng, OBJECTS)} Dining Room",
        lambda: f"{pick(rng, FIRST_NAMES)} & {pick(rng, FIRST_NAMES)} Eatery",
        lambda: f"{street_word(rng, city)} Canteen",
    ])()


def names_bakeries(rng, city):
    return pick(rng, [
        lambda: f"{pick(rng, ADJECTIVES)} Crust Bakery",
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Bakehouse",
        lambda: f"The {pick(rng, ['Rising', 'Morning', 'Daily', 'Honest', 'Crumb', 'Flour'])} {pick(rng, ['Loaf', 'Oven', 'Bread Co.', 'Bakery'])}",
        lambda: f"{pick(rng, NATURE)} Street Bakery",
        lambda: f"Boulangerie {surname(rng)}" if CITIES[city][0] == "fr" else f"{surname(rng)} & Daughters Bakery",
        lambda: f"{adj_animal(rng)} Bakery",
    ])()


def names_bookshops(rng, city):
    return pick(rng, [
        lambda: f"{adj_animal(rng)} Books",
        lambda: f"The {pick(rng, OBJECTS)} & {pick(rng, ['Page', 'Spine', 'Quill', 'Ink'])}",
        lambda: f"{possessive(surname(rng))} Bookshop",
        lambda: f"{pick(rng, NATURE)} Leaf Books",
        lambda: f"Chapter & {pick(rng, ['Verse', 'Hearth', 'Lantern', 'Compass'])}",
        lambda: f"{street_word(rng, city)} Books",
    ])()


def names_hardware(rng, city):
    return pick(rng, [
        lambda: f"{nature_and_object(rng)} Hardware",
        lambda: f"{surname(rng)} Hardware",
        lambda: f"{street_word(rng, city)} Hardware & Tools",
        lambda: f"The {pick(rng, OBJECTS)} Tool Shop",
        lambda: f"{two_surnames(rng)} Ironmongers",
    ])()


def names_florists(rng, city):
    return pick(rng, [
        lambda: f"{pick(rng, ['Petal', 'Stem', 'Bloom', 'Posy', 'Wildflower'])} & {pick(rng, NATURE)}",
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Flowers",
        lambda: f"The {pick(rng, ADJECTIVES)} Stem",
        lambda: f"{pick(rng, NATURE)} Florist",
        lambda: f"{pick(rng, ADJECTIVES)} Bloom Flower Studio",
    ])()


def names_dentists(rng, city):
    return pick(rng, [
        lambda: f"{street_word(rng, city)} Dental",
        lambda: f"{pick(rng, NATURE)} Dental Care",
        lambda: f"{two_surnames(rng)} Dentistry",
        lambda: f"{street_word(rng, city)} Smile Dental",
        lambda: f"Dr {surname(rng)} Family Dentistry",
    ])()


def names_vets(rng, city):
    return pick(rng, [
        lambda: f"{pick(rng, NATURE)} Veterinary Clinic",
        lambda: f"{street_word(rng, city)} Animal Hospital",
        lambda: f"{adj_animal(rng)} Vets",
        lambda: f"{two_surnames(rng)} Veterinary Surgeons",
        lambda: f"Paws & {pick(rng, ['Claws', 'Whiskers', 'Tails', 'Hooves'])} Vet Practice",
    ])()


def names_gyms(rng, city):
    return pick(rng, [
        lambda: f"{pick(rng, OBJECTS)} Strength Club",
        lambda: f"{street_word(rng, city)} Fitness",
        lambda: f"{adj_animal(rng)} Athletic Club",
        lambda: f"The {pick(rng, ['Iron', 'Steel', 'Granite', 'Timber'])} Room Gym",
        lambda: f"{pick(rng, NATURE)} Climbing & Fitness",
    ])()


def names_salons(rng, city):
    return pick(rng, [
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Hair Studio",
        lambda: f"{pick(rng, ['Shear', 'Comb', 'Mane', 'Curl', 'Fringe'])} & {pick(rng, NATURE)}",
        lambda: f"The {pick(rng, ADJECTIVES)} Chair",
        lambda: f"{street_word(rng, city)} Hair Co.",
        lambda: f"Salon {pick(rng, FIRST_NAMES)}",
    ])()


def names_bikes(rng, city):
    return pick(rng, [
        lambda: f"{adj_animal(rng)} Cycles",
        lambda: f"{pick(rng, ['Spoke', 'Chain', 'Sprocket', 'Crank', 'Saddle'])} & {pick(rng, OBJECTS)} Bike Works",
        lambda: f"{street_word(rng, city)} Bicycle Repair",
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Bike Shop",
        lambda: f"The {pick(rng, ADJECTIVES)} Wheel",
    ])()


def names_laundromats(rng, city):
    return pick(rng, [
        lambda: f"{street_word(rng, city)} Laundrette",
        lambda: f"{pick(rng, ['Suds', 'Bubbles', 'Spin', 'Rinse', 'Fold'])} & {pick(rng, ['Fold', 'Spin', 'Press', 'Shine'])}",
        lambda: f"{pick(rng, ADJECTIVES)} Wash Laundromat",
        lambda: f"The {pick(rng, NATURE)} Launderette",
        lambda: f"{possessive(pick(rng, FIRST_NAMES))} Wash House",
    ])()


def names_pharmacies(rng, city):
    return pick(rng, [
        lambda: f"{street_word(rng, city)} Pharmacy",
        lambda: f"{surname(rng)} Chemists",
        lambda: f"{pick(rng, NATURE)} Apothecary",
        lambda: f"Pharmacie {surname(rng)}" if CITIES[city][0] == "fr" else f"{surname(rng)} & Sons Pharmacy",
        lambda: f"{street_word(rng, city)} {pick(rng, ['Community', 'Family', 'Corner', 'Village'])} Pharmacy",
    ])()


def names_plumbers(rng, city):
    return pick(rng, [
        lambda: f"{surname(rng)} Plumbing",
        lambda: f"{two_surnames(rng)} Plumbing & Heating",
        lambda: f"{pick(rng, ['Copper Pipe', 'Straight Flow', 'Clear Drain', 'True Level', 'Steady Tap'])} Plumbing",
        lambda: f"{street_word(rng, city)} Plumbers",
        lambda: f"{adj_animal(rng)} Plumbing Co.",
    ])()


def names_yoga(rng, city):
    return pick(rng, [
        lambda: f"{pick(rng, NATURE)} Yoga",
        lambda: f"{pick(rng, ['Stillpoint', 'Lotus', 'Breath', 'Balance', 'Drishti', 'Sun Salute', 'Tadasana', 'Slow Flow', 'Open Hands', 'Deep Root'])} {pick(rng, ['Studio', 'Yoga House', 'Yoga Loft', 'Movement Studio'])}",
        lambda: f"The {pick(rng, ADJECTIVES)} Mat",
        lambda: f"{street_word(rng, city)} Yoga Collective",
        lambda: f"{adj_animal(rng)} Yoga",
    ])()


COMMON = ["Wheelchair access", "Card payments", "Gender-neutral toilets"]

CATEGORIES = {
    "Cafés": dict(
        weight=14, names=names_cafes, years=(1965, 2023), reviews=220,
        hours=["Mon–Fri 7:00–18:00; Sat–Sun 8:00–16:00", "Daily 7:30–17:00",
               "Mon–Sat 7:00–19:00; Sun 9:00–15:00", "Tue–Sun 8:00–16:00"],
        amenities=["Wi-Fi", "Outdoor seating", "Dog friendly", "Vegan options",
                   "Gluten-free options", "Takeaway", "Bike parking", "Power outlets",
                   "Baby changing"],
    ),
    "Restaurants": dict(
        weight=14, names=names_restaurants, years=(1952, 2023), reviews=380,
        hours=["Tue–Sat 12:00–14:30, 18:00–22:30", "Daily 11:30–22:00",
               "Wed–Sun 17:30–23:00", "Mon–Sat 12:00–23:00; Sun 12:00–17:00"],
        amenities=["Reservations", "Outdoor seating", "Vegan options", "Gluten-free options",
                   "Takeaway", "Delivery", "Private dining", "Family friendly", "Wi-Fi"],
    ),
    "Bakeries": dict(
        weight=9, names=names_bakeries, years=(1921, 2023), reviews=160,
        hours=["Tue–Sat 7:00–15:00; Sun 8:00–13:00", "Daily 6:30–14:00",
               "Mon–Sat 7:00–17:00", "Wed–Sun 7:30–14:30"],
        amenities=["Takeaway", "Vegan options", "Gluten-free options", "Pre-orders",
                   "Outdoor seating", "Wi-Fi", "Dog friendly"],
    ),
    "Bookshops": dict(
        weight=7, names=names_bookshops, years=(1898, 2022), reviews=90,
        hours=["Mon–Sat 10:00–18:00; Sun 11:00–17:00", "Tue–Sun 10:00–19:00",
               "Daily 9:30–20:00"],
        amenities=["Special orders", "Children's corner", "Reading events", "Gift wrapping",
                   "Second-hand section", "Wi-Fi", "Dog friendly"],
    ),
    "Hardware stores": dict(
        weight=6, names=names_hardware, years=(1890, 2020), reviews=70,
        hours=["Mon–Fri 7:30–18:00; Sat 8:00–16:00", "Mon–Sat 8:00–17:30",
               "Daily 8:00–19:00"],
        amenities=["Parking", "Key cutting", "Paint mixing", "Tool hire", "Delivery",
                   "Trade accounts"],
    ),
    "Florists": dict(
        weight=6, names=names_florists, years=(1948, 2023), reviews=60,
        hours=["Mon–Sat 9:00–17:30", "Tue–Sat 8:30–18:00; Sun 9:00–13:00",
               "Mon–Fri 8:00–18:00; Sat 9:00–16:00"],
        amenities=["Same-day delivery", "Wedding flowers", "Workshops", "Dried flowers",
                   "Plants and pots", "Online orders"],
    ),
    "Dentists": dict(
        weight=7, names=names_dentists, years=(1960, 2022), reviews=85,
        hours=["Mon–Fri 8:00–17:00", "Mon–Thu 8:00–19:00; Fri 8:00–15:00",
               "Mon–Fri 9:00–18:00; Sat 9:00–13:00"],
        amenities=["Online booking", "Evening appointments", "Emergency appointments",
                   "Parking", "Accepting new patients", "Children welcome"],
    ),
    "Veterinarians": dict(
        weight=6, names=names_vets, years=(1955, 2022), reviews=110,
        hours=["Mon–Fri 8:00–19:00; Sat 9:00–13:00", "Mon–Sat 8:30–18:30",
               "Daily 8:00–20:00"],
        amenities=["Online booking", "Emergency appointments", "Parking", "Cat-only waiting area",
                   "House calls", "Pet pharmacy"],
    ),
    "Gyms": dict(
        weight=7, names=names_gyms, years=(1975, 2023), reviews=140,
        hours=["Mon–Fri 6:00–22:00; Sat–Sun 8:00–20:00", "Daily 5:30–23:00",
               "Mon–Fri 6:30–21:30; Sat 8:00–18:00; Sun 9:00–17:00"],
        amenities=["Showers", "Lockers", "Personal training", "Group classes", "Parking",
                   "Day passes", "Bike parking", "Sauna"],
    ),
    "Hair salons": dict(
        weight=8, names=names_salons, years=(1970, 2023), reviews=120,
        hours=["Tue–Sat 9:00–18:00", "Tue–Fri 10:00–20:00; Sat 9:00–17:00",
               "Mon–Sat 9:30–18:30"],
        amenities=["Online booking", "Walk-ins welcome", "Evening appointments",
                   "Children's cuts", "Textured hair specialists", "Wi-Fi"],
    ),
    "Bicycle repair shops": dict(
        weight=5, names=names_bikes, years=(1968, 2023), reviews=75,
        hours=["Tue–Sat 9:00–18:00", "Mon–Fri 8:00–18:30; Sat 9:00–16:00",
               "Wed–Sun 10:00–18:00"],
        amenities=["Same-day repairs", "Bike hire", "Second-hand bikes", "Workshops",
                   "Bike parking", "Cargo bike servicing"],
    ),
    "Laundromats": dict(
        weight=4, names=names_laundromats, years=(1962, 2022), reviews=45,
        hours=["Daily 6:00–23:00", "Daily 7:00–22:00", "Mon–Sat 7:00–21:00; Sun 8:00–20:00"],
        amenities=["Wi-Fi", "Service washes", "Dry cleaning", "Large machines",
                   "Contactless payments", "Parking"],
    ),
    "Pharmacies": dict(
        weight=6, names=names_pharmacies, years=(1901, 2021), reviews=55,
        hours=["Mon–Fri 8:30–19:00; Sat 9:00–17:00", "Daily 8:00–22:00",
               "Mon–Sat 9:00–18:30"],
        amenities=["Prescription delivery", "Vaccinations", "Private consultation room",
                   "Parking", "Late opening", "Blood pressure checks"],
    ),
    "Plumbers": dict(
        weight=5, names=names_plumbers, years=(1958, 2023), reviews=50,
        hours=["Mon–Fri 7:00–18:00", "Mon–Sat 7:30–17:30",
               "Mon–Fri 8:00–17:00; Sat 9:00–12:00"],
        amenities=["Emergency call-outs", "Free quotes", "Boiler servicing",
                   "Heat pump installation", "Drain unblocking", "Insured work"],
    ),
    "Yoga studios": dict(
        weight=5, names=names_yoga, years=(1985, 2023), reviews=65,
        hours=["Mon–Fri 6:30–21:00; Sat–Sun 8:00–13:00", "Daily 7:00–20:30",
               "Mon–Thu 7:00–21:00; Fri 7:00–18:00; Sat 9:00–12:00"],
        amenities=["Mat hire", "Beginner classes", "Showers", "Online classes",
                   "Drop-in classes", "Bike parking"],
    ),
}

# --- Values -------------------------------------------------------------------------------


def slugify(text):
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = text.lower().replace("'", "")
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")


def weighted(rng, table):
    names = list(table)
    weights = [table[n]["weight"] if isinstance(table[n], dict) else table[n][1] for n in names]
    return rng.choices(names, weights=weights, k=1)[0]


def address(rng, country):
    street = pick(rng, STREETS[country])
    number = rng.choice([rng.randint(1, 60), rng.randint(1, 240), rng.randint(100, 4800)])
    if country == "fr":
        return f"{number if number < 400 else number % 180 + 1} {street}"
    if country == "uk":
        return f"{number if number < 400 else number % 220 + 1} {street}"
    return f"{number} {street}"


def phone(rng, city):
    prefix = CITIES[city][2]
    country = CITIES[city][0]
    if country in ("us", "ca"):
        return f"{prefix}{rng.randint(0, 99):02d}"            # +1 503 555 0142
    if country == "uk":
        return f"{prefix}{rng.randint(0, 999):03d}"           # +44 113 496 0123, +44 1632 960123
    return f"{prefix} {rng.randint(0, 99):02d} {rng.randint(0, 99):02d}"  # +33 4 65 71 12 34


def rating(rng, review_count):
    """Most places sit between 3.8 and 4.8; a few are poor; only places with few reviews
    keep a perfect score."""
    value = rng.gauss(4.25, 0.4)
    while value >= 4.95:
        value = rng.gauss(4.25, 0.4)
    if rng.random() < 0.04:
        value = rng.uniform(1.0, 3.2)
    value = min(4.9, max(1.0, round(value, 1)))
    if review_count < 30 and value >= 4.6 and rng.random() < 0.5:
        value = 5.0
    return value


def reviews(rng, typical):
    return max(1, int(rng.lognormvariate(0, 0.9) * typical))


def amenities(rng, pool):
    count = rng.randint(2, 5)
    chosen = rng.sample(pool, min(count, len(pool)))
    if rng.random() < 0.7:
        chosen.append("Wheelchair access")
    if rng.random() < 0.85:
        chosen.append("Card payments")
    if rng.random() < 0.15:
        chosen.append("Gender-neutral toilets")
    order = pool + COMMON
    return "; ".join(sorted(set(chosen), key=order.index))


def founded(rng, years):
    low, high = years
    # Younger businesses are more common than old ones.
    return high - int((high - low) * rng.random() ** 2.2)


def listings(count, seed):
    rng = random.Random(seed)
    seen = set()
    rows = []
    for n in range(1, count + 1):
        ident = f"L{n:04d}"
        category = weighted(rng, CATEGORIES)
        city = weighted(rng, CITIES)
        spec = CATEGORIES[category]
        # A name is used once if possible, and never twice in one city.
        name = spec["names"](rng, city)
        tries = 0
        while name in seen and tries < 40:
            name = spec["names"](rng, city)
            tries += 1
        while (name, city) in seen:
            name = f"{name} {street_word(rng, city)}"
        seen.add(name)
        seen.add((name, city))
        slug = f"{slugify(name)}-{ident.lower()}"
        country = CITIES[city][0]
        review_count = reviews(rng, spec["reviews"])
        rows.append({
            "id": ident,
            "slug": slug,
            "name": name,
            "category": category,
            "city": city,
            "address": address(rng, country),
            "phone": phone(rng, city),
            "hours": pick(rng, spec["hours"]),
            "amenities": amenities(rng, spec["amenities"]),
            "rating": f"{rating(rng, review_count):.1f}",
            "reviews": str(review_count),
            "website": f"https://example.com/{slug}",
            "founded": str(founded(rng, spec["years"])),
        })
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2400, help="how many listings (default 2400)")
    parser.add_argument("--seed", type=int, default=20240501, help="the random seed")
    parser.add_argument("--out", default=DEFAULT_OUT, help="the CSV file to write")
    args = parser.parse_args()
    rows = listings(args.count, args.seed)
    out = os.path.normpath(args.out)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} listings to {out}")


if __name__ == "__main__":
    main()
