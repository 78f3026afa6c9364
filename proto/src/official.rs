//! The official lists: all 1,741 municipalities and 47 prefectures of Japan.
//!
//! 出典：総務省 全国地方公共団体コード (see `data/README.md`). The lists are compiled into the
//! binary, so nothing is read from disk at run time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::{MunicipalityCode, PrefectureCode};

const MUNICIPALITIES_CSV: &str = include_str!("../data/municipalities.csv");
const PREFECTURES_CSV: &str = include_str!("../data/prefectures.csv");

/// A municipality on the official list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Municipality {
    pub code: MunicipalityCode,
    /// Its name, e.g. 富山市.
    pub name: &'static str,
    /// 市, 町, 村 or 特別区.
    pub kind: &'static str,
}

fn municipality_table() -> &'static BTreeMap<MunicipalityCode, Municipality> {
    static TABLE: OnceLock<BTreeMap<MunicipalityCode, Municipality>> = OnceLock::new();
    TABLE.get_or_init(|| {
        MUNICIPALITIES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let cols: Vec<&'static str> = line.split(',').collect();
                // The shipped file is checked by the tests below: five columns, valid codes.
                let code: MunicipalityCode = cols[0].parse().expect("shipped list is valid");
                (
                    code,
                    Municipality {
                        code,
                        name: cols[3],
                        kind: cols[4],
                    },
                )
            })
            .collect()
    })
}

fn prefecture_table() -> &'static BTreeMap<u8, &'static str> {
    static TABLE: OnceLock<BTreeMap<u8, &'static str>> = OnceLock::new();
    TABLE.get_or_init(|| {
        PREFECTURES_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let cols: Vec<&'static str> = line.split(',').collect();
                // The shipped file is checked by the tests below.
                (cols[1].parse().expect("shipped list is valid"), cols[2])
            })
            .collect()
    })
}

/// Returns the municipality with this code, if it is on the official list.
pub fn municipality(code: MunicipalityCode) -> Option<&'static Municipality> {
    municipality_table().get(&code)
}

/// Returns every municipality on the official list, in code order.
pub fn municipalities() -> impl Iterator<Item = &'static Municipality> {
    municipality_table().values()
}

/// Returns the municipalities of one prefecture, in code order.
pub fn municipalities_of(
    prefecture: PrefectureCode,
) -> impl Iterator<Item = &'static Municipality> {
    municipalities().filter(move |m| m.code.prefecture() == prefecture)
}

pub(crate) fn prefecture_name(code: PrefectureCode) -> &'static str {
    // Every code 1-47 is in the shipped list (checked by the tests below).
    prefecture_table().get(&code.get()).copied().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_all_municipalities_and_prefectures() {
        assert_eq!(municipalities().count(), 1741);
        assert_eq!(prefecture_table().len(), 47);
        for n in 1..=47 {
            assert!(!PrefectureCode::new(n).unwrap().name().is_empty());
        }
        let toyama = PrefectureCode::new(16).unwrap();
        assert_eq!(municipalities_of(toyama).count(), 15);
        let city = municipality("162019".parse().unwrap()).unwrap();
        assert_eq!((city.name, city.kind), ("富山市", "市"));
    }
}
