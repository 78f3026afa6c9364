//! The official lists: all 1,741 municipalities and 47 prefectures of Japan.
//!
//! 出典：総務省 全国地方公共団体コード (see `data/README.md`). The lists are compiled into the
//! binary, so nothing is read from disk at run time.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::{MunicipalityCode, PrefectureCode};

const MUNICIPALITIES_CSV: &str = include_str!("../data/municipalities.csv");
const PREFECTURES_CSV: &str = include_str!("../data/prefectures.csv");
const NEIGHBOURS_CSV: &str = include_str!("../data/neighbours.csv");

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

fn neighbour_table() -> &'static BTreeMap<MunicipalityCode, Vec<MunicipalityCode>> {
    static TABLE: OnceLock<BTreeMap<MunicipalityCode, Vec<MunicipalityCode>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table: BTreeMap<MunicipalityCode, Vec<MunicipalityCode>> = BTreeMap::new();
        for line in NEIGHBOURS_CSV
            .lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
        {
            let cols: Vec<&str> = line.split(',').collect();
            // The shipped file is checked by the tests below: valid codes on the official list.
            let a: MunicipalityCode = cols[0].parse().expect("shipped list is valid");
            let b: MunicipalityCode = cols[2].parse().expect("shipped list is valid");
            table.entry(a).or_default().push(b);
            table.entry(b).or_default().push(a);
        }
        for list in table.values_mut() {
            list.sort();
            list.dedup();
        }
        table
    })
}

/// Returns whether renkei ships the boundary table (隣接市町村) of this prefecture.
pub fn has_neighbour_table(prefecture: PrefectureCode) -> bool {
    neighbour_table()
        .keys()
        .any(|m| m.prefecture() == prefecture)
}

/// Returns the municipalities of the same prefecture that share a boundary with `code` (近隣
/// 市町村), in code order; empty when the prefecture's table is not shipped
/// ([`has_neighbour_table`]).
pub fn neighbours(code: MunicipalityCode) -> &'static [MunicipalityCode] {
    neighbour_table().get(&code).map_or(&[], Vec::as_slice)
}

/// Reads the municipality an address is in, as Japanese addresses write it: an optional
/// prefecture (富山県), an optional 郡 (中新川郡), then the municipality's name (上市町). Without a
/// prefecture the name must be unique in Japan (府中市 is not), and with one it must be of it.
pub fn municipality_in_address(address: &str) -> Option<MunicipalityCode> {
    let address: String = address.split_whitespace().collect();
    let (prefecture, rest) = prefecture_table()
        .iter()
        .find_map(|(code, name)| {
            address
                .strip_prefix(name)
                .map(|rest| (PrefectureCode::new(*code).ok(), rest))
        })
        .unwrap_or((None, address.as_str()));
    let candidates = |text: &str| -> Vec<&'static Municipality> {
        let mut found: Vec<&'static Municipality> = municipalities()
            .filter(|m| prefecture.is_none_or(|p| m.code.prefecture() == p))
            .filter(|m| text.starts_with(m.name))
            .collect();
        // The longest name wins (市川市 over 市川…, 上市町 over nothing shorter).
        let longest = found.iter().map(|m| m.name.len()).max().unwrap_or(0);
        found.retain(|m| m.name.len() == longest);
        found
    };
    let mut found = candidates(rest);
    if found.is_empty() {
        // 「中新川郡上市町」: a 郡 comes before a 町 or 村.
        if let Some((_, after)) = rest.split_once('郡') {
            found = candidates(after);
        }
    }
    match found.as_slice() {
        [one] => Some(one.code),
        _ => None,
    }
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

    #[test]
    fn the_neighbour_table_is_symmetric_and_within_a_prefecture() {
        let toyama = PrefectureCode::new(16).unwrap();
        assert!(has_neighbour_table(toyama));
        assert!(!has_neighbour_table(PrefectureCode::new(13).unwrap()));
        for m in municipalities_of(toyama) {
            let list = neighbours(m.code);
            assert!(!list.is_empty(), "{} has no neighbour", m.name);
            for n in list {
                assert!(municipality(*n).is_some());
                assert_eq!(n.prefecture(), toyama);
                assert!(neighbours(*n).contains(&m.code), "{} ↔ {n}", m.name);
            }
        }
        let names = |c: &str| -> Vec<&str> {
            neighbours(c.parse().unwrap())
                .iter()
                .map(|n| municipality(*n).unwrap().name)
                .collect()
        };
        assert_eq!(names("162051"), ["高岡市"]);
        assert_eq!(names("163210"), ["富山市", "上市町", "立山町"]);
    }

    #[test]
    fn an_address_names_its_municipality() {
        let code = |a: &str| municipality_in_address(a).map(|c| c.to_string());
        assert_eq!(code("富山県富山市新桜町7-38").as_deref(), Some("162019"));
        assert_eq!(
            code("富山県中新川郡上市町湯上野1").as_deref(),
            Some("163228")
        );
        assert_eq!(code("中新川郡舟橋村仏生寺55").as_deref(), Some("163210"));
        assert_eq!(code("高岡市広小路7-50").as_deref(), Some("162027"));
        // 府中市 is in 東京都 and in 広島県: without the prefecture it is not known.
        assert_eq!(code("府中市宮西町2-24"), None);
        assert_eq!(code("東京都府中市宮西町2-24").as_deref(), Some("132063"));
        assert_eq!(code("新桜町7-38"), None);
        assert_eq!(code(""), None);
    }
}
