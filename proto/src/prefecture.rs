use std::fmt;
use std::str::FromStr;

use crate::IdError;

/// A prefecture (都道府県) by its two-digit code, 01 (北海道) to 47 (沖縄県).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PrefectureCode(u8);

impl PrefectureCode {
    /// Returns the prefecture with this number, if it is 1–47.
    pub fn new(number: u8) -> Result<Self, IdError> {
        if (1..=47).contains(&number) {
            Ok(Self(number))
        } else {
            Err(IdError::PrefectureCodeFormat {
                value: number.to_string(),
            })
        }
    }

    /// Returns the number 1–47.
    pub fn get(self) -> u8 {
        self.0
    }

    /// Returns the prefecture's name, e.g. 富山県.
    pub fn name(self) -> &'static str {
        crate::official::prefecture_name(self)
    }
}

impl FromStr for PrefectureCode {
    type Err = IdError;

    /// Parses exactly two digits, "01" to "47".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || IdError::PrefectureCodeFormat {
            value: s.to_owned(),
        };
        if s.len() != 2 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let n: u8 = s.parse().map_err(|_| err())?;
        Self::new(n).map_err(|_| err())
    }
}

impl fmt::Display for PrefectureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}

impl serde::Serialize for PrefectureCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for PrefectureCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_two_digits_in_range() {
        assert_eq!("16".parse::<PrefectureCode>().unwrap().get(), 16);
        assert_eq!("16".parse::<PrefectureCode>().unwrap().name(), "富山県");
        for bad in ["0", "00", "48", "1a", "016", ""] {
            assert!(bad.parse::<PrefectureCode>().is_err(), "{bad}");
        }
    }
}
