//! Compliance periods: one or more compliance years settled by one
//! obligation, with their own surrender deadlines (intermediate shares such
//! as 95% by 15 November, then the whole obligation). A rulebook's periods
//! are the year groups of its `[[deadlines.surrender]]` entries: every
//! deadline of a year names the same years (China 2019-2020 shares one
//! deadline, so it is one period; each EU year is a period of its own).

use crate::rulebook::{CalendarDate, Rulebook, SurrenderDeadline};
use ets_model::Timestamp;
use ets_time::CivilDate;

/// A compliance period of a rulebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompliancePeriod<'a> {
    /// Its compliance years, ascending (one obligation for all of them).
    pub years: Vec<u16>,
    /// Its surrender deadlines, earliest first; the last asks for the whole obligation.
    pub deadlines: Vec<&'a SurrenderDeadline>,
}

impl CompliancePeriod<'_> {
    /// Its first year.
    #[must_use]
    pub fn first_year(&self) -> u16 {
        self.years.first().copied().unwrap_or_default()
    }

    /// Its last year: the year whose close settles the period.
    #[must_use]
    pub fn last_year(&self) -> u16 {
        self.years.last().copied().unwrap_or_default()
    }

    /// `2019-2020`, or `2021` for a one-year period.
    #[must_use]
    pub fn label(&self) -> String {
        if self.first_year() == self.last_year() {
            self.first_year().to_string()
        } else {
            format!("{}-{}", self.first_year(), self.last_year())
        }
    }

    /// The deadlines before the last one (intermediate shares), earliest first.
    #[must_use]
    pub fn intermediate_deadlines(&self) -> &[&SurrenderDeadline] {
        self.deadlines
            .split_last()
            .map_or(&[], |(_, intermediate)| intermediate)
    }
}

impl Rulebook {
    /// The compliance period `year` belongs to; `None` when the rulebook does not govern it.
    #[must_use]
    pub fn period_of(&self, year: u16) -> Option<CompliancePeriod<'_>> {
        if !self.scheme.compliance_years.contains(&year) {
            return None;
        }
        let deadlines = self.surrender_deadlines_for(year);
        let years = deadlines
            .first()
            .map_or_else(|| vec![year], |first| first.compliance_years.clone());
        Some(CompliancePeriod { years, deadlines })
    }

    /// The instant a deadline of `date` passes: the end of that day in the scheme's civil
    /// time (the end of 31 December 2023 in Beijing time is 2023-12-31T16:00:00Z). Something
    /// done by the deadline is stamped strictly before it.
    #[must_use]
    pub fn deadline_passes_at(&self, date: CalendarDate) -> Timestamp {
        // Rulebook dates are read within the reader's year range, which CivilDate covers.
        match CivilDate::try_new(i32::from(date.year), date.month, date.day) {
            Ok(day) => self.scheme.time_zone.end_of_day(day),
            Err(_) => Timestamp(i64::MAX),
        }
    }

    /// Every compliance period of the rulebook, in order.
    #[must_use]
    pub fn periods(&self) -> Vec<CompliancePeriod<'_>> {
        let mut periods: Vec<CompliancePeriod<'_>> = Vec::new();
        for &year in &self.scheme.compliance_years {
            if periods
                .last()
                .is_some_and(|last| last.years.contains(&year))
            {
                continue;
            }
            periods.extend(self.period_of(year));
        }
        periods
    }
}

/// The first year whose deadlines do not all name the same years (a period must be one
/// group of years with one schedule), with the groups found.
pub(crate) fn inconsistent_period(surrender: &[SurrenderDeadline]) -> Option<(u16, String)> {
    surrender.iter().find_map(|deadline| {
        deadline.compliance_years.iter().find_map(|&year| {
            let other = surrender.iter().find(|other| {
                other.compliance_years.contains(&year)
                    && other.compliance_years != deadline.compliance_years
            })?;
            Some((
                year,
                format!(
                    "{:?} and {:?}",
                    deadline.compliance_years, other.compliance_years
                ),
            ))
        })
    })
}

#[cfg(test)]
mod tests {
    use crate::test_support::{CN_2021, cn_2019_2020, cn_2021, edit, eu_phase4, load};
    use ets_time::DayOffRule;

    #[test]
    fn china_2019_and_2020_are_one_period_with_one_deadline() {
        // Goal: both years map to the same two-year period, settled at the 2020 close.
        let rulebook = cn_2019_2020();
        let period = rulebook.period_of(2019).expect("2019 is governed");
        assert_eq!(period.years, vec![2019, 2020]);
        assert_eq!(period.label(), "2019-2020");
        assert_eq!(period.last_year(), 2020);
        assert_eq!(rulebook.period_of(2020), Some(period.clone()));
        assert_eq!(rulebook.periods(), vec![period.clone()]);
        assert!(period.intermediate_deadlines().is_empty());
        assert_eq!(rulebook.period_of(2021), None);
    }

    #[test]
    fn china_2021_has_an_intermediate_95_percent_deadline() {
        // Goal: the 2021 period's first deadline is the 95% share of 15 November 2023.
        let rulebook = cn_2021();
        let period = rulebook.period_of(2021).expect("2021 is governed");
        assert_eq!(period.label(), "2021");
        let intermediate = period.intermediate_deadlines();
        assert_eq!(intermediate.len(), 1);
        assert_eq!(intermediate[0].date.to_string(), "2023-11-15");
        assert_eq!(intermediate[0].cumulative_share.to_string(), "0.95");
    }

    #[test]
    fn a_china_deadline_passes_at_the_end_of_the_day_in_beijing_time() {
        // Goal: 31 December 2023 ends at 2024-01-01T00:00+08:00 = 2023-12-31T16:00:00Z.
        let rulebook = cn_2021();
        let last = rulebook.period_of(2021).expect("2021").deadlines[1].date;
        assert_eq!(
            rulebook.deadline_passes_at(last),
            ets_model::Timestamp(1_704_038_400_000)
        );
    }

    #[test]
    fn a_deadline_on_a_holiday_falls_where_the_rulebook_says() {
        // Goal: 31 December 2023 is a Sunday, and Monday 1 January 2024 a holiday:
        // as stated by default; the next business day is Tuesday 2 January 2024, the
        // previous one Friday 29 December; a weekday deadline (15 November) never moves.
        let due = |lines: &str| {
            let text = edit(CN_2021, "[deadlines]\n", &format!("[deadlines]\n{lines}\n"));
            let rulebook = load(&text, "cn-power-2021.toml");
            let period = rulebook.period_of(2021).expect("2021");
            let days: Vec<String> = period.deadlines.iter().map(|d| d.due.to_string()).collect();
            (days, period.deadlines[1].on_holiday)
        };
        assert_eq!(
            due(""),
            (
                vec!["2023-11-15".into(), "2023-12-31".into()],
                DayOffRule::AsStated
            )
        );
        assert_eq!(
            due("calendar = \"cn\"\non_holiday = \"next_business_day\""),
            (
                vec!["2023-11-15".into(), "2024-01-02".into()],
                DayOffRule::NextBusinessDay
            )
        );
        assert_eq!(
            due("calendar = \"cn\"\non_holiday = \"previous_business_day\"").0,
            vec!["2023-11-15".to_owned(), "2023-12-29".to_owned()]
        );
        // One deadline may name its own rule over the table's.
        let own = edit(
            CN_2021,
            "date = 2023-12-31                               # [S8]\n",
            "date = 2023-12-31\non_holiday = \"next_business_day\"\n",
        );
        let own = edit(&own, "[deadlines]\n", "[deadlines]\ncalendar = \"cn\"\n");
        let rulebook = load(&own, "cn-power-2021.toml");
        assert_eq!(
            rulebook.period_of(2021).expect("2021").deadlines[1]
                .due
                .to_string(),
            "2024-01-02"
        );
    }

    #[test]
    fn a_holiday_rule_needs_a_calendar_that_covers_the_deadline() {
        // Goal: a rule without a calendar, an unknown word and a date outside the
        // calendar's years are refused naming the key.
        let refuse = |text: &str| {
            crate::Rulebook::from_toml_str(text, "schemes/test.toml").expect_err("refused")
        };
        let no_calendar = edit(
            CN_2021,
            "[deadlines]\n",
            "[deadlines]\non_holiday = \"next_business_day\"\n",
        );
        let error = refuse(&no_calendar);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("deadlines.surrender"), "{error}");
        assert!(error.to_string().contains("on_holiday"), "{error}");
        let unknown = edit(
            CN_2021,
            "[deadlines]\n",
            "[deadlines]\ncalendar = \"mars\"\n",
        );
        assert_eq!(refuse(&unknown).code(), "rulebook_value_out_of_range");
        let uncovered = edit(CN_2021, "date = 2023-12-31   ", "date = 2040-12-31   ");
        let uncovered = edit(
            &uncovered,
            "[deadlines]\n",
            "[deadlines]\ncalendar = \"cn\"\non_holiday = \"next_business_day\"\n",
        );
        let error = refuse(&uncovered);
        assert_eq!(error.code(), "rulebook_invalid_value");
        assert!(error.to_string().contains("2040-12-31"), "{error}");
    }

    #[test]
    fn each_eu_year_is_a_period_of_its_own() {
        // Goal: one period per EU year.
        let rulebook = eu_phase4();
        let periods = rulebook.periods();
        assert_eq!(periods.len(), rulebook.scheme.compliance_years.len());
        assert!(periods.iter().all(|period| period.years.len() == 1));
    }
}
