//! The official list looked up with any code: `official.rs` reads only the lists compiled into the
//! crate (no text from outside), so what hostile input can reach is the lookup by a validated
//! code. A code found is the code asked for, with a name and a kind, and is listed under its
//! prefecture; a code not found is not listed anywhere.

#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_proto::{MunicipalityCode, official};

fuzz_target!(|data: &[u8]| {
    let candidate = match std::str::from_utf8(data) {
        Ok(s) if s.len() == 6 => s.parse::<MunicipalityCode>(),
        _ if data.len() >= 4 => MunicipalityCode::from_number(
            u32::from_le_bytes([data[0], data[1], data[2], data[3]]) % 1_000_000,
        ),
        _ => return,
    };
    let Ok(code) = candidate else {
        return;
    };
    let found = official::municipality(code);
    let listed = official::municipalities_of(code.prefecture()).find(|m| m.code == code);
    assert_eq!(found, listed);
    if let Some(m) = found {
        assert_eq!(m.code, code);
        assert!(!m.name.is_empty());
        assert!(["市", "町", "村", "特別区"].contains(&m.kind), "{m:?}");
        assert_eq!(m.code.prefecture(), code.prefecture());
    }
});
