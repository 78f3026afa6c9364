use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};

use crate::IdError;

/// A Japanese fiscal year (年度): April 1 to March 31, named by the Gregorian year it starts in
/// (FY2015 = 2015-04-01 ..= 2016-03-31 = 平成27年度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FiscalYear(u16);

/// A Japanese era (元号) as used in fiscal-year labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 平成: fiscal years 1989–2018.
    Heisei,
    /// 令和: fiscal years from 2019.
    Reiwa,
}

impl Era {
    /// Returns the era's name in Japanese.
    pub fn name(self) -> &'static str {
        match self {
            Era::Heisei => "平成",
            Era::Reiwa => "令和",
        }
    }
}

impl FiscalYear {
    /// The first supported fiscal year (平成元年度).
    pub const MIN: u16 = 1989;
    /// The last supported fiscal year.
    pub const MAX: u16 = 2199;

    /// Returns the fiscal year starting in April of `year`.
    pub fn new(year: i64) -> Result<Self, IdError> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&year) {
            Ok(Self(year as u16))
        } else {
            Err(IdError::FiscalYearOutOfRange {
                value: year,
                min: Self::MIN,
                max: Self::MAX,
            })
        }
    }

    /// Returns the fiscal year a (JST business) date falls in.
    pub fn containing(date: NaiveDate) -> Result<Self, IdError> {
        let start_year = if date.month() >= 4 {
            date.year()
        } else {
            date.year() - 1
        };
        Self::new(i64::from(start_year))
    }

    /// Returns the Gregorian year it starts in.
    pub fn year(self) -> u16 {
        self.0
    }

    /// Returns the fiscal year before it, if the system knows it.
    pub fn previous(self) -> Option<Self> {
        Self::new(i64::from(self.0) - 1).ok()
    }

    /// Returns April 1, its first day.
    pub fn first_day(self) -> NaiveDate {
        // April 1 exists in every year of the supported range.
        NaiveDate::from_ymd_opt(i32::from(self.0), 4, 1).expect("April 1 exists")
    }

    /// Returns March 31 of the following year, its last day.
    pub fn last_day(self) -> NaiveDate {
        // March 31 exists in every year of the supported range.
        NaiveDate::from_ymd_opt(i32::from(self.0) + 1, 3, 31).expect("March 31 exists")
    }

    /// Returns whether `date` lies within the fiscal year.
    pub fn contains(self, date: NaiveDate) -> bool {
        (self.first_day()..=self.last_day()).contains(&date)
    }

    /// Returns the era and the year within it (1 = 元年).
    pub fn era_year(self) -> (Era, u16) {
        if self.0 >= 2019 {
            (Era::Reiwa, self.0 - 2018)
        } else {
            (Era::Heisei, self.0 - 1988)
        }
    }

    /// Returns the 和暦 label, e.g. 平成27年度, 令和元年度, 令和6年度.
    pub fn wareki(self) -> String {
        let (era, n) = self.era_year();
        if n == 1 {
            format!("{}元年度", era.name())
        } else {
            format!("{}{}年度", era.name(), n)
        }
    }
}

impl FromStr for FiscalYear {
    type Err = IdError;

    /// Parses "2024" or "FY2024".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("FY").unwrap_or(s);
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::FiscalYearFormat {
                value: s.to_owned(),
            });
        }
        let year: i64 = digits.parse().map_err(|_| IdError::FiscalYearFormat {
            value: s.to_owned(),
        })?;
        Self::new(year)
    }
}

impl fmt::Display for FiscalYear {
    /// Shows "FY2024".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FY{}", self.0)
    }
}

impl serde::Serialize for FiscalYear {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for FiscalYear {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let year = i64::deserialize(d)?;
        Self::new(year).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wareki_labels() {
        let label = |y| FiscalYear::new(y).unwrap().wareki();
        assert_eq!(label(1989), "平成元年度");
        assert_eq!(label(2015), "平成27年度");
        assert_eq!(label(2018), "平成30年度");
        assert_eq!(label(2019), "令和元年度");
        assert_eq!(label(2020), "令和2年度");
        assert_eq!(label(2024), "令和6年度");
    }

    #[test]
    fn runs_april_to_march() {
        let fy = FiscalYear::new(2015).unwrap();
        assert_eq!(fy.first_day(), NaiveDate::from_ymd_opt(2015, 4, 1).unwrap());
        assert_eq!(fy.last_day(), NaiveDate::from_ymd_opt(2016, 3, 31).unwrap());
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(FiscalYear::containing(d(2016, 3, 31)).unwrap(), fy);
        assert_eq!(FiscalYear::containing(d(2015, 4, 1)).unwrap(), fy);
        assert_eq!(FiscalYear::containing(d(2015, 3, 31)).unwrap().year(), 2014);
        assert!(fy.contains(d(2015, 8, 1)));
        assert!(!fy.contains(d(2016, 4, 1)));
    }

    #[test]
    fn parses_and_refuses() {
        assert_eq!("FY2024".parse::<FiscalYear>().unwrap().year(), 2024);
        assert_eq!("2024".parse::<FiscalYear>().unwrap().to_string(), "FY2024");
        assert!(matches!(
            "1988".parse::<FiscalYear>(),
            Err(IdError::FiscalYearOutOfRange { value: 1988, .. })
        ));
        assert!(matches!(
            "R6".parse::<FiscalYear>(),
            Err(IdError::FiscalYearFormat { .. })
        ));
    }
}
