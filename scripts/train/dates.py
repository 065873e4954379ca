"""Synthetic date-normalisation data: human-written dates -> ISO 'YYYY-MM-DD'.

Seeded and reproducible, no downloads. Weekday names always match the real date
(computed with Python's datetime). All-numeric dates are read day-first
("23/11/2026" is 23 November), except when the year comes first ("2026/11/23").

The calendar 1900-01-01 .. 2099-12-31 is split by *date*: a seeded 10% of the
days are held out, and the test sets use only those days, so a test example's
date never appears in training (in any format).

    python3 scripts/train/dates.py          # prints examples and length statistics
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Callable

SEED = 20261123
FIRST = dt.date(1900, 1, 1)
LAST = dt.date(2099, 12, 31)
HELD_OUT_FRACTION = 0.10  # test dates
VALID_FRACTION = 0.05  # validation dates (early stopping), disjoint from test and train
MAX_INPUT_CHARS = 64  # the longest training input (config.json trained_max_input)
MAX_STRESS_CHARS = 128  # the longest stress-test input (config.json max_input, the run-time limit)

MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
          'September', 'October', 'November', 'December']
MONTH_ABBR = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']
WEEKDAYS = ['Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday']
WEEKDAY_ABBR = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']
ORDINAL_WORDS = ['first', 'second', 'third', 'fourth', 'fifth', 'sixth', 'seventh', 'eighth', 'ninth',
                 'tenth', 'eleventh', 'twelfth', 'thirteenth', 'fourteenth', 'fifteenth', 'sixteenth',
                 'seventeenth', 'eighteenth', 'nineteenth', 'twentieth', 'twenty-first', 'twenty-second',
                 'twenty-third', 'twenty-fourth', 'twenty-fifth', 'twenty-sixth', 'twenty-seventh',
                 'twenty-eighth', 'twenty-ninth', 'thirtieth', 'thirty-first']


def iso(d: dt.date) -> str:
    return d.isoformat()


def ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        suf = 'th'
    else:
        suf = {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')
    return f'{n}{suf}'


# ---- pieces -------------------------------------------------------------------------------

def day_num(r: random.Random, d: dt.date) -> str:
    return f'{d.day:02d}' if r.random() < 0.3 else str(d.day)


def day_ord(r: random.Random, d: dt.date) -> str:
    return ordinal(d.day)


def day_any(r: random.Random, d: dt.date) -> str:
    return day_ord(r, d) if r.random() < 0.5 else day_num(r, d)


def month_name(r: random.Random, d: dt.date) -> str:
    x = r.random()
    if x < 0.55:
        return MONTHS[d.month - 1]
    if x < 0.95 or d.month != 9:
        return MONTH_ABBR[d.month - 1]
    return 'Sept'


def month_full(r: random.Random, d: dt.date) -> str:
    return MONTHS[d.month - 1]


def month_num(r: random.Random, d: dt.date) -> str:
    return f'{d.month:02d}' if r.random() < 0.6 else str(d.month)


def weekday(r: random.Random, d: dt.date) -> str:
    return WEEKDAYS[d.weekday()] if r.random() < 0.7 else WEEKDAY_ABBR[d.weekday()]


def year(r: random.Random, d: dt.date) -> str:
    return str(d.year)


P = {'D': day_num, 'Do': day_ord, 'Da': day_any, 'M': month_num, 'Mon': month_name, 'Month': month_full,
     'W': weekday, 'Y': year}

# Short and medium templates (the everyday formats).
TEMPLATES_SHORT = [
    '{D}/{M}/{Y}', '{D}.{M}.{Y}', '{D}-{M}-{Y}', '{Y}-{M}-{D}', '{Y}/{M}/{D}', '{Y}.{M}.{D}',
    '{D} {Mon} {Y}', '{Da} {Mon} {Y}', '{Mon} {Da}, {Y}', '{Mon} {Da} {Y}', '{D}-{Mon}-{Y}',
    '{Mon}. {D}, {Y}', '{Da} {Month}, {Y}', '{Month} {Da}, {Y}', '{Y} {Mon} {D}',
]
TEMPLATES_MEDIUM = [
    '{W} {D} {Mon} {Y}', '{W}, {Mon} {Da}, {Y}', '{W} {Da} {Month} {Y}', '{Do} of {Month} {Y}',
    'the {Do} of {Month} {Y}', '{Do} of {Mon}, {Y}', '{W}, {D}/{M}/{Y}', '{Month} the {Do}, {Y}',
    '{W} {Do} of {Month} {Y}', '{W}, {Do} of {Month}, {Y}', 'on {Mon} {Da}, {Y}', '{W}, {D}.{M}.{Y}',
]
# Long templates: weekday + ordinal + 'of' + extra words, to stress a fixed-size context.
TEMPLATES_LONG = [
    'on {W} the {Do} of {Month} {Y}', 'on the {Do} of {Month} in the year {Y}',
    'on {W}, the {Do} day of {Month}, {Y}', 'it was {W} the {Do} of {Month} {Y}',
    'the meeting is on {W} the {Do} of {Month} {Y}', 'due by {W}, {Month} the {Do}, {Y}',
    'on {W} the {ow} of {Month} in the year {Y}', 'the {ow} of {Month} {Y}',
    'born on the {ow} day of {Month} in {Y}', 'we met on {W}, {Da} {Month} {Y}, at noon',
    'deadline: {W} {Do} of {Month} {Y}', 'see you on {W} the {Do} of {Mon} {Y}',
]


# Dates inside sentences: phrases before and after the date (these also bring every letter a-z into
# the vocabulary). Training uses at most MAX_INPUT_CHARS characters; the stress test goes longer.
PREFIXES = [
    'please note that ', 'as we said on the phone, ', 'reminder for the whole team: ', 'the report says ',
    'I think it was ', 'remember: ', 'next week? no, ', 'join the zoom call on ', 'book the kick-off for ',
    'the quarterly review is on ', '(just checking) ', 'Re: invoice due ', 'signed and dated ',
    'our flight leaves ', 'we moved the jazz night to ',
]
SUFFIXES = [
    ' is the day of the meeting', ' at the main office', ', so please be on time', ' and not a day later',
    ' (see the minutes)', ' for the annual report', '!', '.', ' - thanks!', ', if that works for you?',
    ' at 10am sharp', '; bring your laptop', ' as agreed', ' - quick reminder', ' in room 42',
]


def in_context(r: random.Random, d: dt.date, min_len: int = 0, max_len: int = MAX_INPUT_CHARS) -> str | None:
    """A date (short or medium template) with phrases around it, between min_len and max_len characters."""
    core = render(r, d, r.choice(TEMPLATES_SHORT + TEMPLATES_MEDIUM))
    s = core
    pre = suf = 0
    target = max(min_len, len(core) + r.choice([1, 10, 20, 30, 40]))
    while len(s) < target:
        if r.random() < 0.5:
            s = r.choice(PREFIXES) + s
            pre += 1
        else:
            s = s + r.choice(SUFFIXES)
            suf += 1
    if pre and r.random() < 0.3:
        s = s[:1].upper() + s[1:]
    elif r.random() < 0.1:
        s = s.upper()
    return s if min_len <= len(s) <= max_len else None


def _case(r: random.Random, s: str) -> str:
    x = r.random()
    if x < 0.60:
        return s
    if x < 0.80:
        return s.lower()
    if x < 0.92:
        return s.upper()
    return s[:1].upper() + s[1:].lower()


def render(r: random.Random, d: dt.date, template: str) -> str:
    fields = {k: f(r, d) for k, f in P.items() if '{' + k + '}' in template}
    if '{ow}' in template:
        fields['ow'] = ORDINAL_WORDS[d.day - 1]
    return _case(r, template.format(**fields))


def pick_template(r: random.Random, long_weight: float = 0.25) -> str:
    x = r.random()
    if x < long_weight:
        return r.choice(TEMPLATES_LONG)
    if x < long_weight + (1 - long_weight) * 0.5:
        return r.choice(TEMPLATES_MEDIUM)
    return r.choice(TEMPLATES_SHORT)


# ---- splits -------------------------------------------------------------------------------

def all_dates() -> list[dt.date]:
    n = (LAST - FIRST).days + 1
    return [FIRST + dt.timedelta(days=i) for i in range(n)]


def split_dates3(seed: int = SEED) -> tuple[list[dt.date], list[dt.date], list[dt.date]]:
    """(train, validation, test) dates: disjoint, seeded."""
    days = all_dates()
    r = random.Random(seed)
    r.shuffle(days)
    k = int(len(days) * HELD_OUT_FRACTION)
    v = int(len(days) * VALID_FRACTION)
    return days[k + v:], days[k:k + v], days[:k]


def split_dates(seed: int = SEED) -> tuple[list[dt.date], list[dt.date]]:
    train, _, test = split_dates3(seed)
    return train, test  # train, held out


CONTEXT_WEIGHT = 0.15  # fraction of examples with the date inside a sentence


def make_examples(dates: list[dt.date], n: int, seed: int,
                  chooser: Callable[[random.Random], str] = pick_template) -> list[tuple[str, str]]:
    r = random.Random(seed)
    out: list[tuple[str, str]] = []
    while len(out) < n:
        d = r.choice(dates)
        if r.random() < CONTEXT_WEIGHT:
            s = in_context(r, d)
        else:
            s = render(r, d, chooser(r))
        if s is not None and len(s) <= MAX_INPUT_CHARS:
            out.append((s, iso(d)))
    return out


def train_set(n: int = 120_000) -> list[tuple[str, str]]:
    train, _ = split_dates()
    return make_examples(train, n, SEED + 1)


def valid_set(n: int = 1000) -> list[tuple[str, str]]:
    """Validation dates (used only to decide when to stop training)."""
    _, valid, _ = split_dates3()
    return make_examples(valid, n, SEED + 4)


def test_set(n: int = 2000) -> list[tuple[str, str]]:
    """Held-out dates, same format mix as training."""
    _, held = split_dates()
    return make_examples(held, n, SEED + 2)


LENGTH_BUCKETS = [(1, 12), (13, 20), (21, 30), (31, 40), (41, MAX_INPUT_CHARS)]


def bucket_of(n: int) -> str:
    for lo, hi in LENGTH_BUCKETS:
        if lo <= n <= hi:
            return f'{lo}-{hi}'
    raise ValueError(n)


def length_test_set(per_bucket: int = 300) -> dict[str, list[tuple[str, str]]]:
    """Held-out dates, every template family and dates inside sentences, grouped by input length (characters)."""
    _, held = split_dates()
    r = random.Random(SEED + 3)
    buckets: dict[str, list[tuple[str, str]]] = {f'{lo}-{hi}': [] for lo, hi in LENGTH_BUCKETS}
    templates = TEMPLATES_SHORT + TEMPLATES_MEDIUM + TEMPLATES_LONG
    guard = 0
    while any(len(v) < per_bucket for v in buckets.values()):
        guard += 1
        if guard > 2_000_000:
            raise RuntimeError('could not fill the length buckets')
        d = r.choice(held)
        s = in_context(r, d) if r.random() < CONTEXT_WEIGHT else render(r, d, r.choice(templates))
        if s is None or len(s) > MAX_INPUT_CHARS:
            continue
        b = buckets[bucket_of(len(s))]
        if len(b) < per_bucket:
            b.append((s, iso(d)))
    return buckets


STRESS_BUCKETS = [(20, 40), (41, 64), (65, 96), (97, MAX_STRESS_CHARS)]


def stress_test_set(per_bucket: int = 300) -> dict[str, list[tuple[str, str]]]:
    """Held-out dates inside sentences, padded with more and more phrases, grouped by length.
    Inputs over 64 characters are longer than anything seen in training: there the decoder must
    find the date among many distracting characters, which is what a fixed-size context struggles with."""
    _, held = split_dates()
    out: dict[str, list[tuple[str, str]]] = {}
    for lo, hi in STRESS_BUCKETS:
        r = random.Random(SEED + 5 + lo)
        b: list[tuple[str, str]] = []
        while len(b) < per_bucket:
            d = r.choice(held)
            s = in_context(r, d, r.randint(lo, hi), hi)
            if s is not None and len(s) >= lo:
                b.append((s, iso(d)))
        out[f'{lo}-{hi}'] = b
    return out


def check_weekdays(examples: list[tuple[str, str]]) -> None:
    """Every weekday name in an example must be the real weekday of its date."""
    for s, target in examples:
        d = dt.date.fromisoformat(target)
        low = s.lower()
        for i, (w, a) in enumerate(zip(WEEKDAYS, WEEKDAY_ABBR)):
            if w.lower() in low or (a.lower() + ' ') in low or (a.lower() + ',') in low:
                # abbreviations like 'mon' also occur inside 'month'; only flag whole words
                words = [t.strip(',.:') for t in low.split()]
                if (w.lower() in words or a.lower() in words) and i != d.weekday():
                    raise AssertionError(f'weekday mismatch: {s!r} -> {target}')


if __name__ == '__main__':
    tr = train_set(20000)
    te = test_set(2000)
    check_weekdays(tr)
    check_weekdays(te)
    train_dates = {t for _, t in train_set()}
    assert not (train_dates & {t for _, t in te}), 'held-out dates leak into training'
    assert not (train_dates & {t for _, t in valid_set()}), 'validation dates leak into training'
    assert not ({t for _, t in valid_set()} & {t for _, t in te}), 'validation dates overlap test dates'
    for s, t in tr[:25]:
        print(f'{s!r:55} -> {t}')
    lens = [len(s) for s, _ in tr]
    print('train lengths: min', min(lens), 'max', max(lens), 'mean', sum(lens) / len(lens))
    for k, v in length_test_set().items():
        print(k, len(v), v[0])
    for k, v in stress_test_set().items():
        print('stress', k, len(v), v[0])
    chars = sorted({c for s, _ in train_set() for c in s})
    print(len(chars), ''.join(chars))
