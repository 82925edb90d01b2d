"""Arithmetic word problems with exact integer answers: the embedded default benchmark.

`make_arith_items(n, seed)` is pure and deterministic (one `random.Random(seed)`, no global
state): the same (n, seed) always gives the same items, and the first k items of a longer set
equal those of a shorter one with the same seed. Every answer is computed with integer
arithmetic from the numbers put into the question; divisions and percentages are set up so that
they come out whole.
"""

from __future__ import annotations

import random
from collections.abc import Callable

NAMES = [
    ("Ava", "she"), ("Ben", "he"), ("Chloe", "she"), ("Daniel", "he"), ("Emma", "she"),
    ("Farid", "he"), ("Grace", "she"), ("Hiro", "he"), ("Isla", "she"), ("Jonas", "he"),
    ("Keiko", "she"), ("Liam", "he"), ("Maya", "she"), ("Noah", "he"), ("Olga", "she"),
    ("Pablo", "he"), ("Priya", "she"), ("Samir", "he"), ("Tara", "she"), ("Victor", "he"),
]
GOODS = [  # (plural noun, lowest unit price, highest unit price) in whole dollars
    ("notebooks", 2, 6), ("apples", 1, 3), ("pens", 1, 4), ("sandwiches", 4, 9),
    ("movie tickets", 7, 14), ("T-shirts", 8, 20), ("cupcakes", 2, 5), ("paperback books", 5, 12),
    ("bottles of juice", 2, 4), ("bags of rice", 6, 15),
]
THINGS = ["marbles", "stickers", "cookies", "stamps", "seashells", "trading cards", "beads",
          "crayons", "coins", "photos"]
VEHICLES = [("car", 40, 90), ("bus", 30, 70), ("train", 60, 120), ("cyclist", 10, 25),
            ("truck", 40, 80), ("ferry", 15, 35)]
PERCENTS = [10, 20, 25, 30, 40, 50, 60, 75, 80, 5, 15]
MULTIPLIERS = [(2, "doubles"), (3, "triples"), (4, "quadruples")]


def _hours(h: int) -> str:
    return f"{h} hour" if h == 1 else f"{h} hours"


def _lcm_base(percent: int) -> int:
    """Smallest whole number N such that N * percent / 100 is whole."""
    from math import gcd
    return 100 // gcd(percent, 100)


def _shopping_change(r: random.Random) -> tuple[str, int]:
    name, pron = r.choice(NAMES)
    goods, lo, hi = r.choice(GOODS)
    q = r.randint(2, 6)
    price = r.randint(lo, hi)
    total = q * price
    bill = next(b for b in (10, 20, 50, 100, 200) if b > total)
    question = (f"{name} buys {q} {goods} that cost ${price} each and pays with a ${bill} bill. "
                f"How much change, in dollars, does {pron} get back?")
    return question, bill - total


def _shopping_total(r: random.Random) -> tuple[str, int]:
    name, _ = r.choice(NAMES)
    (g1, lo1, hi1), (g2, lo2, hi2) = r.sample(GOODS, 2)
    q1, q2 = r.randint(2, 8), r.randint(2, 8)
    p1, p2 = r.randint(lo1, hi1), r.randint(lo2, hi2)
    question = (f"At the market, {name} buys {q1} {g1} at ${p1} each and {q2} {g2} at ${p2} each. "
                f"How many dollars does {name} spend in total?")
    return question, q1 * p1 + q2 * p2


def _vehicle_speed(r: random.Random) -> tuple[str, int]:
    """A vehicle and a plausible speed for it, a multiple of 5 km/h."""
    vehicle, lo, hi = r.choice(VEHICLES)
    return vehicle, r.randint(lo // 5, hi // 5) * 5


def _travel_distance(r: random.Random) -> tuple[str, int]:
    vehicle, speed = _vehicle_speed(r)
    hours = r.randint(2, 7)
    question = (f"A {vehicle} travels at a steady {speed} kilometres per hour for {hours} hours. "
                f"How many kilometres does it travel?")
    return question, speed * hours


def _travel_time(r: random.Random) -> tuple[str, int]:
    vehicle, speed = _vehicle_speed(r)
    hours = r.randint(2, 9)
    question = (f"A {vehicle} covers {speed * hours} kilometres at a constant speed of {speed} "
                f"kilometres per hour. How many hours does the trip take?")
    return question, hours


def _travel_two_legs(r: random.Random) -> tuple[str, int]:
    name, pron = r.choice(NAMES)
    s1, s2 = r.randint(6, 18) * 5, r.randint(6, 18) * 5
    h1, h2 = r.randint(1, 4), r.randint(1, 4)
    question = (f"{name} drives for {_hours(h1)} at {s1} km per hour, then {pron} drives for "
                f"{h2} more {'hour' if h2 == 1 else 'hours'} at {s2} km per hour. "
                f"How many kilometres does {name} drive altogether?")
    return question, s1 * h1 + s2 * h2


def _sharing_equal(r: random.Random) -> tuple[str, int]:
    name, pron = r.choice(NAMES)
    things = r.choice(THINGS)
    friends = r.randint(2, 9)
    each = r.randint(3, 15)
    question = (f"{name} has {friends * each} {things} and shares them equally among {friends} "
                f"friends, keeping none. How many {things} does each friend get?")
    return question, each


def _sharing_leftover(r: random.Random) -> tuple[str, int]:
    things = r.choice(THINGS)
    per_box = r.randint(4, 12)
    boxes = r.randint(3, 12)
    left = r.randint(1, per_box - 1)
    total = per_box * boxes + left
    question = (f"There are {total} {things}. They are packed into boxes that each hold exactly "
                f"{per_box}. After filling as many full boxes as possible, how many {things} are "
                f"left over?")
    return question, total % per_box


def _percent_of(r: random.Random) -> tuple[str, int]:
    percent = r.choice(PERCENTS)
    base = _lcm_base(percent)
    total = base * r.randint(max(1, 20 // base), max(2, 600 // base))
    group = r.choice(["students in a school", "people at a concert", "trees in an orchard",
                      "books in a library", "seats in a stadium"])
    question = f"There are {total} {group}. {percent}% of them are new this year. How many is that?"
    return question, total * percent // 100


def _discount(r: random.Random) -> tuple[str, int]:
    goods = r.choice(["jacket", "bicycle", "lamp", "backpack", "pair of shoes", "tablet"])
    percent = r.choice(PERCENTS)
    base = _lcm_base(percent)
    price = base * r.randint(max(1, 20 // base), max(2, 400 // base))
    question = (f"A {goods} costs ${price}. During a sale its price is reduced by {percent}%. "
                f"What is the sale price in dollars?")
    return question, price * (100 - percent) // 100


def _multi_step(r: random.Random) -> tuple[str, int]:
    name, pron = r.choice(NAMES)
    things = r.choice(THINGS)
    a, b = r.randint(5, 40), r.randint(2, 30)
    c = r.randint(1, a + b - 1)
    mult, verb = r.choice(MULTIPLIERS)
    question = (f"{name} has {a} {things}. {pron.capitalize()} gets {b} more, then gives {c} to a "
                f"friend. After that, {pron} {verb} the number {pron} has left. How many {things} "
                f"does {name} have now?")
    return question, (a + b - c) * mult


def _savings(r: random.Random) -> tuple[str, int]:
    name, pron = r.choice(NAMES)
    weekly = r.randint(3, 25)
    weeks = r.randint(3, 12)
    spent = r.randint(1, weekly * weeks - 1)
    question = (f"{name} saves ${weekly} every week for {weeks} weeks. Then {pron} spends ${spent} "
                f"on a present. How many dollars does {name} have left?")
    return question, weekly * weeks - spent


def _rows_and_extra(r: random.Random) -> tuple[str, int]:
    rows, per_row = r.randint(3, 15), r.randint(4, 20)
    extra = r.randint(2, 30)
    removed = r.randint(1, 20)
    question = (f"A hall has {rows} rows of {per_row} chairs. The staff bring in {extra} extra "
                f"chairs and then take away {removed} broken ones. How many chairs are in the hall?")
    return question, rows * per_row + extra - removed


TEMPLATES: dict[str, Callable[[random.Random], tuple[str, int]]] = {
    "shopping_change": _shopping_change,
    "shopping_total": _shopping_total,
    "travel_distance": _travel_distance,
    "travel_time": _travel_time,
    "travel_two_legs": _travel_two_legs,
    "sharing_equal": _sharing_equal,
    "sharing_leftover": _sharing_leftover,
    "percent_of": _percent_of,
    "discount": _discount,
    "multi_step": _multi_step,
    "savings": _savings,
    "rows_and_extra": _rows_and_extra,
}


def make_arith_items(n: int, seed: int) -> list[dict]:
    """`n` distinct word problems: [{"question": str, "answer": int, "kind": template name}].

    Templates are drawn in shuffled rounds, so every kind appears about n/12 times.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    r = random.Random(seed)
    names = list(TEMPLATES)
    items: list[dict] = []
    seen: set[str] = set()
    order: list[str] = []
    while len(items) < n:
        if not order:
            order = names[:]
            r.shuffle(order)
        kind = order.pop()
        for _ in range(100):
            question, answer = TEMPLATES[kind](r)
            if question not in seen:
                break
        else:  # pragma: no cover - the templates have far more than 100 variants each
            raise RuntimeError(f"template {kind} keeps repeating itself")
        seen.add(question)
        items.append({"question": question, "answer": int(answer), "kind": kind})
    return items
