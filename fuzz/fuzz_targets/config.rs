//! Arbitrary text as the TOML configuration of a municipal node and of a prefecture replica:
//! parsing and validation never panic; a refused configuration lists at least one problem, each
//! naming what it is about; an accepted one renders (`--check-config` prints it) and is what the
//! text asked for in the keys checked here.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match renkei_node::config::from_toml(text) {
        Ok(config) => {
            let _ = config.to_toml();
            assert!(config.max_event_bytes > 0);
            let mut seen = std::collections::HashSet::new();
            assert!(
                config.municipalities.iter().all(|m| seen.insert(*m)),
                "a municipality listed twice was accepted"
            );
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|p| !p.trim().is_empty()));
        }
    }
    match renkei_federation::config::from_toml(text) {
        Ok(config) => {
            let _ = config.to_toml();
            assert!(config.node_id > 0);
            assert!(config.election_timeout_min_ms > 2 * config.heartbeat_ms);
            assert!(config.election_timeout_max_ms > config.election_timeout_min_ms);
            for m in &config.survey_scope {
                assert_eq!(m.prefecture(), config.prefecture);
            }
        }
        Err(problems) => {
            assert!(!problems.is_empty());
            assert!(problems.iter().all(|p| !p.trim().is_empty()));
        }
    }
});
