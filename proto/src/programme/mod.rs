//! The programme's vocabulary both tiers share (在宅医療・介護連携推進事業): the eight items
//! (事業項目) of the national survey and its three answers. Defined once here, so that the node
//! that records activity and the prefecture that tallies it cannot disagree on what （エ） is.
//! Pure values: no I/O.

use serde::{Deserialize, Serialize};

pub mod cycle;
pub mod evidence;
pub mod framework;
pub mod status;

/// A programme item (事業項目), in the order of the national table: （ア）…（ク）.
///
/// Variants are named by the item's kana (`E` is （エ）, `O` is （オ）). Stored and sent as its
/// code `a`…`h` (its place in the table); the kana names are read too, as exports before the
/// shared vocabulary wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Item {
    /// （ア）地域の医療・介護の資源の把握
    #[serde(rename = "a", alias = "A")]
    A,
    /// （イ）在宅医療・介護連携の課題の抽出と対応策の検討
    #[serde(rename = "b", alias = "I")]
    I,
    /// （ウ）切れ目のない在宅医療と在宅介護の提供体制の構築推進
    #[serde(rename = "c", alias = "U")]
    U,
    /// （エ）医療・介護関係者の情報共有の支援
    #[serde(rename = "d", alias = "E")]
    E,
    /// （オ）在宅医療・介護連携に関する相談支援
    #[serde(rename = "e", alias = "O")]
    O,
    /// （カ）医療・介護関係者の研修
    #[serde(rename = "f", alias = "Ka")]
    Ka,
    /// （キ）地域住民への普及啓発
    #[serde(rename = "g", alias = "Ki")]
    Ki,
    /// （ク）在宅医療・介護連携に関する関係市区町村の連携
    #[serde(rename = "h", alias = "Ku")]
    Ku,
}

impl Item {
    /// Every item, in the order of the national table.
    pub const ALL: [Item; 8] = [
        Item::A,
        Item::I,
        Item::U,
        Item::E,
        Item::O,
        Item::Ka,
        Item::Ki,
        Item::Ku,
    ];

    /// Returns the item's place in [`Item::ALL`] (0 for （ア）).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the wire code, `a` … `h`.
    pub const fn code(self) -> &'static str {
        ["a", "b", "c", "d", "e", "f", "g", "h"][self.index()]
    }

    /// Returns the item's letter in katakana: ア … ク.
    pub const fn letter(self) -> &'static str {
        ["ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク"][self.index()]
    }

    /// Returns the letter as table headings write it: （ア） … （ク）.
    pub const fn short_label(self) -> &'static str {
        [
            "（ア）",
            "（イ）",
            "（ウ）",
            "（エ）",
            "（オ）",
            "（カ）",
            "（キ）",
            "（ク）",
        ][self.index()]
    }

    /// Returns the item's name exactly as the national table prints it.
    pub const fn label(self) -> &'static str {
        match self {
            Item::A => "（ア）地域の医療・介護の資源の把握",
            Item::I => "（イ）在宅医療・介護連携の課題の抽出と対応策の検討",
            Item::U => "（ウ）切れ目のない在宅医療と在宅介護の提供体制の構築推進",
            Item::E => "（エ）医療・介護関係者の情報共有の支援",
            Item::O => "（オ）在宅医療・介護連携に関する相談支援",
            Item::Ka => "（カ）医療・介護関係者の研修",
            Item::Ki => "（キ）地域住民への普及啓発",
            Item::Ku => "（ク）在宅医療・介護連携に関する関係市区町村の連携",
        }
    }

    /// The same as [`Item::label`]: the name the national table prints.
    pub const fn national_label(self) -> &'static str {
        self.label()
    }

    /// Reads an item from its code (`d`), its letter (`エ`, `（エ）`) or its full label.
    pub fn from_text(text: &str) -> Option<Item> {
        let t = text.trim();
        Item::ALL
            .into_iter()
            .find(|i| i.code() == t || i.letter() == t || i.short_label() == t || i.label() == t)
    }
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// One of the survey's three answers for an item (実施状況).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SurveyStatus {
    /// 実施している: a qualifying activity in the fiscal year, on or before the as-of date.
    Implemented,
    /// 年度内に実施予定: no qualifying activity by the as-of date, but the annual plan schedules one
    /// within the year.
    Planned,
    /// 実施していない: neither.
    NotImplemented,
}

impl SurveyStatus {
    /// Every answer, in the order of the national table's columns.
    pub const ALL: [SurveyStatus; 3] = [
        SurveyStatus::Implemented,
        SurveyStatus::Planned,
        SurveyStatus::NotImplemented,
    ];

    /// Returns the answer as the national table prints it.
    pub const fn label(self) -> &'static str {
        match self {
            SurveyStatus::Implemented => "実施している",
            SurveyStatus::Planned => "年度内に実施予定",
            SurveyStatus::NotImplemented => "実施していない",
        }
    }

    /// Returns the wire code: `implemented`, `planned` or `not_implemented`.
    pub const fn code(self) -> &'static str {
        match self {
            SurveyStatus::Implemented => "implemented",
            SurveyStatus::Planned => "planned",
            SurveyStatus::NotImplemented => "not_implemented",
        }
    }

    /// Returns the answer's column in [`SurveyStatus::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 000_aeff01bd41c300be.txt:32 「（エ）医療・介護関係者の情報共有の支援」 and :25 「（オ）在宅医療・
    /// 介護連携に関する相談支援」: one vocabulary for node and prefecture, (エ) is information sharing.
    #[test]
    fn e_is_the_information_sharing_item_in_every_spelling() {
        assert_eq!(Item::E.letter(), "エ");
        assert!(
            Item::E
                .label()
                .starts_with("（エ）医療・介護関係者の情報共有の支援")
        );
        for spelling in [
            "d",
            "エ",
            "（エ）",
            "（エ）医療・介護関係者の情報共有の支援",
        ] {
            assert_eq!(Item::from_text(spelling), Some(Item::E), "{spelling}");
        }
        // stored by node events as "d", by earlier prefecture exports as "E": both are （エ）
        let from_node: Item = serde_json::from_str("\"d\"").unwrap();
        let from_export: Item = serde_json::from_str("\"E\"").unwrap();
        assert_eq!((from_node, from_export), (Item::E, Item::E));
        assert_eq!(serde_json::to_string(&Item::O).unwrap(), "\"e\"");
        let oh: Item = serde_json::from_str("\"e\"").unwrap();
        assert_eq!(oh, Item::O);
    }

    #[test]
    fn the_items_follow_the_national_table() {
        let letters: Vec<_> = Item::ALL.iter().map(|i| i.letter()).collect();
        assert_eq!(letters, ["ア", "イ", "ウ", "エ", "オ", "カ", "キ", "ク"]);
        for (n, i) in Item::ALL.iter().enumerate() {
            assert_eq!(i.index(), n);
            assert_eq!(Item::from_text(i.code()), Some(*i));
            // the national label starts with the bracketed letter table headings use
            assert!(i.label().starts_with(i.short_label()), "{i:?}");
        }
    }
}
