"""``oms demo``: seed a believable small retail business, through the real services.

Every row goes through the same use cases and schemas as the API (so the same rules apply, and
stock only ever moves through the ledger). The data is deterministic (``random.Random(42)``):
warehouses and a store with bin grids, a catalogue with valid GTIN-13s, stock, three channels,
one user per role and about forty orders in varied states.

Seeding happens once: if the database already holds a product or a warehouse, only the demo admin
is made sure of. Every call returns a fresh admin API token.

Sales tax rates below are illustrative round figures for the demo, not tax advice.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from oms.auth.model import User
from oms.auth.rules import ROLE_SCOPES, Role
from oms.auth.service import Principal, create_token, create_user, hash_password
from oms.catalog import service as catalog
from oms.catalog.model import Product
from oms.catalog.schemas import ProductCreate
from oms.channels import service as channels
from oms.channels.schemas import ChannelCreate, ChannelKind
from oms.db import Database
from oms.db.base import utcnow
from oms.demo_floor import seed_floor
from oms.demo_shipping import seed_return_policies, seed_shipping
from oms.inventory import service as inventory
from oms.inventory import warehouses
from oms.inventory.model import Warehouse
from oms.inventory.schemas import (
    BinCreate,
    ReceiptCreate,
    ReceiptLine,
    WarehouseAddress,
    WarehouseCreate,
    WarehouseKind,
)
from oms.orders import service as orders
from oms.orders.schemas import Address, Customer, LineIn, OrderCreate, OrderOut, PaymentIn, PaymentIntent

DEMO_PASSWORD = "demo-password-123"
STAFF_DOMAIN = "demo.oms.test"
# Order emails are validated as deliverable-looking addresses, which refuses the reserved ".test"
# domain; the customer login uses example.com so the orders placed with it are visible to it.
CUSTOMER_EMAIL = "customer@demo.example.com"
ADMIN_EMAIL = f"admin@{STAFF_DOMAIN}"
CENT = Decimal("0.01")


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str
    token: str


Progress = Callable[[str], None]

# -- the business ----------------------------------------------------------------------------------

# code, name, kind, line1, city, region, postal code, latitude, longitude
SITES = [
    ("NJ-EWR", "Newark Distribution Center", "warehouse", "275 Doremus Ave", "Newark", "NJ", "07105",
     40.7206, -74.1301),
    ("IL-JOL", "Joliet Fulfillment Center", "warehouse", "2800 Channahon Rd", "Joliet", "IL", "60436",
     41.4967, -88.1242),
    ("CA-ONT", "Inland Empire Fulfillment Center", "warehouse", "4501 E Airport Dr", "Ontario", "CA", "91761",
     34.0561, -117.5990),
    ("TX-DAL", "Dallas South Distribution Center", "warehouse", "3700 E Ledbetter Dr", "Dallas", "TX", "75241",
     32.6640, -96.7630),
    ("GA-ATL", "Atlanta South Distribution Center", "warehouse", "1200 Westridge Pkwy", "McDonough", "GA", "30253",
     33.4473, -84.1469),
    ("NY-BKN", "Brooklyn Heights Store", "store", "148 Montague St", "Brooklyn", "NY", "11201", 40.6947, -73.9930),
]  # fmt: skip
STORE = "NY-BKN"
WEB_ORDER = ["NJ-EWR", "IL-JOL", "GA-ATL", "TX-DAL", "CA-ONT"]
MARKETPLACE_ORDER = ["TX-DAL", "CA-ONT", "IL-JOL"]


@dataclass(frozen=True)
class _Kind:
    sku: str
    names: tuple[str, ...]
    variants: tuple[str, ...]
    price: tuple[int, int]  # whole dollars
    grams: tuple[int, int]
    size: tuple[int, int, int]  # typical length, width, height in mm
    count: int
    fragile: bool = False
    backorder: bool = False  # made to order / pre-order lines
    in_store: bool = False


_COLOURS = ("Sage", "Slate", "Oat", "Terracotta", "Midnight", "Cream", "Charcoal", "Blush")
_GLASS = ("Clear", "Smoke", "Amber", "Green")
_WOODS = ("Oak", "Walnut", "Black", "Natural")
_NONE = ("",)
KINDS = [
    _Kind("KIT-MUG", ("Stoneware Mug 12 oz", "Speckled Camp Mug 14 oz", "Latte Mug 16 oz", "Espresso Cup 3 oz"),
          _COLOURS, (9, 24), (160, 420), (120, 90, 105), 8, fragile=True, in_store=True),
    _Kind("KIT-GLS", ("Recycled Glass Tumbler Set of 4", "Stemless Wine Glass Pair", "Highball Glass Set of 6",
                      "Crystal Coupe Pair", "Borosilicate Carafe 1 L"),
          _GLASS, (18, 64), (500, 1600), (220, 160, 150), 8, fragile=True, in_store=True),
    _Kind("KIT-PLT", ("Stoneware Dinner Plate 10.5 in", "Salad Plate Set of 4", "Pasta Bowl 9 in",
                      "Serving Platter 14 in"),
          _COLOURS, (14, 68), (600, 3200), (280, 280, 60), 6, fragile=True),
    _Kind("KIT-TLS", ("Silicone Spatula", "Beechwood Spoon Set of 3", "Balloon Whisk 11 in", "Bamboo Cutting Board",
                      "Locking Tongs 12 in", "Measuring Cup Set"),
          ("Black", "Natural", "Red", "Grey"), (6, 32), (60, 900), (320, 80, 40), 8),
    _Kind("KIT-KNF", ("Chef's Knife 8 in", "Paring Knife 3.5 in", "Bread Knife 9 in", "Santoku Knife 7 in"),
          ("Walnut Handle", "Black Handle"), (24, 149), (90, 320), (340, 60, 30), 5),
    _Kind("KIT-CKW", ("Cast Iron Skillet 10 in", "Enamelled Dutch Oven 5.5 qt", "Nonstick Frying Pan 12 in",
                      "Stainless Saucepan 2 qt", "Carbon Steel Wok 14 in"),
          _NONE, (29, 249), (1100, 6200), (450, 280, 140), 5),
    _Kind("HOM-LMP", ("Ceramic Table Lamp", "Mushroom Glass Lamp", "Ribbed Glass Pendant"),
          ("White", "Amber", "Sage"), (49, 189), (900, 4200), (350, 350, 450), 5, fragile=True),
    _Kind("HOM-LGT", ("Brass Desk Lamp", "Arc Floor Lamp", "LED Reading Lamp", "Clip-On Task Light"),
          ("Black", "Brass", "White"), (29, 249), (600, 9500), (500, 300, 300), 4),
    _Kind("HOM-VAS", ("Ribbed Glass Vase", "Stoneware Bud Vase", "Tall Ceramic Floor Vase", "Hand-Blown Bottle Vase"),
          _COLOURS, (19, 129), (300, 4200), (180, 180, 300), 6, fragile=True, in_store=True),
    _Kind("HOM-CND", ("Soy Candle 8 oz", "Pillar Candle Set of 3", "Taper Candles Pack of 6", "Three-Wick Candle"),
          ("Cedar & Sage", "Fig Leaf", "Sea Salt", "Unscented", "Amber Woods"), (12, 48), (200, 1300),
          (100, 100, 110), 6, in_store=True),
    _Kind("HOM-FRM", ("Oak Picture Frame 8x10", "Gallery Frame 11x14", "Brass Frame 5x7"),
          ("Natural", "Black", "White"), (14, 59), (300, 1500), (300, 250, 30), 5, fragile=True),
    _Kind("HOM-PLN", ("Terracotta Planter 6 in", "Self-Watering Planter 10 in", "Glazed Hanging Planter"),
          ("Natural", "White", "Sage"), (12, 79), (400, 3500), (260, 260, 240), 4, fragile=True),
    _Kind("HOM-MIR", ("Round Wall Mirror 24 in", "Arched Floor Mirror", "Rectangular Vanity Mirror"),
          ("Brass", "Black"), (89, 349), (4000, 18000), (1200, 600, 40), 3, fragile=True),
    _Kind("TEX-THR", ("Linen Throw Blanket", "Chunky Knit Throw", "Merino Wool Blanket", "Cotton Waffle Throw"),
          _COLOURS, (49, 189), (800, 2200), (400, 300, 120), 6, in_store=True),
    _Kind("TEX-TWL", ("Turkish Cotton Bath Towel", "Hand Towel Pair", "Waffle Bath Sheet", "Linen Tea Towel Set of 3"),
          ("White", "Stone", "Sage", "Navy"), (12, 59), (200, 900), (300, 200, 80), 6),
    _Kind("TEX-BED", ("Percale Sheet Set Queen", "Linen Duvet Cover King", "Sateen Pillowcase Pair",
                      "Down Alternative Pillow"),
          ("White", "Oat", "Slate"), (39, 229), (600, 2500), (400, 350, 120), 6),
    _Kind("TEX-CSH", ("Velvet Cushion Cover 18 in", "Boucle Lumbar Pillow", "Outdoor Cushion 20 in"),
          _COLOURS, (24, 69), (250, 1100), (460, 460, 120), 5, in_store=True),
    _Kind("TEX-RUG", ("Jute Area Rug 5x8", "Washable Runner 2.5x8", "Wool Doormat"),
          ("Natural", "Charcoal"), (29, 399), (1500, 16000), (1500, 300, 300), 4),
    _Kind("BKS-CKB", ("Salt, Smoke & Time", "The Weeknight Table", "Bread Every Day", "Small Kitchen, Big Flavor",
                      "Vegetables First", "The Fermentation Notebook"),
          ("Hardcover",), (24, 45), (700, 1600), (260, 200, 30), 6, backorder=True, in_store=True),
    _Kind("BKS-HOM", ("Living With Plants", "The Calm Home", "Joinery Basics", "Colour at Home", "The Tidy Workshop"),
          ("Paperback", "Hardcover"), (19, 55), (400, 1800), (240, 190, 25), 5, in_store=True),
    _Kind("ELE-SPK", ("Bluetooth Speaker Mini", "Portable Speaker Pro", "Smart Speaker"),
          ("Black", "Sand", "Forest"), (39, 199), (250, 1800), (180, 90, 80), 4),
    _Kind("ELE-CHG", ("USB-C Charger 65 W", "Wireless Charging Pad", "Braided USB-C Cable 2 m", "Power Bank 10000 mAh"),
          ("Black", "White"), (12, 59), (60, 280), (120, 80, 30), 6, in_store=True),
    _Kind("ELE-AUD", ("Wireless Earbuds", "Over-Ear Headphones", "Clock Radio"),
          ("Black", "White", "Sage"), (29, 249), (60, 350), (200, 180, 90), 4),
    _Kind("ELE-APP", ("Electric Kettle 1.7 L", "Digital Kitchen Scale", "Hand Blender", "Burr Coffee Grinder",
                      "Gooseneck Pour-Over Kettle"),
          ("Black", "Steel", "Cream"), (25, 149), (400, 2600), (280, 200, 260), 6),
    _Kind("FUR-TBL", ("Oak Side Table", "Nesting Tables Set of 2", "Marble-Top Coffee Table"),
          _NONE, (129, 649), (6000, 32000), (900, 600, 450), 3, backorder=True),
    _Kind("FUR-SEA", ("Counter Stool", "Rattan Lounge Chair", "Folding Bistro Chair", "Upholstered Bench"),
          _WOODS, (89, 499), (4500, 18000), (600, 550, 800), 4, backorder=True),
    _Kind("FUR-SHF", ("Floating Wall Shelf 24 in", "Bookcase 5-Tier", "Ladder Shelf"),
          _WOODS, (49, 329), (2500, 28000), (1800, 400, 300), 3, backorder=True),
    _Kind("STA-NTB", ("Dot Grid Notebook A5", "Linen-Bound Journal", "Weekly Desk Planner", "Fineliner Set of 10"),
          ("Black", "Sage", "Terracotta"), (6, 38), (60, 450), (210, 150, 15), 6, in_store=True),
]  # fmt: skip

# city, state, ZIP, latitude, longitude (Census ZIP centroids), area code, illustrative sales tax %
City = tuple[str, str, str, float, float, str, str]
CITIES: list[City] = [
    ("Boston", "MA", "02108", 42.3578, -71.0648, "617", "6.25"),
    ("Concord", "NH", "03301", 43.2323, -71.5530, "603", "0"),
    ("Portland", "ME", "04101", 43.6626, -70.2579, "207", "5.5"),
    ("Burlington", "VT", "05401", 44.4766, -73.2100, "802", "7"),
    ("Hartford", "CT", "06103", 41.7672, -72.6743, "860", "6.35"),
    ("Newark", "NJ", "07102", 40.7357, -74.1736, "973", "6.625"),
    ("New York", "NY", "10001", 40.7507, -73.9973, "212", "8.875"),
    ("Pittsburgh", "PA", "15213", 40.4440, -79.9552, "412", "7"),
    ("Philadelphia", "PA", "19104", 39.9587, -75.1991, "215", "8"),
    ("Washington", "DC", "20001", 38.9104, -77.0177, "202", "6"),
    ("Richmond", "VA", "23219", 37.5398, -77.4355, "804", "6"),
    ("Raleigh", "NC", "27601", 35.7736, -78.6345, "919", "7.25"),
    ("Atlanta", "GA", "30303", 33.7533, -84.3900, "404", "8.9"),
    ("Miami", "FL", "33130", 25.7685, -80.2034, "305", "7"),
    ("Nashville", "TN", "37203", 36.1496, -86.7906, "615", "9.25"),
    ("Louisville", "KY", "40202", 38.2568, -85.7540, "502", "6"),
    ("Columbus", "OH", "43215", 39.9669, -83.0130, "614", "7.5"),
    ("Detroit", "MI", "48226", 42.3315, -83.0503, "313", "6"),
    ("Minneapolis", "MN", "55401", 44.9846, -93.2691, "612", "8.025"),
    ("Chicago", "IL", "60601", 41.8853, -87.6221, "312", "10.25"),
    ("St. Louis", "MO", "63101", 38.6316, -90.1926, "314", "9.679"),
    ("New Orleans", "LA", "70112", 29.9570, -90.0769, "504", "9.45"),
    ("Oklahoma City", "OK", "73102", 35.4707, -97.5190, "405", "8.625"),
    ("Dallas", "TX", "75201", 32.7877, -96.7994, "214", "8.25"),
    ("Houston", "TX", "77002", 29.7568, -95.3657, "713", "8.25"),
    ("Denver", "CO", "80202", 39.7519, -104.9976, "303", "8.81"),
    ("Salt Lake City", "UT", "84111", 40.7560, -111.8840, "801", "8.45"),
    ("Phoenix", "AZ", "85004", 33.4516, -112.0699, "602", "8.6"),
    ("Albuquerque", "NM", "87102", 35.0814, -106.6466, "505", "7.625"),
    ("Las Vegas", "NV", "89101", 36.1725, -115.1222, "702", "8.375"),
    ("Beverly Hills", "CA", "90210", 34.1026, -118.4160, "310", "9.5"),
    ("San Francisco", "CA", "94103", 37.7731, -122.4112, "415", "8.625"),
    ("Portland", "OR", "97204", 45.5184, -122.6739, "503", "0"),
    ("Seattle", "WA", "98101", 47.6109, -122.3364, "206", "10.35"),
    ("Helena", "MT", "59601", 46.5274, -112.2104, "406", "0"),
]
BROOKLYN: City = ("Brooklyn", "NY", "11201", 40.6944, -73.9906, "718", "8.875")
FIRST = ("Ava", "Liam", "Maya", "Noah", "Priya", "Mateo", "Chloe", "Ethan", "Amara", "Lucas", "Hana", "Diego", "Grace",
         "Omar", "Zoe", "Samuel", "Leah", "Kenji", "Isabel", "Marcus", "Nora", "Tariq")  # fmt: skip
LAST = ("Johnson", "Nguyen", "Patel", "Garcia", "Kim", "Okafor", "Rossi", "Cohen", "Martinez", "Walker", "Silva",
        "Chen", "Brooks", "Haddad", "Murphy", "Tanaka", "Lopez", "Bennett")  # fmt: skip
STREETS = ("Maple Ave", "Oak St", "Washington Blvd", "Park Pl", "Lincoln Rd", "Cedar Ln", "Elm St", "Highland Ave",
           "Lakeview Dr", "Market St", "Church St", "Willow Way", "Sunset Blvd", "Riverside Dr")  # fmt: skip
STAFF = {
    Role.ADMIN: "Alex Morgan",
    Role.MANAGER: "Jamie Ortiz",
    Role.PICKER: "Sam Whitaker",
    Role.PACKER: "Riley Chen",
    Role.SHIPPER: "Devon Price",
    Role.CLERK: "Morgan Blake",
    Role.SUPPORT: "Casey Rahman",
    Role.CUSTOMER: "Jordan Lee",
}


# -- pure builders (deterministic) ------------------------------------------------------------------


def gtin13(body12: str) -> str:
    """Append the GS1 mod-10 check digit: weights 1,3,1,3... from the left of a 12-digit body."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _jitter(rng: random.Random, value: int, step: int) -> int:
    return max(step, round(value * rng.uniform(0.8, 1.2) / step) * step)


def _price(rng: random.Random, low: int, high: int) -> Decimal:
    cents = rng.choice(("99", "95", "50", "00", "99"))
    return Decimal(f"{rng.randint(low, high)}.{cents}")


def build_catalogue(rng: random.Random) -> list[tuple[ProductCreate, _Kind]]:
    products = []
    for k in KINDS:
        combos = rng.sample(list(itertools.product(k.names, k.variants)), min(k.count, len(k.names) * len(k.variants)))
        number = rng.randint(1, 40)
        for name, variant in combos:
            number += rng.randint(1, 9)
            length, width, height = (_jitter(rng, v, 5) for v in k.size)
            products.append(
                (
                    ProductCreate(
                        sku=f"{k.sku}-{number:04d}",
                        name=f"{name}, {variant}" if variant else name,
                        barcode=gtin13(f"20845{len(products) + 1:07d}"),
                        price=_price(rng, *k.price),
                        weight_g=_jitter(rng, rng.randint(*k.grams), 5),
                        length_mm=length,
                        width_mm=width,
                        height_mm=height,
                        fragile=k.fragile,
                        allow_backorder=k.backorder,
                        reorder_point=rng.choice((None, None, 4, 6, 10, 12, 20)),
                    ),
                    k,
                )
            )
    return products


@dataclass(frozen=True)
class _Person:
    name: str
    email: str
    phone: str
    address: Address
    tax_rate: Decimal


def _person(rng: random.Random, first: str, last: str, email: str, city: City) -> _Person:
    name_, state, zip_, lat, lon, area, tax = city
    line2 = f"Apt {rng.randint(1, 24)}{rng.choice('ABCD')}" if rng.random() < 0.3 else None
    return _Person(
        name=f"{first} {last}",
        email=email,
        phone=f"+1-{area}-555-01{rng.randint(0, 99):02d}",  # 555-01xx numbers are reserved for fiction
        address=Address(
            name=f"{first} {last}",
            line1=f"{rng.randint(10, 2999)} {rng.choice(STREETS)}",
            line2=line2,
            city=name_,
            region=state,
            postal_code=zip_,
            country="US",
            latitude=lat,
            longitude=lon,
        ),
        tax_rate=Decimal(tax) / 100,
    )


def build_customers(rng: random.Random) -> list[_Person]:
    cities = CITIES[:]
    rng.shuffle(cities)
    pairs = rng.sample(list(itertools.product(FIRST, LAST)), len(cities))
    people = [
        _person(rng, f, surname, f"{f.lower()}.{surname.lower()}@example.{rng.choice(('com', 'net', 'org'))}", c)
        for (f, surname), c in zip(pairs, cities, strict=True)
    ]
    first, last = STAFF[Role.CUSTOMER].split()
    people.append(_person(rng, first, last, CUSTOMER_EMAIL, BROOKLYN))
    return people


# -- seeding -----------------------------------------------------------------------------------------


def seed_demo(db: Database, secret_key: str, progress: Progress | None = None) -> DemoLogin:
    """Seed the demo business into an empty database (once), then return a fresh admin login."""
    say = progress or (lambda _message: None)
    with db.read() as session:
        seeded = any(session.scalar(select(m.id).limit(1)) is not None for m in (Product, Warehouse))
    if not seeded:
        _seed(db, random.Random(42), say)
    with db.write() as session:
        admin = _ensure_user(session, Role.ADMIN)
        token, _ = create_token(session, secret_key, admin, name="demo")
    return DemoLogin(email=admin.email, password=DEMO_PASSWORD, token=token)


def _email(role: Role) -> str:
    return CUSTOMER_EMAIL if role is Role.CUSTOMER else f"{role.value}@{STAFF_DOMAIN}"


def _ensure_user(session: Session, role: Role, password_hash: str | None = None) -> User:
    user = session.scalar(select(User).where(User.email == _email(role)))
    if user is not None:
        return user
    if password_hash is None:
        return create_user(session, _email(role), role.value, DEMO_PASSWORD, STAFF[role])
    user = create_user(session, _email(role), role.value, None, STAFF[role])
    user.password_hash = password_hash
    return user


def _principal(user: User) -> Principal:
    return Principal(user_id=user.id, email=user.email, role=user.role, scopes=ROLE_SCOPES[Role(user.role)])


def _seed(db: Database, rng: random.Random, say: Progress) -> None:
    # Argon2 is slow on purpose; the demo users share one published password, so they share one hash.
    shared_hash = hash_password(DEMO_PASSWORD)
    with db.write() as session:
        staff = {role: _principal(_ensure_user(session, role, shared_hash)) for role in Role}
    say(f"{len(staff)} users, one per role (password {DEMO_PASSWORD!r})")
    bins = _seed_sites(db)
    say(f"{len(SITES)} sites with {sum(len(b) for b in bins.values())} bins")
    catalogue = build_catalogue(rng)
    for product, _ in catalogue:
        catalog.create_product(db, product)
    say(f"{len(catalogue)} products")
    available = _seed_stock(db, rng, catalogue, bins, staff[Role.MANAGER])
    say(f"stock received: {sum(available.values())} units")
    channels.create_channel(
        db, ChannelCreate(code="web", name="Web Store", kind=ChannelKind.WEB, currency="USD", warehouses=WEB_ORDER)
    )
    channels.create_channel(
        db,
        ChannelCreate(
            code="marketplace",
            name="Marketplace",
            kind=ChannelKind.MARKETPLACE,
            currency="USD",
            warehouses=MARKETPLACE_ORDER,
        ),
    )
    channels.create_channel(
        db,
        ChannelCreate(
            code="store-brooklyn",
            name="Brooklyn Store Counter",
            kind=ChannelKind.POS,
            currency="USD",
            warehouses=[STORE],
        ),
    )
    say("3 channels")
    count = _seed_orders(db, rng, [p for p, _ in catalogue], available, staff)
    say(f"{count} orders")
    packed = seed_floor(db, staff[Role.PICKER], staff[Role.PACKER], "NJ-EWR", say)
    seed_shipping(db, staff[Role.SHIPPER], packed, say)
    seed_return_policies(db, staff[Role.MANAGER], say)


def _seed_sites(db: Database) -> dict[str, list[str]]:
    bins: dict[str, list[str]] = {}
    for code, name, kind, line1, city, region, postal_code, lat, lon in SITES:
        warehouses.create_warehouse(
            db,
            WarehouseCreate(
                code=code,
                name=name,
                kind=WarehouseKind(kind),
                address=WarehouseAddress(line1=line1, city=city, region=region, postal_code=postal_code, country="US"),
                latitude=lat,
                longitude=lon,
            ),
        )
        store = kind == WarehouseKind.STORE
        aisles, bays, levels = ("ABC", range(1, 4), "1") if store else ("ABCDEFGH", range(1, 5), "12")
        bins[code] = []
        for a, aisle in enumerate(aisles, 1):
            for bay in bays:
                for level in levels:
                    bin_code = f"{aisle}-{bay:02d}-{level}"
                    warehouses.create_bin(
                        db,
                        code,
                        BinCreate(code=bin_code, x_m=a * 3.0, y_m=round(bay * 1.2, 1), aisle=aisle, level=level),
                    )
                    bins[code].append(bin_code)
    return bins


Stock = dict[tuple[str, str], int]  # (sku, warehouse code) -> available


def _seed_stock(
    db: Database,
    rng: random.Random,
    catalogue: list[tuple[ProductCreate, _Kind]],
    bins: dict[str, list[str]],
    manager: Principal,
) -> Stock:
    """One purchase-order receipt per site. Some products miss some sites; a few made-to-order or
    pre-order products are out of stock everywhere (they take backorders)."""
    backorderable = [p.sku for p, _ in catalogue if p.allow_backorder]
    nowhere = set(rng.sample(backorderable, 3))
    available: Stock = {}
    for n, (code, _, kind, *_) in enumerate(SITES):
        lines = []
        for product, k in catalogue:
            if product.sku in nowhere or rng.random() < 0.22 or (kind == WarehouseKind.STORE and not k.in_store):
                continue
            if kind == WarehouseKind.STORE:
                quantity = rng.randint(2, 14)
            elif k.backorder:
                quantity = rng.randint(1, 6)
            elif k.grams[1] >= 4000:
                quantity = rng.randint(3, 24)
            else:
                quantity = rng.randint(12, 160)
            lines.append(ReceiptLine(sku=product.sku, quantity=quantity, bin=rng.choice(bins[code])))
            available[(product.sku, code)] = quantity
        inventory.receive(db, ReceiptCreate(warehouse=code, reference=f"PO-{24101 + n}", lines=lines), manager)
    return available


# What happens to each of the 40 orders; shuffled so the states interleave in the order list.
SCENARIOS = ["paid"] * 22 + ["authorized"] * 5 + ["pending"] * 4 + ["backordered"] * 4 + ["cancel"] * 3 + ["hold"] * 2
CHANNEL_SITES = {"web": WEB_ORDER, "marketplace": MARKETPLACE_ORDER, "store-brooklyn": [STORE]}
CANCEL_REASONS = (
    "Customer asked to cancel before dispatch",
    "Payment was not completed within 48 hours",
    "Duplicate of an earlier order",
)
HOLD_REASONS = ("Shipping address could not be verified", "High-value first order: fraud review")


def _seed_orders(
    db: Database, rng: random.Random, products: list[ProductCreate], available: Stock, staff: dict[Role, Principal]
) -> int:
    scenarios = SCENARIOS[:]
    rng.shuffle(scenarios)
    customers = build_customers(rng)
    cancels, holds = iter(CANCEL_REASONS), iter(HOLD_REASONS)
    for n, scenario in enumerate(scenarios):
        if scenario == "paid":
            channel = rng.choices(list(CHANNEL_SITES), weights=(50, 30, 20))[0]
        else:
            channel = rng.choices(["web", "marketplace"], weights=(65, 35))[0]
        # The demo customer login places every seventh order, so "my orders" is not empty.
        person = customers[-1] if n % 7 == 3 else rng.choice(customers[:-1])
        lines = _pick_lines(rng, products, available, CHANNEL_SITES[channel], scenario == "backordered")
        actor = staff[Role.CLERK] if channel == "store-brooklyn" else staff[Role.ADMIN]
        order = _place(db, rng, channel, person, lines, scenario, actor)
        for line in order.lines:
            for a in line.allocations:
                available[(line.sku, a.warehouse)] -= a.quantity
        if scenario == "cancel":
            orders.cancel_order(db, order.id, staff[Role.SUPPORT], next(cancels))
            for line in order.lines:
                for a in line.allocations:
                    available[(line.sku, a.warehouse)] += a.quantity
        elif scenario == "hold":
            orders.hold_order(db, order.id, staff[Role.SUPPORT], next(holds))
    return len(scenarios)


def _pick_lines(
    rng: random.Random, products: list[ProductCreate], available: Stock, sites: list[str], backorder: bool
) -> list[tuple[ProductCreate, int]]:
    """One to four lines the channel's sites can fill; for a backorder, one line asks for more of a
    backorderable product than those sites hold."""

    def on_hand(p: ProductCreate) -> int:
        return sum(available.get((p.sku, s), 0) for s in sites)

    in_stock = [p for p in products if on_hand(p) > 0]
    chosen = rng.sample(in_stock, rng.choice((1, 1, 2, 2, 3, 4)))
    lines = [(p, min(on_hand(p), 1 if p.price >= 100 else rng.choice((1, 1, 1, 2, 2, 3)))) for p in chosen]
    if backorder:
        p = rng.choice([p for p in products if p.allow_backorder and p not in chosen])
        lines = [*lines[:1], (p, on_hand(p) + rng.randint(1, 3))]
    return lines


def _place(
    db: Database,
    rng: random.Random,
    channel: str,
    person: _Person,
    lines: list[tuple[ProductCreate, int]],
    scenario: str,
    actor: Principal,
) -> OrderOut:
    pos = channel == "store-brooklyn"
    subtotal = sum((p.price * q for p, q in lines), Decimal(0))
    discount = Decimal(0)
    if channel == "web" and rng.random() < 0.25:  # the WELCOME10 code
        discount = (subtotal * Decimal("0.10")).quantize(CENT, ROUND_HALF_UP)
    if pos:
        shipping = Decimal(0)
    elif any(p.sku.startswith("FUR-") for p, _ in lines):
        shipping = Decimal("49.00")  # freight
    elif channel == "web":
        shipping = Decimal(0) if subtotal - discount >= 75 else Decimal("7.95")
    else:
        shipping = Decimal(0) if subtotal >= 35 else Decimal("5.99")
    rate = Decimal(BROOKLYN[6]) / 100 if pos else person.tax_rate
    tax = ((subtotal - discount) * rate).quantize(CENT, ROUND_HALF_UP)
    total = subtotal + shipping + tax - discount

    external_id = None
    if channel == "marketplace":
        external_id = f"{rng.randint(111, 999)}-{rng.randint(1000000, 9999999)}-{rng.randint(1000000, 9999999)}"
    if pos:
        method = rng.choice(("card_present", "card_present", "cash"))
    else:
        method = "marketplace" if external_id else rng.choice(("card", "card", "card", "paypal"))
    reference = external_id or (None if method == "cash" else f"ch_{rng.getrandbits(64):016x}")
    intent = {
        "paid": PaymentIntent.PAID,
        "backordered": PaymentIntent.PAID,
        "hold": PaymentIntent.PAID,
        "authorized": PaymentIntent.AUTHORIZED,
        "pending": PaymentIntent.PENDING,
    }.get(scenario) or rng.choice((PaymentIntent.PENDING, PaymentIntent.AUTHORIZED))  # a cancel voids either
    payment = PaymentIn(status=intent, amount=total, method=method, reference=reference)
    if intent is PaymentIntent.PENDING and rng.random() < 0.5:
        payment = None  # not even started at checkout

    address = person.address
    if pos:  # carried out of the shop
        city, state, zip_, lat, lon, *_ = BROOKLYN
        address = Address(
            name=person.name,
            line1=SITES[-1][3],
            city=city,
            region=state,
            postal_code=zip_,
            country="US",
            latitude=lat,
            longitude=lon,
        )
    promise: dict[str, datetime] = {}
    if channel == "marketplace":  # marketplaces state a delivery date on every order
        promise["deliver_by"] = utcnow() + timedelta(days=5)
    if scenario == "backordered":  # waiting for stock past the day it was to ship: late
        promise["ship_by"] = utcnow() - timedelta(hours=6)
    data = OrderCreate(
        channel=channel,
        external_id=external_id,
        customer=Customer(email=person.email, name=person.name, phone=person.phone),
        shipping_address=address,
        lines=[LineIn(sku=p.sku, quantity=q, unit_price=p.price) for p, q in lines],
        currency="USD",
        shipping_total=shipping,
        tax_total=tax,
        discount_total=discount,
        total=total,
        payment=payment,
        **promise,
    )
    order, _ = orders.create_order(db, data, actor)
    return order
