"""Dates and times in UTC: parsing, arithmetic, formatting, a weekly schedule."""
from datetime import date, datetime, time, timedelta, timezone

utc = timezone.utc
start = datetime.strptime("2024-02-27 09:30", "%Y-%m-%d %H:%M").replace(tzinfo=utc)
print(start.isoformat(), start.strftime("%A %d %B %Y, %I:%M %p"))
for week in range(3):
    meeting = start + timedelta(weeks=week, days=2)
    print(meeting.strftime("%a %Y-%m-%d %H:%M %Z"), meeting.isocalendar()[1])
deadline = datetime(2024, 3, 15, 17, 0, tzinfo=utc)
left = deadline - start
print(left, left.days, left.total_seconds(), left // timedelta(hours=1))
print(date(2024, 2, 28) + timedelta(days=1), date(2023, 2, 28) + timedelta(days=1))
print(date.fromisoformat("2024-07-04").weekday(), date(2024, 1, 1).isoweekday())
print(datetime.fromisoformat("2024-05-06T07:08:09+02:00").astimezone(utc))
print(datetime.fromtimestamp(1_700_000_000, tz=utc))
print(datetime(2024, 1, 1, tzinfo=utc).timestamp())
print(time(14, 5, 9).strftime("%H:%M:%S"), time.fromisoformat("23:59:59.5"))
ist = timezone(timedelta(hours=5, minutes=30), "IST")
print(start.astimezone(ist), start.astimezone(ist).tzname())
print(sorted([date(2024, 5, 1), date(2023, 12, 31), date(2024, 1, 15)]))
print(datetime.strptime("31/12/99 23:59", "%d/%m/%y %H:%M"), datetime.strptime("Mar 5 2021", "%b %d %Y").date())
print(repr(timedelta(days=-1, seconds=5)), str(timedelta(microseconds=-1)))
print(max(date(2024, m, 1) for m in range(1, 13)).strftime("%j %U %w"))
