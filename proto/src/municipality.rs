use std::fmt;
use std::str::FromStr;

use crate::{IdError, PrefectureCode};

/// A municipality (市区町村) by its 6-digit 全国地方公共団体コード: a 5-digit JIS X 0402 code
/// followed by a check digit. The first two digits are the prefecture.
///
/// Construction verifies the format and the check digit only; whether the code is on the current
/// official list is [`crate::official::municipality`]'s question (the list changes with mergers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MunicipalityCode(u32);

impl MunicipalityCode {
    /// Returns the code as a number, e.g. 162019 (富山市).
    pub fn get(self) -> u32 {
        self.0
    }

    /// Builds a code from its number, verifying the check digit.
    pub fn from_number(n: u32) -> Result<Self, IdError> {
        if n > 999_999 {
            return Err(IdError::MunicipalityCodeFormat {
                value: n.to_string(),
            });
        }
        format!("{n:06}").parse()
    }

    /// Returns the prefecture the municipality lies in.
    pub fn prefecture(self) -> PrefectureCode {
        // The constructor checked that the first two digits are 01-47.
        PrefectureCode::new((self.0 / 10_000) as u8).expect("validated at construction")
    }

    /// Returns the check digit the five leading digits call for:
    /// `(11 - (6*d1 + 5*d2 + 4*d3 + 3*d4 + 2*d5) mod 11) mod 10`.
    pub fn check_digit(first_five: [u8; 5]) -> u8 {
        let sum: u32 = first_five
            .iter()
            .zip([6u32, 5, 4, 3, 2])
            .map(|(d, w)| u32::from(*d) * w)
            .sum();
        ((11 - sum % 11) % 10) as u8
    }
}

impl FromStr for MunicipalityCode {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 6 || !bytes.iter().all(u8::is_ascii_digit) {
            return Err(IdError::MunicipalityCodeFormat {
                value: s.to_owned(),
            });
        }
        let digits: Vec<u8> = bytes.iter().map(|b| b - b'0').collect();
        let expected = Self::check_digit([digits[0], digits[1], digits[2], digits[3], digits[4]]);
        if digits[5] != expected {
            return Err(IdError::MunicipalityCodeCheckDigit {
                value: s.to_owned(),
                expected,
            });
        }
        let prefecture = digits[0] * 10 + digits[1];
        if !(1..=47).contains(&prefecture) {
            return Err(IdError::PrefectureOutOfRange {
                value: s.to_owned(),
            });
        }
        let n = digits.iter().fold(0u32, |acc, d| acc * 10 + u32::from(*d));
        Ok(Self(n))
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

impl serde::Serialize for MunicipalityCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MunicipalityCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_toyama_city_and_derives_its_prefecture() {
        let code: MunicipalityCode = "162019".parse().unwrap();
        assert_eq!(code.get(), 162_019);
        assert_eq!(code.to_string(), "162019");
        assert_eq!(code.prefecture().to_string(), "16");
    }

    #[test]
    fn names_the_value_when_the_check_digit_is_wrong() {
        let err = "162018".parse::<MunicipalityCode>().unwrap_err();
        assert_eq!(
            err,
            IdError::MunicipalityCodeCheckDigit {
                value: "162018".into(),
                expected: 9
            }
        );
        assert!(err.to_string().contains("162018"));
    }

    #[test]
    fn refuses_malformed_codes() {
        for bad in ["", "16201", "1620190", "16201a", " 62019", "１６２０１９"] {
            let err = bad.parse::<MunicipalityCode>().unwrap_err();
            assert!(
                matches!(err, IdError::MunicipalityCodeFormat { .. }),
                "{bad}"
            );
        }
        // Check digit right, prefecture 00 wrong.
        assert_eq!(
            "000001".parse::<MunicipalityCode>().unwrap_err(),
            IdError::PrefectureOutOfRange {
                value: "000001".into()
            }
        );
    }

    #[test]
    fn every_official_code_passes() {
        for m in crate::official::municipalities() {
            let parsed: MunicipalityCode = m.code.to_string().parse().unwrap();
            assert_eq!(parsed, m.code);
        }
    }

    proptest! {
        #[test]
        fn exactly_one_check_digit_is_accepted(first_five in 1000u32..48000) {
            let valid: Vec<u8> = (0..10u8)
                .filter(|c| format!("{first_five:05}{c}").parse::<MunicipalityCode>().is_ok())
                .collect();
            let pref = first_five / 1000;
            if (1..=47).contains(&pref) {
                prop_assert_eq!(valid.len(), 1);
            } else {
                prop_assert!(valid.is_empty());
            }
        }
    }
}
