"""A realistic sample catalogue, generated deterministically from a seed.

Prices follow a per-category log-normal spread around each product's typical price; every
category drifts by a fixed rate a day, so the price changes within listings show a trend. Times
are spread over the `DAYS` days before the anchor. The same seed, size and anchor give the same
catalogue, byte for byte (only `random.Random(seed)`; no clock, no uuid4).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from labs_core.ids import derived_id
from services.tools.domain.events import (
    ListingCreated,
    ListingEvent,
    ListingPriceChanged,
    ListingStatusChanged,
)
from services.tools.domain.listings import NewListing

DAYS = 90
NS_PER_DAY = 86_400 * 1_000_000_000
#: Sellers are drawn first and do not depend on the size, so a bigger catalogue extends a smaller one.
SELLERS = 160


@dataclass(frozen=True, slots=True)
class CategoryProfile:
    """How one category's listings look: products with typical prices and brands, spread and drift."""

    products: tuple[tuple[str, int, tuple[str, ...]], ...]  # (product, typical price in dollars, brands)
    styles: tuple[str, ...]
    sigma: float  # log-normal spread of prices around the typical price
    drift_per_day: float  # relative price change a day (0.002 = +0.2 %/day)


PROFILES: dict[str, CategoryProfile] = {
    "electronics": CategoryProfile(
        (
            ("Wireless Headphones", 180, ("Sony", "Bose", "Sennheiser", "Apple", "JBL")),
            ("4K Smart TV", 650, ("Samsung", "LG", "Sony", "TCL", "Hisense")),
            ("Laptop", 900, ("Dell", "Lenovo", "Apple", "HP", "ASUS")),
            ("Mirrorless Camera", 850, ("Sony", "Canon", "Nikon", "Fujifilm")),
            ("Soundbar", 250, ("Sonos", "Bose", "Samsung", "Vizio")),
            ("Gaming Monitor", 320, ("LG", "Samsung", "ASUS", "Dell", "BenQ")),
            ("Tablet", 400, ("Apple", "Samsung", "Lenovo", "Microsoft")),
            ("Smartwatch", 220, ("Apple", "Samsung", "Garmin", "Fitbit")),
            ("Bluetooth Speaker", 90, ("JBL", "Bose", "Ultimate Ears", "Anker")),
            ("Game Console", 420, ("Sony", "Microsoft", "Nintendo")),
        ),
        ("Pro", "Max", "Air", "Ultra", "Plus", "Lite", "Elite", "Studio"),
        0.45,
        -0.004,
    ),
    "furniture": CategoryProfile(
        (
            ("Sofa", 700, ("West Elm", "Article", "La-Z-Boy", "IKEA", "Crate & Barrel")),
            ("Dining Table", 450, ("IKEA", "Pottery Barn", "Crate & Barrel", "West Elm")),
            ("Office Chair", 350, ("Herman Miller", "Steelcase", "Haworth", "IKEA")),
            ("Bookshelf", 120, ("IKEA", "Room & Board", "Wayfair")),
            ("Bed Frame", 380, ("Zinus", "West Elm", "Article", "IKEA")),
            ("Coffee Table", 160, ("West Elm", "Article", "IKEA", "CB2")),
            ("Dresser", 300, ("Pottery Barn", "IKEA", "Ashley")),
            ("Armchair", 260, ("Article", "La-Z-Boy", "West Elm")),
            ("Standing Desk", 420, ("Uplift", "Fully", "Steelcase", "IKEA")),
            ("Nightstand", 90, ("IKEA", "Ashley", "Wayfair")),
        ),
        ("Mid-Century", "Scandinavian", "Solid Oak", "Walnut", "Modern", "Rustic", "Velvet", "Leather"),
        0.5,
        0.0015,
    ),
    "clothing": CategoryProfile(
        (
            ("Down Jacket", 160, ("Patagonia", "The North Face", "Arc'teryx", "Uniqlo")),
            ("Slim Jeans", 55, ("Levi's", "Wrangler", "Zara", "AG")),
            ("Running Sneakers", 85, ("Nike", "Adidas", "Brooks", "New Balance", "Hoka")),
            ("Fleece Hoodie", 50, ("Patagonia", "Carhartt", "Champion", "Nike")),
            ("Wool Coat", 190, ("J.Crew", "Ralph Lauren", "Zara", "Everlane")),
            ("Leather Boots", 140, ("Red Wing", "Dr. Martens", "Timberland", "Blundstone")),
            ("Cashmere Sweater", 110, ("Everlane", "J.Crew", "Naadam", "Uniqlo")),
            ("Rain Shell", 150, ("Arc'teryx", "Patagonia", "Columbia", "The North Face")),
            ("Summer Dress", 45, ("Zara", "H&M", "Reformation", "Madewell")),
            ("Graphic T-Shirt", 20, ("Uniqlo", "H&M", "Carhartt", "Nike")),
        ),
        ("Black", "Navy", "Olive", "Grey", "Red", "White", "Camel", "Forest Green"),
        0.45,
        -0.002,
    ),
    "books": CategoryProfile(
        (
            ("Hardcover Novel", 18, ("Penguin", "Knopf", "Scribner", "HarperCollins")),
            ("Paperback Box Set", 35, ("Penguin", "Vintage", "Tor", "Bantam")),
            ("First Edition", 120, ("Knopf", "Scribner", "Random House", "Faber & Faber")),
            ("Cookbook", 22, ("Clarkson Potter", "Ten Speed Press", "Phaidon")),
            ("Programming Guide", 40, ("O'Reilly", "Manning", "No Starch Press", "Pragmatic Bookshelf")),
            ("Art Book", 45, ("Taschen", "Phaidon", "Thames & Hudson")),
            ("Graphic Novel", 16, ("Image", "DC", "Marvel", "Drawn & Quarterly")),
            ("Travel Guide", 14, ("Lonely Planet", "Rick Steves", "DK Eyewitness")),
            ("Textbook", 70, ("Pearson", "McGraw Hill", "Oxford", "Cengage")),
            ("Picture Book", 10, ("Scholastic", "Candlewick", "Chronicle")),
        ),
        ("Signed", "Illustrated", "Collector's", "Annotated", "Classic", "Bestselling", "Hardback", "Deluxe"),
        0.4,
        0.0,
    ),
    "sports": CategoryProfile(
        (
            ("Mountain Bike", 850, ("Trek", "Specialized", "Giant", "Santa Cruz")),
            ("Road Bike", 1100, ("Trek", "Specialized", "Cannondale", "Giant")),
            ("Golf Club Set", 600, ("Callaway", "TaylorMade", "Titleist", "Ping")),
            ("Tennis Racket", 120, ("Wilson", "Babolat", "Head", "Yonex")),
            ("GPS Running Watch", 250, ("Garmin", "Coros", "Polar", "Suunto")),
            ("Adjustable Dumbbells", 280, ("Bowflex", "NordicTrack", "PowerBlock")),
            ("Hiking Backpack", 150, ("Osprey", "Gregory", "Deuter", "REI")),
            ("Trail Running Shoes", 100, ("Salomon", "Hoka", "Altra", "La Sportiva")),
            ("Rowing Machine", 700, ("Concept2", "Hydrow", "WaterRower")),
            ("Cooler", 200, ("Yeti", "RTIC", "Igloo", "Coleman")),
        ),
        ("Carbon", "Aluminium", "Pro", "Sport", "Trail", "Elite", "Comp", "Expert"),
        0.5,
        0.003,
    ),
    "toys": CategoryProfile(
        (
            ("Building Set", 80, ("LEGO", "Mega Bloks", "K'NEX")),
            ("Board Game", 35, ("Hasbro", "Ravensburger", "Asmodee", "Mattel")),
            ("Action Figure", 25, ("Hasbro", "Mattel", "McFarlane", "Bandai")),
            ("Doll House", 120, ("KidKraft", "Melissa & Doug", "Barbie", "Calico Critters")),
            ("RC Car", 70, ("Traxxas", "Hot Wheels", "Redcat")),
            ("1000-Piece Puzzle", 20, ("Ravensburger", "Buffalo Games", "Galison")),
            ("Plush Toy", 18, ("Jellycat", "Squishmallows", "Steiff")),
            ("Train Set", 95, ("Brio", "Lionel", "Bachmann")),
            ("Science Kit", 40, ("National Geographic", "Thames & Kosmos", "Snap Circuits")),
            ("Collector Figure", 30, ("Funko", "Hot Toys", "NECA")),
        ),
        ("Deluxe", "Classic", "Starter", "Limited Edition", "Mega", "Junior", "Ultimate", "Retro"),
        0.45,
        0.002,
    ),
    "home": CategoryProfile(
        (
            ("Stand Mixer", 300, ("KitchenAid", "Cuisinart", "Smeg")),
            ("Cordless Vacuum", 380, ("Dyson", "Shark", "Tineco")),
            ("Dutch Oven", 260, ("Le Creuset", "Staub", "Lodge")),
            ("Pressure Cooker", 90, ("Instant Pot", "Ninja", "Breville")),
            ("Blender", 320, ("Vitamix", "Blendtec", "Ninja")),
            ("Espresso Machine", 550, ("Breville", "De'Longhi", "Gaggia", "Rancilio")),
            ("Robot Vacuum", 330, ("iRobot", "Roborock", "Eufy", "Shark")),
            ("Air Fryer", 110, ("Ninja", "Philips", "Cosori", "Instant Pot")),
            ("Knife Set", 150, ("Wüsthof", "Zwilling", "Shun", "Victorinox")),
            ("Coffee Maker", 130, ("Nespresso", "Technivorm", "Breville", "Cuisinart")),
        ),
        ("Artisan", "Professional", "Compact", "Smart", "Classic", "Deluxe", "Signature", "Elite"),
        0.4,
        0.0012,
    ),
    "automotive": CategoryProfile(
        (
            ("Tire Set (4)", 650, ("Michelin", "Bridgestone", "Goodyear", "Continental")),
            ("Roof Cargo Box", 480, ("Thule", "Yakima", "Inno")),
            ("Dash Cam", 150, ("Garmin", "Vantrue", "Nextbase", "Viofo")),
            ("Floor Mats", 120, ("WeatherTech", "Husky Liners", "3D MAXpider")),
            ("Car Stereo", 280, ("Pioneer", "Kenwood", "Sony", "Alpine")),
            ("Jump Starter", 110, ("NOCO", "Clore", "Gooloo")),
            ("Bike Rack", 350, ("Thule", "Kuat", "Yakima", "Saris")),
            ("Alloy Wheels", 900, ("BBS", "Enkei", "OZ Racing", "Konig")),
            ("Detailing Kit", 60, ("Chemical Guys", "Meguiar's", "Adam's")),
            ("Battery Charger", 80, ("NOCO", "CTEK", "Schumacher")),
        ),
        ("All-Season", "Premium", "Heavy-Duty", "Sport", "Touring", "Compact", "XL", "Pro"),
        0.55,
        0.004,
    ),
    "garden": CategoryProfile(
        (
            ("Lawn Mower", 420, ("Honda", "Toro", "EGO", "Husqvarna")),
            ("Chainsaw", 300, ("STIHL", "Husqvarna", "Echo", "EGO")),
            ("Gas Grill", 550, ("Weber", "Napoleon", "Char-Broil")),
            ("Pellet Smoker", 800, ("Traeger", "Pit Boss", "Camp Chef")),
            ("Hedge Trimmer", 140, ("STIHL", "Greenworks", "Black+Decker", "EGO")),
            ("Leaf Blower", 180, ("EGO", "Toro", "Greenworks", "STIHL")),
            ("Patio Set", 650, ("Polywood", "Hampton Bay", "Keter")),
            ("Raised Garden Bed", 120, ("Vego", "Greenes", "Keter")),
            ("Hose Reel", 70, ("Suncast", "Gardena", "Liberty Garden")),
            ("Pressure Washer", 260, ("Sun Joe", "Ryobi", "Karcher", "Generac")),
        ),
        ("Cordless", "Self-Propelled", "Compact", "Pro", "Deluxe", "Classic", "Heavy-Duty", "Smart"),
        0.5,
        0.0025,
    ),
    "music": CategoryProfile(
        (
            ("Electric Guitar", 900, ("Fender", "Gibson", "PRS", "Ibanez", "Epiphone")),
            ("Acoustic Guitar", 650, ("Taylor", "Martin", "Yamaha", "Gibson")),
            ("Digital Piano", 700, ("Yamaha", "Roland", "Kawai", "Casio")),
            ("Synthesizer", 800, ("Korg", "Moog", "Roland", "Arturia")),
            ("Guitar Amplifier", 450, ("Marshall", "Fender", "Boss", "Orange")),
            ("Drum Kit", 750, ("Pearl", "Tama", "DW", "Ludwig")),
            ("Studio Microphone", 180, ("Shure", "Audio-Technica", "Rode", "Neumann")),
            ("Bass Guitar", 700, ("Fender", "Ibanez", "Music Man", "Yamaha")),
            ("Effects Pedal", 120, ("Boss", "Electro-Harmonix", "Strymon", "MXR")),
            ("Ukulele", 90, ("Kala", "Martin", "Lanikai", "Cordoba")),
        ),
        ("Vintage", "Standard", "Deluxe", "Custom", "Studio", "Player", "Signature", "Classic"),
        0.55,
        -0.001,
    ),
}

CONDITIONS = (
    ("new", 0.12, 1.0),
    ("like new", 0.28, 0.85),
    ("good", 0.38, 0.7),
    ("fair", 0.17, 0.5),
    ("refurbished", 0.05, 0.8),
)
CITIES = (
    "Austin, TX",
    "Portland, OR",
    "Denver, CO",
    "Chicago, IL",
    "Brooklyn, NY",
    "Seattle, WA",
    "San Diego, CA",
    "Atlanta, GA",
    "Minneapolis, MN",
    "Boston, MA",
    "Phoenix, AZ",
    "Nashville, TN",
)
NEW_NOTES = (
    "Unopened, still sealed in the original box.",
    "Brand new, unwanted gift.",
    "New with tags; receipt available.",
    "Bought two by mistake.",
)
USED_NOTES = (
    "Works perfectly, barely used.",
    "Comes with the original box and accessories.",
    "Minor signs of wear, fully functional.",
    "Smoke-free, pet-free home.",
    "Upgraded, so selling this one.",
    "Receipt available.",
    "Selling because I'm moving.",
    "Well looked after, a few light scratches.",
)
DELIVERY = (
    "Local pickup in {city} or shipping at the buyer's cost.",
    "Free shipping within the US.",
    "Pickup only, {city}.",
    "Can meet halfway around {city}.",
)
SELLER_WORDS = (
    "maple",
    "harbor",
    "copper",
    "vintage",
    "urban",
    "prairie",
    "summit",
    "coastal",
    "golden",
    "timber",
    "river",
    "north",
    "lucky",
    "bright",
    "quiet",
)
SELLER_NOUNS = (
    "finds",
    "traders",
    "goods",
    "market",
    "outlet",
    "resale",
    "deals",
    "attic",
    "exchange",
    "emporium",
)


@dataclass(frozen=True, slots=True)
class SeedListing:
    """One catalogue listing and its history: created, maybe repriced, maybe sold or archived."""

    index: int
    events: tuple[ListingEvent, ...]

    @property
    def listing_id(self) -> str:
        """The listing's id."""
        return self.events[0].listing_id


def listing_id_for(seed: int, index: int) -> str:
    """The id of catalogue listing `index` of `seed`."""
    return derived_id("catalogue", str(seed), str(index))


def nice_cents(cents: float) -> int:
    """A price as people set it: x.99 above $100, x.49/x.99 below."""
    if cents >= 10_000:
        return max(99, round(cents / 100) * 100 - 1)
    return max(99, round(cents / 50) * 50 - 1)


def _sellers(rng: random.Random, n: int) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        name = f"{rng.choice(SELLER_WORDS)}_{rng.choice(SELLER_NOUNS)}_{rng.randint(1, 99)}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def generate(seed: int, size: int, anchor_ns: int) -> list[SeedListing]:
    """The catalogue: `size` listings with their events, all within DAYS days before `anchor_ns`."""
    return list(iter_catalogue(seed, size, anchor_ns))


def iter_catalogue(seed: int, size: int, anchor_ns: int) -> Iterator[SeedListing]:
    """The same listings as `generate`, one at a time, so a caller can work in chunks without holding
    the whole catalogue (10,000 listings with their events are ~11 MB of Python objects)."""
    rng = random.Random(seed)
    sellers = _sellers(rng, SELLERS)
    # A few sellers list a lot, most list a little.
    seller_weights = [1 / (i + 1) ** 0.8 for i in range(len(sellers))]
    categories = list(PROFILES)
    start_ns = anchor_ns - DAYS * NS_PER_DAY
    for index in range(size):
        category = categories[index % len(categories)] if index < len(categories) else rng.choice(categories)
        yield _listing(
            rng, seed, index, category, rng.choices(sellers, seller_weights)[0], start_ns, anchor_ns
        )


def _listing(
    rng: random.Random, seed: int, index: int, category: str, seller: str, start_ns: int, anchor_ns: int
) -> SeedListing:
    p = PROFILES[category]
    product, typical, brands = rng.choice(p.products)
    brand = rng.choice(brands)
    style = rng.choice(p.styles)
    condition, _, factor = rng.choices(CONDITIONS, [c[1] for c in CONDITIONS])[0]
    city = rng.choice(CITIES)
    title = f"{brand} {style} {product}" + ("" if condition == "good" else f" - {condition.title()}")
    note = rng.choice(NEW_NOTES if condition == "new" else USED_NOTES)
    description = (
        f"{condition.capitalize()} {brand} {product.lower()} ({style.lower()}). "
        f"{note} {rng.choice(DELIVERY).format(city=city)}"
    )
    # Leave the last hour free so every event is in the past at the anchor.
    created_ns = start_ns + int(rng.random() * (anchor_ns - start_ns - 3_600_000_000_000))
    days_in = (created_ns - start_ns) / NS_PER_DAY
    level = math.exp(p.drift_per_day * (days_in - DAYS / 2))
    price = nice_cents(typical * 100 * factor * level * rng.lognormvariate(0.0, p.sigma))
    lid = listing_id_for(seed, index)
    attributes = {"brand": brand, "condition": condition, "location": city}
    if category == "clothing":
        attributes["size"] = rng.choice(("XS", "S", "M", "L", "XL"))
        attributes["color"] = style
    events: list[ListingEvent] = [
        ListingCreated(
            NewListing(
                listing_id=lid,
                seller_id=seller,
                title=title,
                description=description,
                category=category,
                price_cents=price,
                currency="USD",
                status="active",
                attributes=attributes,
            ),
            created_ns,
        )
    ]
    changes = rng.choices((0, 1, 2, 3, 4, 5), (20, 24, 22, 16, 11, 7))[0]
    times = sorted(created_ns + int(rng.random() * (anchor_ns - created_ns)) for _ in range(changes))
    last_ns = created_ns
    for at in times:
        if at <= last_ns:
            continue
        dt_days = (at - last_ns) / NS_PER_DAY
        new = nice_cents(price * math.exp(p.drift_per_day * dt_days + rng.gauss(0.0, 0.02)))
        if new != price:
            events.append(ListingPriceChanged(lid, price, new, at))
            price = new
            last_ns = at
    roll = rng.random()
    if roll < 0.17:
        status = "sold" if roll < 0.12 else "archived"
        at = last_ns + int(rng.random() * (anchor_ns - last_ns))
        if at > last_ns:
            events.append(ListingStatusChanged(lid, "active", status, at))
    return SeedListing(index, tuple(events))
