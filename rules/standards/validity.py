"""Data validity: how much data a value needs before it counts.

GB 3095-2012 §8 (table 4, minimum requirements for the validity of concentration data): an
hourly value needs at least 45 minutes of sampling in the hour; a 24 h mean at least 20 hourly
values; an 8 h mean at least 6 hourly values. HJ 663-2013 asks the same of PM2.5 and PM10 hourly
values and, for O3's daily maximum 8 h mean, at least 14 valid 8 h means in the day; with fewer,
a maximum above the limit still counts (the exceedance is certain).

For noise, GB 3096-2008 (annex C) and HJ 640-2012 ask for continuous monitoring of a
functional zone's day and night without a coverage number: envalert counts an hourly Leq with
the same 45 minutes and a night with at least 6 of its 8 hours (the same three quarters).
"""

from __future__ import annotations

from datetime import timedelta

HOUR_COVERAGE = timedelta(minutes=45)
HOURS_FOR_A_DAY = 20
HOURS_FOR_8H = 6
EIGHT_HOUR_MEANS_FOR_A_DAY = 14
#: envalert's choice where GB 3096-2008 and HJ 640-2012 give no number (see above).
HOURS_FOR_A_NIGHT = 6
