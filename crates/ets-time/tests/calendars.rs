//! The embedded calendars against the notices they transcribe, and the
//! questions a market and a rulebook ask of them.

use ets_model::Timestamp;
use ets_time::{CivilDate, DayOffRule, Deadline, HolidayCalendar, MS_PER_DAY, TimeZone, Weekday};

fn date(text: &str) -> CivilDate {
    text.parse().expect("a valid date")
}

fn china() -> HolidayCalendar {
    HolidayCalendar::china().expect("the embedded China calendar parses")
}

fn eex() -> HolidayCalendar {
    HolidayCalendar::eu_eex().expect("the embedded EEX calendar parses")
}

/// Beijing time `HH:MM:SS` on `day` as an instant.
fn beijing(day: &str, hours: i64, minutes: i64, seconds: i64) -> Timestamp {
    let start = TimeZone::BEIJING.start_of_day(date(day));
    Timestamp(start.0 + ((hours * 60 + minutes) * 60 + seconds) * 1_000)
}

#[test]
fn a_make_up_working_day_is_a_business_day_but_not_a_trading_day_in_china() {
    let calendar = china();
    // Saturday 9 October 2021 was worked in exchange for National Day.
    let saturday = date("2021-10-09");
    assert_eq!(saturday.weekday(), Weekday::Saturday);
    assert_eq!(calendar.is_makeup_working_day(saturday), Ok(true));
    assert_eq!(calendar.is_business_day(saturday), Ok(true));
    assert_eq!(calendar.is_trading_day(saturday), Ok(false));
    // Its market is closed all day, sessions or not.
    assert_eq!(
        calendar.is_open("listed", beijing("2021-10-09", 10, 0, 0)),
        Ok(false)
    );
    // The following Monday trades at 10:00 but not at 12:00 (lunch break).
    assert_eq!(
        calendar.is_open("listed", beijing("2021-10-11", 10, 0, 0)),
        Ok(true)
    );
    assert_eq!(
        calendar.is_open("listed", beijing("2021-10-11", 12, 0, 0)),
        Ok(false)
    );
    assert_eq!(
        calendar.is_open("block", beijing("2021-10-11", 10, 0, 0)),
        Ok(false)
    );
}

#[test]
fn national_day_week_is_neither_business_nor_trading_days() {
    let calendar = china();
    for day in 1..=7 {
        let holiday = CivilDate::try_new(2021, 10, day).expect("date");
        assert_eq!(calendar.holiday(holiday), Ok(Some("National Day")));
        assert_eq!(calendar.is_business_day(holiday), Ok(false));
        assert_eq!(calendar.is_trading_day(holiday), Ok(false));
    }
    let closures = calendar
        .weekday_closures(date("2021-09-27"), date("2021-10-10"))
        .expect("covered");
    let closed: Vec<String> = closures.iter().map(ToString::to_string).collect();
    assert_eq!(
        closed,
        [
            "2021-10-01",
            "2021-10-04",
            "2021-10-05",
            "2021-10-06",
            "2021-10-07"
        ]
    );
}

#[test]
fn every_china_year_has_its_seven_festivals_and_make_up_days_on_weekends() {
    let calendar = china();
    // 2027-2031 are assumed (calendars/cn.toml): their festivals are there too.
    for year in 2019..=2031 {
        let mut names = std::collections::BTreeSet::new();
        let first = CivilDate::try_new(year, 1, 1).expect("date");
        for offset in 0..365 {
            let day = first.add_days(offset).expect("date");
            if let Some(name) = calendar.holiday(day).expect("covered") {
                names.insert(name.to_owned());
            }
        }
        let joined = names.into_iter().collect::<Vec<_>>().join(",");
        for festival in [
            "New Year",
            "Spring Festival",
            "Qingming",
            "Labour Day",
            "Dragon Boat",
            "Mid-Autumn",
            "National Day",
        ] {
            assert!(
                joined.contains(festival),
                "{year}: {festival} missing from {joined}"
            );
        }
    }
}

#[test]
fn the_2020_spring_festival_extension_is_in_the_calendar() {
    let calendar = china();
    // Extended to Sunday 2 February; Saturday 1 February was no longer worked.
    assert_eq!(calendar.is_business_day(date("2020-01-31")), Ok(false));
    assert_eq!(
        calendar.is_makeup_working_day(date("2020-02-01")),
        Ok(false)
    );
    assert_eq!(calendar.is_trading_day(date("2020-02-03")), Ok(true));
}

#[test]
fn eex_closes_on_good_friday_and_easter_monday_of_every_year() {
    let calendar = eex();
    for year in 2019..=2026 {
        let easter = gregorian_easter(year);
        let good_friday = easter.add_days(-2).expect("date");
        let easter_monday = easter.add_days(1).expect("date");
        assert_eq!(
            calendar.holiday(good_friday),
            Ok(Some("Good Friday")),
            "{year}"
        );
        assert_eq!(
            calendar.holiday(easter_monday),
            Ok(Some("Easter Monday")),
            "{year}"
        );
        assert_eq!(calendar.is_trading_day(easter_monday), Ok(false));
    }
}

#[test]
fn eex_sessions_follow_summer_time() {
    let calendar = eex();
    let zone = TimeZone::CentralEuropean;
    // 08:00 local on a summer Monday is 06:00 UTC, and open; 07:59 is not.
    let opens = zone.instant_of(date("2024-07-01"), 8 * 60);
    assert_eq!(opens.0 % MS_PER_DAY, 6 * 3_600_000);
    assert_eq!(calendar.is_open("continuous", opens), Ok(true));
    assert_eq!(
        calendar.is_open("continuous", Timestamp(opens.0 - 60_000)),
        Ok(false)
    );
    assert_eq!(calendar.is_open("auction", opens), Ok(false));
    let error = calendar
        .is_open("night", opens)
        .expect_err("no such sessions");
    assert_eq!(error.code(), "bad_calendar");
}

#[test]
fn a_deadline_ends_at_midnight_beijing_time_not_utc() {
    let calendar = china();
    // China's 2021 surrender deadline: 31 December 2023, a Sunday.
    let deadline = Deadline {
        date: date("2023-12-31"),
        day_off: DayOffRule::AsStated,
    };
    assert_eq!(
        deadline.is_met_at(beijing("2023-12-31", 23, 59, 59), &calendar),
        Ok(true)
    );
    assert_eq!(
        deadline.is_met_at(beijing("2024-01-01", 0, 0, 1), &calendar),
        Ok(false)
    );
    // 00:00:01 Beijing time on 1 January is still 31 December in UTC: a UTC-date
    // comparison would have accepted it.
    let utc = TimeZone::UTC
        .local(beijing("2024-01-01", 0, 0, 1))
        .expect("in range");
    assert_eq!(utc.date, date("2023-12-31"));
}

#[test]
fn a_deadline_on_a_holiday_is_treated_as_the_rule_says() {
    let calendar = china();
    // 1 October 2021 is National Day.
    let stated = date("2021-10-01");
    let as_stated = Deadline {
        date: stated,
        day_off: DayOffRule::AsStated,
    };
    let next = Deadline {
        date: stated,
        day_off: DayOffRule::NextBusinessDay,
    };
    let previous = Deadline {
        date: stated,
        day_off: DayOffRule::PreviousBusinessDay,
    };
    assert_eq!(as_stated.effective_date(&calendar), Ok(stated));
    assert_eq!(next.effective_date(&calendar), Ok(date("2021-10-08")));
    assert_eq!(previous.effective_date(&calendar), Ok(date("2021-09-30")));
    // Saturday 9 October was a make-up working day: a deadline on it stands.
    let makeup = Deadline {
        date: date("2021-10-09"),
        day_off: DayOffRule::NextBusinessDay,
    };
    assert_eq!(makeup.effective_date(&calendar), Ok(date("2021-10-09")));
    assert_eq!(
        next.passes_at(&calendar),
        Ok(TimeZone::BEIJING.end_of_day(date("2021-10-08")))
    );
}

#[test]
fn a_question_outside_the_calendars_years_is_an_error_with_a_code() {
    let calendar = china();
    let error = calendar
        .is_business_day(date("2032-01-02"))
        .expect_err("not covered");
    assert_eq!(error.code(), "date_not_covered_by_calendar");
    assert!(error.to_string().contains("2032-01-02"), "{error}");
    let deadline = Deadline {
        date: date("2032-01-01"),
        day_off: DayOffRule::NextBusinessDay,
    };
    assert!(deadline.passes_at(&calendar).is_err());
}

#[test]
fn a_broken_calendar_file_names_what_is_wrong() {
    let base = "name = \"t\"\ntime_zone = \"UTC+08:00\"\nfirst_year = 2020\nlast_year = 2020\nmakeup_days_are_trading_days = false\n";
    let cases = [
        (
            "[[holiday]]\nname = \"x\"\nfrom = \"2020-02-30\"\nto = \"2020-03-01\"\n",
            "2020-02-30",
        ),
        (
            "[[holiday]]\nname = \"x\"\nfrom = \"2021-01-01\"\nto = \"2021-01-01\"\n",
            "outside the covered years",
        ),
        (
            "[[holiday]]\nname = \"x\"\nfrom = \"2020-05-05\"\nto = \"2020-05-01\"\n",
            "before it starts",
        ),
        (
            "[[working_day]]\ndate = \"2020-05-06\"\nfor = \"x\"\n",
            "already a working day",
        ),
        (
            "[sessions]\nlisted = [[\"11:30\", \"09:30\"]]\n",
            "sessions.listed",
        ),
        ("colour = \"red\"\n", "colour"),
    ];
    for (extra, expected) in cases {
        let error =
            HolidayCalendar::from_toml("test.toml", &format!("{base}{extra}")).expect_err(expected);
        assert_eq!(error.code(), "bad_calendar");
        let message = error.to_string();
        assert!(
            message.contains("test.toml") && message.contains(expected),
            "{message}"
        );
    }
}

/// Easter Sunday by the anonymous Gregorian algorithm (Meeus/Jones/Butcher),
/// to check the calendar file's transcription.
fn gregorian_easter(year: i32) -> CivilDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    CivilDate::try_new(
        year,
        u8::try_from(month).expect("month"),
        u8::try_from(day).expect("day"),
    )
    .expect("Easter")
}
