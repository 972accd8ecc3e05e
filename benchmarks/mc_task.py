"""A 100-item multiple-choice task made here (no download), for comparisons with the harness.

Choices carry their own leading space where they have one and the task's delimiter is "",
so some choices start mid-word: "I like apple" + "s and pears." — their first token merges
with the context's last, which is where splitting a pair the harness's way matters. (None
merges whole into the context: the harness stops on a continuation with no tokens.) Some
contexts end in a space (moved to the continuation), some are long, one is empty.

    items = make_items()    # [(context, [4 choices], gold index)], the same on every run
"""

from __future__ import annotations

import random

FRUITS = ["apple", "pear", "plum", "grape", "peach", "lemon", "cherry", "melon", "mango"]
NOUNS = ["box", "city", "wolf", "child", "mouse", "leaf", "hero", "bus", "day", "man"]
CAPITALS = {"France": "Paris", "Germany": "Berlin", "Japan": "Tokyo", "Italy": "Rome",
            "Spain": "Madrid", "Egypt": "Cairo", "Kenya": "Nairobi", "Peru": "Lima",
            "Canada": "Ottawa", "Norway": "Oslo", "Greece": "Athens", "Chile": "Santiago"}
WORDS = ["run", "jump", "walk", "talk", "sing", "play", "read", "cook", "swim", "paint"]

Item = tuple[str, list[str], int]


def _merge(r: random.Random) -> Item:
    """No delimiter: the choice continues the context's last word."""
    a, b, c = r.sample(FRUITS, 3)
    choices = [f"s and {b}s.", f"s and {c}s.", " pie.", "s, but not " + b + "s."]
    return f"I like {a}", choices, r.randrange(4)


def _suffix(r: random.Random) -> Item:
    word = r.choice(WORDS)
    choices = ["ing in the park.", "ed in the park.", "s in the park.", "er in the park."]
    return f"Yesterday I was {word}", choices, 0


def _capital(r: random.Random) -> Item:
    country = r.choice(list(CAPITALS))
    others = r.sample([c for k, c in CAPITALS.items() if k != country], 3)
    choices = [f" {c}" for c in [CAPITALS[country], *others]]
    gold = r.randrange(4)
    choices[0], choices[gold] = choices[gold], choices[0]
    return f"Question: What is the capital of {country}?\nAnswer:", choices, gold


def _trailing_space(r: random.Random) -> Item:
    x, y = r.randrange(2, 30), r.randrange(2, 30)
    answers = [x + y, x + y + 1, x * y, abs(x - y) + 2]
    return f"Compute {x} + {y}.\nThe result is ", [str(a) for a in answers], 0


def _plural(r: random.Random) -> Item:
    noun = r.choice(NOUNS)
    return (f"The plural of {noun} is {noun}",
            ["es, as in two.", "s, as in two.", "en, as in two.", "ies, as in two."], 1)


def _long(r: random.Random) -> Item:
    story = " ".join(r.choice(["The", "old", "ship", "sailed", "across", "the", "quiet", "bay",
                               "while", "gulls", "circled", "above", "its", "mast."])
                     for _ in range(60))
    return story + "\nIn one word, the story is about", [" a ship", " the sea", " birds",
                                                        " a storm"], 0


MAKERS = [_merge, _suffix, _capital, _trailing_space, _plural, _merge, _capital, _plural,
          _trailing_space, _long]


def make_items(n: int = 100, seed: int = 20) -> list[Item]:
    r = random.Random(seed)
    items = [MAKERS[i % len(MAKERS)](r) for i in range(n - 1)]
    items.append(("", [" The cat sat.", " Cat the sat.", " Sat cat the.", " The sat cat."], 0))
    return items
