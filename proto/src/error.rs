use thiserror::Error;

/// Why a value could not become one of the validated identifiers. Every variant names the
/// offending value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// Not exactly six ASCII digits.
    #[error("municipality code {value:?} must be 6 digits")]
    MunicipalityCodeFormat { value: String },
    /// Six digits, but the sixth is not the check digit of the first five.
    #[error("municipality code {value:?} has a wrong check digit (expected {expected})")]
    MunicipalityCodeCheckDigit { value: String, expected: u8 },
    /// The first two digits are not a prefecture (01–47).
    #[error("code {value:?} does not start with a prefecture code 01-47")]
    PrefectureOutOfRange { value: String },
    /// Not a two-digit prefecture code 01–47.
    #[error("prefecture code {value:?} must be two digits 01-47")]
    PrefectureCodeFormat { value: String },
    /// A fiscal year outside the supported range.
    #[error("fiscal year {value} is outside {min}..={max}")]
    FiscalYearOutOfRange { value: i64, min: u16, max: u16 },
    /// A text that is not a fiscal year.
    #[error("fiscal year {value:?} is not a year such as 2024 or FY2024")]
    FiscalYearFormat { value: String },
}
