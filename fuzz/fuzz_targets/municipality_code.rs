//! Arbitrary text and numbers into `MunicipalityCode`: parsing and `from_number` agree with an
//! independent reading of the rules (6 ASCII digits, check digit, prefecture 01-47), and every
//! code that is accepted round-trips and names a valid prefecture.

#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_proto::{IdError, MunicipalityCode, PrefectureCode, official};

/// The rules written out again, independently of the crate.
fn reference_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(|c| c.is_ascii_digit()) {
        return false;
    }
    let d: Vec<u32> = b.iter().map(|c| u32::from(c - b'0')).collect();
    let sum = 6 * d[0] + 5 * d[1] + 4 * d[2] + 3 * d[3] + 2 * d[4];
    let check = (11 - sum % 11) % 10;
    let pref = d[0] * 10 + d[1];
    d[5] == check && (1..=47).contains(&pref)
}

fn check_accepted(code: MunicipalityCode) {
    let text = code.to_string();
    assert_eq!(text.len(), 6);
    assert!(code.get() <= 999_999);
    assert_eq!(text.parse::<MunicipalityCode>(), Ok(code));
    assert_eq!(MunicipalityCode::from_number(code.get()), Ok(code));

    let digits: Vec<u8> = text.bytes().map(|c| c - b'0').collect();
    assert_eq!(
        MunicipalityCode::check_digit([digits[0], digits[1], digits[2], digits[3], digits[4]]),
        digits[5]
    );

    let pref = code.prefecture();
    assert!((1..=47).contains(&pref.get()));
    assert_eq!(pref.to_string(), text[..2]);
    assert_eq!(text[..2].parse::<PrefectureCode>(), Ok(pref));
    assert_eq!(PrefectureCode::new(pref.get()), Ok(pref));
    assert!(!pref.name().is_empty());

    // serde goes through the same text.
    let json = serde_json::to_string(&code).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<MunicipalityCode>(&json).unwrap(), code);

    if let Some(m) = official::municipality(code) {
        assert_eq!(m.code, code);
        assert!(!m.name.is_empty());
    }
}

fuzz_target!(|data: &[u8]| {
    // As text.
    if let Ok(s) = std::str::from_utf8(data) {
        let parsed = s.parse::<MunicipalityCode>();
        assert_eq!(parsed.is_ok(), reference_valid(s), "{s:?}: {parsed:?}");
        match parsed {
            Ok(code) => {
                assert_eq!(code.to_string(), s);
                check_accepted(code);
            }
            Err(e) => {
                // Every error names the value it refused.
                let shown = e.to_string();
                assert!(!shown.is_empty());
                match &e {
                    IdError::MunicipalityCodeFormat { value }
                    | IdError::MunicipalityCodeCheckDigit { value, .. }
                    | IdError::PrefectureOutOfRange { value } => assert_eq!(value, s),
                    other => panic!("unexpected error kind for {s:?}: {other:?}"),
                }
                // serde refuses it too.
                let json = serde_json::to_string(s).unwrap();
                assert!(serde_json::from_str::<MunicipalityCode>(&json).is_err());
            }
        }
    }

    // As a number: the first four bytes, little-endian.
    if data.len() >= 4 {
        let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        let by_number = MunicipalityCode::from_number(n);
        if n > 999_999 {
            assert!(matches!(by_number, Err(IdError::MunicipalityCodeFormat { .. })));
        } else {
            let text = format!("{n:06}");
            assert_eq!(by_number, text.parse::<MunicipalityCode>());
            assert_eq!(by_number.is_ok(), reference_valid(&text));
        }
        if let Ok(code) = by_number {
            assert_eq!(code.get(), n);
            check_accepted(code);
        }
    }
});
