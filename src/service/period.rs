//! Periods in the company's time zone. "This month" is the company's month:
//! a visit at 23:30 on the 31st in Tokyo counts for that month even though it
//! is already the 1st in UTC. Periods are dates in the company's zone; the
//! queries compare stored UTC instants with the instants of the periods'
//! local midnights, which keeps DST shifts exact.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use entity::enums::PeriodKind;

use crate::error::{AppError, AppResult};

/// Parses an IANA time zone name (`Asia/Tokyo`, `UTC`…).
pub fn zone(name: &str) -> AppResult<Tz> {
    name.parse::<Tz>().map_err(|_| {
        AppError::bad(format!(
            "`{name}` is not a time zone; use an IANA name such as Asia/Tokyo"
        ))
    })
}

/// The zone a company's stored name stands for; UTC if the name is not one
/// (it is checked when set, so this only guards against hand-edited rows).
pub fn company_zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// Today's date in the zone.
pub fn today(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

/// The instant a local day starts. Where a DST change skips midnight, the
/// day starts at the first local time that exists.
pub fn midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let local = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    (0..=3)
        .find_map(|h| tz.from_local_datetime(&(local + Duration::hours(h))).earliest())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// A span of whole days `[start, end)` in the company's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// What kind of period it is.
    pub kind: PeriodKind,
    /// First day.
    pub start: NaiveDate,
    /// The day after the last one.
    pub end: NaiveDate,
}

impl Period {
    /// The `kind` period that starts on `start` (which must be its first day).
    pub fn starting(kind: PeriodKind, start: NaiveDate) -> AppResult<Self> {
        super::plan::check_period(kind, start)?;
        let end = match kind {
            PeriodKind::Day => start.checked_add_days(chrono::Days::new(1)),
            PeriodKind::Week => Some(start + Duration::days(7)),
            PeriodKind::Month => start.checked_add_months(Months::new(1)),
            PeriodKind::Quarter => start.checked_add_months(Months::new(3)),
            PeriodKind::Year => start.checked_add_months(Months::new(12)),
        }
        .ok_or_else(|| AppError::bad("the period is out of range"))?;
        Ok(Self { kind, start, end })
    }

    /// The `kind` period that contains `date`.
    pub fn containing(kind: PeriodKind, date: NaiveDate) -> Self {
        let first_of = |month: u32| NaiveDate::from_ymd_opt(date.year(), month, 1).unwrap_or(date);
        let start = match kind {
            PeriodKind::Day => date,
            PeriodKind::Week => date.week(Weekday::Mon).first_day(),
            PeriodKind::Month => first_of(date.month()),
            PeriodKind::Quarter => first_of((date.month() - 1) / 3 * 3 + 1),
            PeriodKind::Year => first_of(1),
        };
        Self::starting(kind, start).unwrap_or(Self {
            kind,
            start: date,
            end: date + Duration::days(1),
        })
    }

    /// The last day of the period.
    pub fn last_day(&self) -> NaiveDate {
        self.end - Duration::days(1)
    }

    /// Number of days in the period.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }

    /// Days of the period up to and including `today` (0 before it starts,
    /// all of them after it ends).
    pub fn days_elapsed(&self, today: NaiveDate) -> i64 {
        ((today - self.start).num_days() + 1).clamp(0, self.days())
    }

    /// The period cut into days or weeks (Monday to Sunday, the first and
    /// last cut at the period's edges so that the parts add up to the whole).
    pub fn split(&self, kind: PeriodKind) -> Vec<Period> {
        let mut out = Vec::new();
        let mut day = self.start;
        while day < self.end {
            let whole = Self::containing(kind, day);
            let part = Self {
                kind,
                start: day,
                end: whole.end.min(self.end),
            };
            day = part.end.max(day + Duration::days(1));
            out.push(part);
        }
        out
    }

    /// The UTC instants of the period's first midnight and of the midnight after it.
    pub fn bounds(&self, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
        (midnight(tz, self.start), midnight(tz, self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn months_and_weeks_in_a_zone() {
        let tokyo = zone("Asia/Tokyo").expect("zone");
        let november = Period::starting(PeriodKind::Month, date("2026-11-01")).expect("period");
        assert_eq!((november.days(), november.last_day()), (30, date("2026-11-30")));
        let (lo, hi) = november.bounds(tokyo);
        assert_eq!(lo.to_rfc3339(), "2026-10-31T15:00:00+00:00");
        assert_eq!(hi.to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert_eq!(november.days_elapsed(date("2026-11-24")), 24);
        assert_eq!(november.days_elapsed(date("2026-12-24")), 30);
        assert_eq!(november.days_elapsed(date("2026-10-24")), 0);
        assert!(Period::starting(PeriodKind::Month, date("2026-11-02")).is_err());
        let week = Period::containing(PeriodKind::Week, date("2026-11-26"));
        assert_eq!((week.start, week.end), (date("2026-11-23"), date("2026-11-30")));
        let quarter = Period::containing(PeriodKind::Quarter, date("2026-11-26"));
        assert_eq!((quarter.start, quarter.end), (date("2026-10-01"), date("2027-01-01")));
        assert!(zone("Mars/Olympus").is_err());
        // November 2026 starts on a Sunday: its weeks are cut at the month's edges.
        let weeks: Vec<(NaiveDate, i64)> = november
            .split(PeriodKind::Week)
            .iter()
            .map(|w| (w.start, w.days()))
            .collect();
        assert_eq!(
            weeks,
            [
                (date("2026-11-01"), 1),
                (date("2026-11-02"), 7),
                (date("2026-11-09"), 7),
                (date("2026-11-16"), 7),
                (date("2026-11-23"), 7),
                (date("2026-11-30"), 1)
            ]
        );
        assert_eq!(november.split(PeriodKind::Day).len(), 30);
    }

    #[test]
    fn dst_days_keep_their_length() {
        // New York leaves DST on 2026-11-01: that local day lasts 25 hours.
        let ny = zone("America/New_York").expect("zone");
        let day = midnight(ny, date("2026-11-02")) - midnight(ny, date("2026-11-01"));
        assert_eq!(day, Duration::hours(25));
    }
}
