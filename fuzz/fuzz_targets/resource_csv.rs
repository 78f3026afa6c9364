//! Arbitrary bytes as a municipality's resource list (ア): the import's decoding of the file
//! (UTF-8 with or without BOM, or Shift_JIS), its header and every row never panics; rows come
//! out in order with their line numbers; a refused file or row says why.

#![no_main]

use libfuzzer_sys::fuzz_target;
use renkei_node::programme::import::{ImportError, parse_resource_csv};

fuzz_target!(|data: &[u8]| {
    match parse_resource_csv(data) {
        Ok(rows) => {
            let mut last = 1;
            for row in &rows {
                assert!(row.line > last, "lines go forward: {} after {last}", row.line);
                last = row.line;
                match &row.parsed {
                    Ok((_, details)) => {
                        // What the domain validates later must at least have been read.
                        let _ = (&details.name, &details.address);
                    }
                    Err(reason) => assert!(!reason.is_empty(), "a rejected row says why"),
                }
            }
            // A data row takes at least one line terminator or the end of the input.
            let lines = data.iter().filter(|b| **b == b'\n' || **b == b'\r').count() + 1;
            assert!(rows.len() <= lines, "{} rows from {lines} lines", rows.len());
        }
        Err(ImportError::Header(reason)) => assert!(!reason.is_empty()),
        Err(ImportError::Encoding) => {
            // Neither UTF-8 (with or without BOM) nor Shift_JIS: check the first half.
            assert!(std::str::from_utf8(data).is_err() || data.starts_with(b"\xEF\xBB\xBF"));
        }
        Err(other) => panic!("parsing alone cannot fail with {other}"),
    }
});
