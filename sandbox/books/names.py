"""Company names, identifiers, account numbers and the QBO DisplayNames a sync tool would give them."""

from __future__ import annotations

import random
import re


def _words(text: str, sep: str | None = None) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(sep))


_PLACES = _words(
    """Acme Ashford Bayside Beacon Brightview Canyon Cedar Coastal Crescent Delta Driftwood Eastgate Elmhurst
Evergreen Fairview Foxglove Frontier Glenwood Granite Greystone Harbor Heritage Highland Hillcrest
Ironwood Juniper Keystone Kingsley Lakeshore Larkspur Liberty Maple Meridian Noble Northwind Oakridge
Orchard Pinnacle Prairie Quarry Redwood Riverside Silverline Sterling Summit Tidewater Union Valley
Westfield Willow Bluebird Copperline Sandpiper"""
)
_SURNAMES = _words(
    """Baker Carter Donovan Ellis Fischer Garcia Hughes Jensen Kowalski Lambert Morales Nguyen O'Brien Patel
Quinn Russo Schmidt Thompson Vasquez Whitaker Abbott Brennan Castillo Dempsey Foster Goldberg Hale
Ivanov Kaplan Lindqvist"""
)
_TRADES = _words(
    """Dental Group|Family Practice|Law Group|Accounting|Plumbing|Logistics|Realty|Insurance Agency|
Veterinary Clinic|Construction|Manufacturing|Pediatrics|Chiropractic|Engineering|Architects|Auto Group|
Credit Union|Financial Advisors|Title Company|Orthodontics|Physical Therapy|Landscaping|Electric|HVAC|
Foods|Brewing|Marine|Hospitality|Property Management|Medical Supply|Animal Hospital|Eye Care|
Wealth Management|Printing|Staffing|Academy|Distributors|Labs|Consulting|Surgical Associates""",
    "|",
)
_PAIR_TRADES = ("CPAs", "Law Offices", "Dentistry", "Builders", "Insurance", "Partners", "Advisors", "Design")
# Legal suffixes and their weights: most names carry one, some none.
_SUFFIXES = ("", " LLC", " Inc.", ", Inc.", " Inc", ", LLC", " PC", " PLLC", " Ltd", " Corp.")
_SUFFIX_WEIGHTS = (30, 22, 14, 5, 6, 5, 5, 4, 4, 5)
_LEGAL = frozenset({"llc", "inc", "ltd", "pc", "pllc", "corp", "co", "company", "corporation"})


def name_key(name: str) -> str:
    """Normalise a company name the way a careful matcher would: case, punctuation, '&', legal suffix, spaces."""
    words = re.sub(r"[^a-z0-9 ]", " ", name.lower().replace("&", " and ")).split()
    while words and words[-1] in _LEGAL:
        words.pop()
    return " ".join(words)


def _one_name(rng: random.Random) -> str:
    pattern = rng.random()
    if pattern < 0.55:
        base = f"{rng.choice(_PLACES)} {rng.choice(_TRADES)}"
    elif pattern < 0.8:
        base = f"{rng.choice(_SURNAMES)} {rng.choice(_TRADES)}"
    else:
        first, second = rng.sample(_SURNAMES, 2)
        joiner = " & " if rng.random() < 0.75 else " and "
        base = f"{first}{joiner}{second} {rng.choice(_PAIR_TRADES)}"
    return base + rng.choices(_SUFFIXES, _SUFFIX_WEIGHTS)[0]


def company_names(rng: random.Random, count: int) -> list[str]:
    """Return ``count`` realistic, distinct company names whose normalised forms are distinct too."""
    names: list[str] = []
    keys: set[str] = set()
    while len(names) < count:
        name = _one_name(rng)
        key = name_key(name)
        if key not in keys and len(name) <= 50:
            keys.add(key)
            names.append(name)
    return names


def identifier(name: str, taken: set[str]) -> str:
    """Return a unique CW company identifier (CamelCase letters and digits, at most 30 characters)."""
    base = "".join(word[:1].upper() + word[1:] for word in re.sub(r"[^A-Za-z0-9 ]", "", name).split())[:26]
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}{n}"
    taken.add(candidate)
    return candidate


def account_number(name: str, counters: dict[str, int]) -> str:
    """Return a unique account number such as ``RIVE003`` (four letters of the name and a counter)."""
    letters = re.sub(r"[^A-Z]", "", name.upper())[:4].ljust(4, "X")
    counters[letters] = counters.get(letters, 0) + 1
    return f"{letters}{counters[letters]:03d}"


def _variants(name: str) -> list[str]:
    """Spellings of ``name`` that differ only by case, punctuation, '&'/'and', legal suffix or spacing."""
    out = [name.upper(), name.replace(" ", "  ", 1), name.replace(".", "").replace(",", "")]
    if " & " in name:
        out.append(name.replace(" & ", " and "))
    if " and " in name:
        out.append(name.replace(" and ", " & "))
    stem = name
    while stem.split()[-1].strip(".,").lower() in _LEGAL:
        stem = stem.rsplit(" ", 1)[0].rstrip(",")
    out.append(stem + " Inc." if stem == name else stem)
    return [v for v in out if v != name and name_key(v) == name_key(name)]


def display_names(rng: random.Random, names: list[str], accounts: list[str]) -> list[tuple[str, str]]:
    """Return (DisplayName, CompanyName) per company, as the sync tool left them in QBO.

    [U] The "{name} ({accountNumber})" form is our reading of Gozynta's "append account" option (research
    connectwise-api.md §6); most customers carry it, about one in ten has the bare CW name, and a few have a
    spelling that differs only by normalisation (someone renamed them by hand, or they predate the sync tool).
    """
    count = len(names)
    order = list(range(count))
    rng.shuffle(order)
    bare = set(order[: max(2, count // 10)])
    respelled = set(order[len(bare) : len(bare) + max(3, count // 25)])
    out: list[tuple[str, str]] = []
    for i, (name, account) in enumerate(zip(names, accounts, strict=True)):
        if i in respelled:
            spelled = rng.choice(_variants(name))
            out.append((spelled, spelled))
        elif i in bare:
            out.append((name, name))
        else:
            out.append((f"{name} ({account})", name))
    return out
