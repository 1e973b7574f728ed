"""The built-in table-rate carriers the demo seeds: OMS Parcel (Economy, Ground, Express, zoned by
distance) and Metro Regional Courier (zoned by ZIP prefix around Louisville, KY).

The numbers are ILLUSTRATIVE. They are shaped like published retail rate charts (prices that rise
with zone and weight break, a per-kg rate past the last break, dimensional divisors of 5000/6000
cm^3/kg, flat surcharges, a regional carrier cheaper inside its area) but they are not any real
carrier's prices and must not be quoted to anyone as such. Pure data: nothing here touches a database.
"""

from __future__ import annotations

from decimal import Decimal

from oms.shipping.rates import Carrier, DistanceZones, RateTable, Service, Surcharges, ZipPrefixZones

BREAKS_G = (500, 1000, 2000, 3000, 5000, 10000, 20000, 30000)

# Zone by straight-line distance from the warehouse; zone 1 is unused, as on US charts (zone 2 is local).
_PARCEL_BANDS = (
    (150.0, "2"),
    (300.0, "3"),
    (600.0, "4"),
    (1000.0, "5"),
    (1400.0, "6"),
    (1800.0, "7"),
    (5000.0, "8"),  # the rest of the contiguous US
)
# Express also flies to Alaska, Hawaii and Puerto Rico.
_EXPRESS_BANDS = (*_PARCEL_BANDS, (8500.0, "9"))


def _table(rows: dict[str, tuple[str, ...]], per_extra_kg: dict[str, str]) -> RateTable:
    return RateTable(
        breaks_g=BREAKS_G,
        prices={zone: tuple(Decimal(p) for p in row) for zone, row in rows.items()},
        per_extra_kg={zone: Decimal(p) for zone, p in per_extra_kg.items()},
    )


# Prices per weight break (up to 0.5, 1, 2, 3, 5, 10, 20, 30 kg), one row per zone.
_ECONOMY = _table(
    {
        "2": ("6.79", "7.10", "7.66", "8.18", "9.15", "11.36", "15.33", "19.01"),
        "3": ("7.22", "7.60", "8.28", "8.91", "10.09", "12.77", "17.60", "22.06"),
        "4": ("7.65", "8.10", "8.90", "9.64", "11.03", "14.18", "19.86", "25.11"),
        "5": ("8.09", "8.60", "9.52", "10.38", "11.97", "15.59", "22.12", "28.16"),
        "6": ("8.52", "9.10", "10.14", "11.11", "12.91", "17.00", "24.39", "31.22"),
        "7": ("8.95", "9.60", "10.76", "11.84", "13.84", "18.42", "26.65", "34.27"),
        "8": ("9.39", "10.10", "11.38", "12.57", "14.78", "19.83", "28.92", "37.32"),
    },
    {"2": "0.56", "3": "0.68", "4": "0.80", "5": "0.92", "6": "1.04", "7": "1.16", "8": "1.28"},
)
_GROUND = _table(
    {
        "2": ("9.48", "9.90", "10.66", "11.37", "12.68", "15.68", "21.07", "26.06"),
        "3": ("10.15", "10.67", "11.61", "12.48", "14.10", "17.78", "24.43", "30.57"),
        "4": ("10.82", "11.44", "12.56", "13.59", "15.51", "19.89", "27.79", "35.09"),
        "5": ("11.49", "12.21", "13.50", "14.70", "16.92", "22.00", "31.14", "39.60"),
        "6": ("12.17", "12.98", "14.45", "15.81", "18.34", "24.11", "34.50", "44.11"),
        "7": ("12.84", "13.75", "15.40", "16.92", "19.75", "26.21", "37.86", "48.62"),
        "8": ("13.51", "14.52", "16.34", "18.03", "21.17", "28.32", "41.22", "53.14"),
    },
    {"2": "0.76", "3": "0.94", "4": "1.11", "5": "1.29", "6": "1.46", "7": "1.64", "8": "1.82"},
)
_EXPRESS = _table(
    {
        "2": ("20.83", "21.90", "23.83", "25.61", "28.93", "36.49", "50.13", "62.73"),
        "3": ("22.98", "24.25", "26.54", "28.65", "32.59", "41.58", "57.77", "72.73"),
        "4": ("25.13", "26.60", "29.25", "31.70", "36.26", "46.66", "65.41", "82.74"),
        "5": ("27.28", "28.95", "31.96", "34.74", "39.93", "51.75", "73.05", "92.74"),
        "6": ("29.43", "31.30", "34.67", "37.79", "43.60", "56.83", "80.70", "102.75"),
        "7": ("31.58", "33.65", "37.38", "40.83", "47.26", "61.92", "88.34", "112.75"),
        "8": ("33.73", "36.00", "40.09", "43.88", "50.93", "67.01", "95.98", "122.76"),
        "9": ("35.88", "38.35", "42.80", "46.92", "54.60", "72.09", "103.62", "132.76"),
    },
    {"2": "1.92", "3": "2.28", "4": "2.64", "5": "3.00", "6": "3.36", "7": "3.72", "8": "4.08", "9": "4.44"},
)

# Oversize: a side over 122 cm or length + girth over 266 cm, the thresholds US parcel carriers use
# for their large-package surcharge (converted from 48 in and 105 in).
_PARCEL_SURCHARGES = Surcharges(
    fragile=Decimal("4.50"),
    residential=Decimal("5.35"),
    oversize=Decimal("32.00"),
    oversize_longest_mm=1220,
    oversize_girth_mm=2667,
)

OMS_ECONOMY = Service(
    carrier="oms",
    code="economy",
    name="OMS Economy",
    level="economy",
    zones=DistanceZones(_PARCEL_BANDS),
    rates=_ECONOMY,
    transit_days={"2": 3, "3": 4, "4": 5, "5": 6, "6": 7, "7": 7, "8": 8},
    surcharges=_PARCEL_SURCHARGES,
    dim_divisor=6000,
    max_weight_g=30000,
    max_length_mm=1500,
)
OMS_GROUND = Service(
    carrier="oms",
    code="ground",
    name="OMS Ground",
    level="standard",
    zones=DistanceZones(_PARCEL_BANDS),
    rates=_GROUND,
    transit_days={"2": 1, "3": 2, "4": 2, "5": 3, "6": 4, "7": 5, "8": 5},
    surcharges=_PARCEL_SURCHARGES,
    dim_divisor=5000,
    max_weight_g=68000,
    max_length_mm=2740,
)
OMS_EXPRESS = Service(
    carrier="oms",
    code="express",
    name="OMS Express",
    level="express",
    zones=DistanceZones(_EXPRESS_BANDS),
    rates=_EXPRESS,
    transit_days={"2": 1, "3": 1, "4": 1, "5": 1, "6": 2, "7": 2, "8": 2, "9": 3},
    surcharges=_PARCEL_SURCHARGES,
    dim_divisor=5000,
    max_weight_g=68000,
    max_length_mm=2740,
)

# Metro Regional Courier picks up around Louisville and delivers in Kentucky, southern Indiana and
# the Cincinnati area. Zone A: the Louisville metro on both sides of the river; zone B: the rest.
_METRO_A = ("400", "401", "402", "471")
_METRO_B = (
    *(f"{p}" for p in range(403, 428) if p != 419),  # the rest of Kentucky (419 is unassigned)
    *(f"{p}" for p in range(470, 480) if p != 471),  # Indiana south of Indianapolis
    "450",
    "451",
    "452",  # Cincinnati
)
METRO_GROUND = Service(
    carrier="metro",
    code="ground",
    name="Metro Regional Ground",
    level="standard",
    zones=ZipPrefixZones(
        zones={**dict.fromkeys(_METRO_A, "A"), **dict.fromkeys(_METRO_B, "B")},
        origins=frozenset({"400", "401", "402", "471"}),
    ),
    rates=_table(
        {
            "A": ("7.39", "7.75", "8.39", "8.99", "10.09", "12.61", "17.16", "21.36"),
            "B": ("8.60", "9.05", "9.85", "10.59", "11.98", "15.13", "20.81", "26.06"),
        },
        {"A": "0.64", "B": "0.80"},
    ),
    transit_days={"A": 1, "B": 2},
    surcharges=Surcharges(
        fragile=Decimal("3.00"),
        residential=Decimal("2.75"),
        oversize=Decimal("20.00"),
        oversize_longest_mm=1000,
        oversize_girth_mm=2000,
    ),
    dim_divisor=6000,
    max_weight_g=30000,
    max_length_mm=1200,
)

OMS_PARCEL = Carrier("oms", "OMS Parcel", (OMS_ECONOMY, OMS_GROUND, OMS_EXPRESS))
METRO_REGIONAL = Carrier("metro", "Metro Regional Courier", (METRO_GROUND,))
DEMO_CARRIERS = (OMS_PARCEL, METRO_REGIONAL)
DEMO_SERVICES = tuple(s for c in DEMO_CARRIERS for s in c.services)
