"""Data validity: how much data a value needs before it counts.

GB 3095-2012 chapter 6 (table 4, the minimum data for a valid concentration): an
hourly value needs at least 45 minutes of sampling in the hour; a 24 h mean at least 20 hourly
values; an 8 h mean at least 6 hourly values; an annual mean 324 daily values in the year and
27 in each month (25 in February). HJ 663-2013 asks the same of PM2.5 and PM10 hourly
values and, for O3's daily maximum 8 h mean, at least 14 valid 8 h means in the day; with fewer,
a maximum above the limit still counts (the exceedance is certain).

For noise, GB 3096-2008 (annex C) and HJ 640-2012 ask for continuous monitoring of a
functional zone's day and night without a coverage number: envalert counts an hourly Leq with
the same 45 minutes and a night with at least 6 of its 8 hours (the same three quarters).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from datetime import date, timedelta

HOUR_COVERAGE = timedelta(minutes=45)
HOURS_FOR_A_DAY = 20
HOURS_FOR_8H = 6
EIGHT_HOUR_MEANS_FOR_A_DAY = 14
#: envalert's choice where GB 3096-2008 and HJ 640-2012 give no number (see above).
HOURS_FOR_A_NIGHT = 6
DAYS_FOR_A_MONTH = 27
DAYS_FOR_FEBRUARY = 25
DAYS_FOR_A_YEAR = 324


def year_so_far_is_valid(days_by_month: Mapping[int, int], today: date, since: date) -> bool:
    """Whether a year-to-date value made of daily values can stand for the year so far, as GB
    3095-2012 §6 asks of an annual mean: each month gone by since ``since`` (the first day judged
    this year: months before envalert watched are not held against it) with its 27 daily values
    (25 in February), today's month too on its last day, and on 31 December a year watched from
    1 January with 324."""
    last_day = calendar.monthrange(today.year, today.month)[1]
    over = range(since.month, today.month + (1 if today.day == last_day else 0))
    for month in over:
        if days_by_month.get(month, 0) < (DAYS_FOR_FEBRUARY if month == 2 else DAYS_FOR_A_MONTH):
            return False
    whole_year = since == date(today.year, 1, 1) and (today.month, today.day) == (12, 31)
    return not whole_year or sum(days_by_month.values()) >= DAYS_FOR_A_YEAR
