//! The programme's frameworks by fiscal year (事業の枠組み): the structure a fiscal year is planned,
//! reported and tallied in.
//!
//! - [`Framework::EightItems2015`]: the eight items （ア）…（ク） of 手引き Ver.1/2 and their
//!   national table, for FY2015 (平成27年度, when municipalities began the programme) to FY2019;
//! - [`Framework::Pdca2020`]: the 令和2年 revision (手引き Ver.3; 介護保険法施行規則 第140条の62の8),
//!   from FY2020: the programme is run as a PDCA cycle toward goals per care scene, the
//!   municipal work falls in four statutory groups ([`StatutoryGroup`]), and （ク） becomes the
//!   prefecture's role of supporting municipalities (関係市町村等の連携).
//!
//! The same recorded evidence serves both (a training is a training): [`StatutoryGroup::of`]
//! says which group each of the eight items' activities belongs to. Pure values: no I/O.

use super::{Item, SurveyStatus};
use crate::FiscalYear;

/// A framework of the programme, valid for a range of fiscal years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Framework {
    /// The eight items （ア）…（ク） (手引き Ver.1/2), FY2015–FY2019.
    EightItems2015,
    /// The PDCA cycle toward goals per care scene, four statutory groups (手引き Ver.3), FY2020–.
    Pdca2020,
}

impl Framework {
    /// Every framework, oldest first.
    pub const ALL: [Framework; 2] = [Framework::EightItems2015, Framework::Pdca2020];

    /// The first fiscal year the framework is valid for.
    pub const fn first_year(self) -> u16 {
        match self {
            Framework::EightItems2015 => 2015,
            Framework::Pdca2020 => 2020,
        }
    }

    /// The last fiscal year the framework is valid for; `None` while it is in force.
    pub const fn last_year(self) -> Option<u16> {
        match self {
            Framework::EightItems2015 => Some(2019),
            Framework::Pdca2020 => None,
        }
    }

    /// True when `fiscal_year` is planned and reported in this framework.
    pub fn covers(self, fiscal_year: FiscalYear) -> bool {
        let y = fiscal_year.year();
        y >= self.first_year() && self.last_year().is_none_or(|last| y <= last)
    }

    /// The framework `fiscal_year` is planned and reported in, or `None` before FY2015, when
    /// municipalities had not begun the programme (it entered the 地域支援事業 in 平成27年度).
    pub fn of(fiscal_year: FiscalYear) -> Option<Framework> {
        Framework::ALL.into_iter().find(|f| f.covers(fiscal_year))
    }

    /// The framework's name as officers know it.
    pub const fn label(self) -> &'static str {
        match self {
            Framework::EightItems2015 => "8事業項目（手引き Ver.1/2、平成27〜令和元年度）",
            Framework::Pdca2020 => {
                "PDCAサイクル（手引き Ver.3、施行規則第140条の62の8、令和2年度〜）"
            }
        }
    }
}

/// The four groups of municipal work of 介護保険法施行規則 第140条の62の8 (令和2年〜).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum StatutoryGroup {
    /// 一: 情報の収集・整理・活用、課題の把握、施策の企画・立案（医療・介護関係者と共同）、周知.
    One,
    /// 二: 医療・介護関係者からの相談に応じ、情報の提供・助言その他の援助（相談支援）.
    Two,
    /// 三: 地域住民の理解を深めるための普及啓発.
    Three,
    /// 四: 情報共有の支援、研修、その他の地域の実情に応じた医療・介護関係者の支援.
    Four,
}

impl StatutoryGroup {
    /// Every group, in the order of the ordinance.
    pub const ALL: [StatutoryGroup; 4] = [
        StatutoryGroup::One,
        StatutoryGroup::Two,
        StatutoryGroup::Three,
        StatutoryGroup::Four,
    ];

    /// The group's number as the ordinance writes it: 一 … 四.
    pub const fn numeral(self) -> &'static str {
        ["一", "二", "三", "四"][self as usize]
    }

    /// The kinds of work the ordinance lists in the group.
    pub const fn parts(self) -> &'static [&'static str] {
        match self {
            StatutoryGroup::One => &[
                "情報の収集・整理・活用",
                "課題の把握",
                "施策の企画・立案",
                "周知",
            ],
            StatutoryGroup::Two => &["相談支援"],
            StatutoryGroup::Three => &["普及啓発"],
            StatutoryGroup::Four => &["情報共有の支援", "研修", "その他の支援"],
        }
    }

    /// The group's name for headings, e.g. `一 情報の収集・整理・活用、課題の把握、施策の企画・立案、周知`.
    pub fn label(self) -> String {
        format!("{} {}", self.numeral(), self.parts().join("、"))
    }

    /// The group the activities of an item of the 2015 framework belong to since 2020, and the
    /// part of the group they are: （ア） gathers information, （イ） grasps issues, （ウ） plans
    /// measures (手引き Ver.3 places all three in 現状分析・課題抽出・施策立案); （オ） is 相談支援,
    /// （キ） 普及啓発, （エ） and （カ） support the professionals. `None` for （ク）: the liaison of
    /// neighbouring municipalities is the prefecture's support role from 2020, not a municipal
    /// group.
    pub const fn of(item: Item) -> Option<(StatutoryGroup, &'static str)> {
        match item {
            Item::A => Some((StatutoryGroup::One, "情報の収集・整理・活用")),
            Item::I => Some((StatutoryGroup::One, "課題の把握")),
            Item::U => Some((StatutoryGroup::One, "施策の企画・立案")),
            Item::E => Some((StatutoryGroup::Four, "情報共有の支援")),
            Item::O => Some((StatutoryGroup::Two, "相談支援")),
            Item::Ka => Some((StatutoryGroup::Four, "研修")),
            Item::Ki => Some((StatutoryGroup::Three, "普及啓発")),
            Item::Ku => None,
        }
    }
}

impl StatutoryGroup {
    /// The items of the 2015 framework whose work the group holds since 2020.
    pub fn items(self) -> Vec<Item> {
        Item::ALL
            .into_iter()
            .filter(|i| StatutoryGroup::of(*i).is_some_and(|(g, _)| g == self))
            .collect()
    }

    /// The group's status from the eight items' statuses (one per item, in the order of
    /// [`Item::ALL`]): the best of its items' — implemented when any of its work was done, planned
    /// when some is scheduled, not implemented otherwise. The same evidence serves both frameworks.
    pub fn status(self, items: &[SurveyStatus; 8]) -> SurveyStatus {
        self.items()
            .into_iter()
            .map(|i| items[i.index()])
            .min()
            .unwrap_or(SurveyStatus::NotImplemented)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fy(y: i64) -> FiscalYear {
        FiscalYear::new(y).unwrap()
    }

    #[test]
    fn each_fiscal_year_from_2015_has_exactly_one_framework() {
        assert_eq!(Framework::of(fy(2014)), None);
        for y in 2015..=2019 {
            assert_eq!(Framework::of(fy(y)), Some(Framework::EightItems2015), "{y}");
        }
        for y in [2020, 2024, 2026, 2199] {
            assert_eq!(Framework::of(fy(y)), Some(Framework::Pdca2020), "{y}");
        }
        for y in 2015..=2199 {
            let covering = Framework::ALL.iter().filter(|f| f.covers(fy(y))).count();
            assert_eq!(covering, 1, "FY{y} is covered by {covering} frameworks");
        }
    }

    #[test]
    fn the_eight_items_map_to_the_statutory_groups_as_the_ordinance_lists_them() {
        use StatutoryGroup::*;
        let expected = [
            (Item::A, Some(One)),
            (Item::I, Some(One)),
            (Item::U, Some(One)),
            (Item::E, Some(Four)),
            (Item::O, Some(Two)),
            (Item::Ka, Some(Four)),
            (Item::Ki, Some(Three)),
            (Item::Ku, None),
        ];
        for (item, group) in expected {
            assert_eq!(StatutoryGroup::of(item).map(|(g, _)| g), group, "{item:?}");
        }
        // Each item names a part its group lists, and every group receives some item's work.
        for item in Item::ALL {
            if let Some((group, part)) = StatutoryGroup::of(item) {
                assert!(group.parts().contains(&part), "{item:?}: {part}");
            }
        }
        for group in StatutoryGroup::ALL {
            assert!(
                Item::ALL
                    .iter()
                    .any(|i| StatutoryGroup::of(*i).is_some_and(|(g, _)| g == group)),
                "{group:?} receives no item"
            );
        }
        assert_eq!(
            One.label(),
            "一 情報の収集・整理・活用、課題の把握、施策の企画・立案、周知"
        );
        assert_eq!(Four.label(), "四 情報共有の支援、研修、その他の支援");
    }

    #[test]
    fn a_group_has_the_best_status_of_its_items() {
        use SurveyStatus::*;
        // ア implemented, エ planned, the rest not: 一 implemented, 四 planned, 二・三 not.
        let mut items = [NotImplemented; 8];
        items[Item::A.index()] = Implemented;
        items[Item::E.index()] = Planned;
        // ク implemented counts in no municipal group from 2020.
        items[Item::Ku.index()] = Implemented;
        let groups: Vec<_> = StatutoryGroup::ALL
            .iter()
            .map(|g| g.status(&items))
            .collect();
        assert_eq!(
            groups,
            [Implemented, NotImplemented, NotImplemented, Planned]
        );
        assert_eq!(StatutoryGroup::Four.items(), [Item::E, Item::Ka]);
    }
}
