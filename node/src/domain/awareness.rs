//! (キ) 地域住民への普及啓発: lectures, symposiums, 出前トーク, pamphlets, 広報紙, web pages, TV —
//! with attendance or copies distributed.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{ActivityId, CareScene, MAX_NAME, text, vocabulary};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// The kind of an awareness activity.
    AwarenessKind {
        /// 講演会
        Lecture = ("lecture", "講演会"),
        /// シンポジウム
        Symposium = ("symposium", "シンポジウム"),
        /// 出前トーク (出前講座)
        OutreachTalk = ("outreach_talk", "出前トーク"),
        /// パンフレット
        Pamphlet = ("pamphlet", "パンフレット"),
        /// 広報紙
        Newsletter = ("newsletter", "広報紙"),
        /// ウェブページ
        WebPage = ("web_page", "ウェブページ"),
        /// テレビ・ラジオ
        Broadcast = ("broadcast", "テレビ・ラジオ"),
    }
);

impl AwarenessKind {
    /// Returns whether people gather for it (attendance is counted), rather than receive
    /// material (copies are counted).
    pub fn is_gathering(self) -> bool {
        matches!(
            self,
            AwarenessKind::Lecture | AwarenessKind::Symposium | AwarenessKind::OutreachTalk
        )
    }

    /// Returns whether copies are distributed.
    pub fn is_printed(self) -> bool {
        matches!(self, AwarenessKind::Pamphlet | AwarenessKind::Newsletter)
    }
}

/// Commands of the awareness register.
#[derive(Debug, Clone, PartialEq)]
pub enum AwarenessCommand {
    /// Records an activity held or material distributed on `on`.
    Record {
        id: ActivityId,
        kind: AwarenessKind,
        title: String,
        /// Who it was for, e.g. 住民, 老人クラブ.
        audience: String,
        on: NaiveDate,
        attendance: Option<u32>,
        copies: Option<u32>,
        scenes: Vec<CareScene>,
    },
}

/// Events of the awareness register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AwarenessEvent {
    AwarenessActivityRecorded {
        id: ActivityId,
        kind: AwarenessKind,
        title: String,
        audience: String,
        on: NaiveDate,
        attendance: Option<u32>,
        copies: Option<u32>,
        scenes: Vec<CareScene>,
    },
}

/// The municipality's awareness activities (キ).
#[derive(Debug, Clone, Default)]
pub struct AwarenessRegister {
    pub activities: BTreeMap<ActivityId, NaiveDate>,
}

impl Aggregate for AwarenessRegister {
    type Command = AwarenessCommand;
    type Event = AwarenessEvent;

    fn command_key(command: &AwarenessCommand) -> Option<RecordKey> {
        let AwarenessCommand::Record { id, .. } = command;
        Some(RecordKey::new("awareness activity", id))
    }

    fn event_key(event: &AwarenessEvent) -> Option<RecordKey> {
        let AwarenessEvent::AwarenessActivityRecorded { id, .. } = event;
        Some(RecordKey::new("awareness activity", id))
    }

    fn decide(&self, command: AwarenessCommand) -> Result<Vec<AwarenessEvent>, DomainError> {
        let AwarenessCommand::Record {
            id,
            kind,
            title,
            audience,
            on,
            attendance,
            copies,
            mut scenes,
        } = command;
        let title = text("title", &title, MAX_NAME)?;
        let audience = text("audience", &audience, MAX_NAME)?;
        if kind.is_gathering() && attendance.is_none() {
            return Err(DomainError::invalid(
                "attendance",
                "",
                format!("is required for a {}", kind.label()),
            ));
        }
        if kind.is_printed() && !matches!(copies, Some(n) if n > 0) {
            return Err(DomainError::invalid(
                "copies",
                copies.unwrap_or(0),
                format!("a {} needs at least 1 copy", kind.label()),
            ));
        }
        if self.activities.contains_key(&id) {
            return Err(DomainError::conflict(
                "awareness activity",
                &id,
                "is already recorded",
            ));
        }
        scenes.sort();
        scenes.dedup();
        Ok(vec![AwarenessEvent::AwarenessActivityRecorded {
            id,
            kind,
            title,
            audience,
            on,
            attendance,
            copies,
            scenes,
        }])
    }

    fn apply(&mut self, event: &AwarenessEvent) {
        let AwarenessEvent::AwarenessActivityRecorded { id, on, .. } = event;
        self.activities.insert(id.clone(), *on);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    #[test]
    fn a_lecture_needs_its_attendance_and_a_pamphlet_its_copies() {
        let cmd = |kind, attendance, copies| AwarenessCommand::Record {
            id: ActivityId::parse("id", "k1").unwrap(),
            kind,
            title: "在宅医療を知る講演会".into(),
            audience: "住民".into(),
            on: d(2024, 10, 5),
            attendance,
            copies,
            scenes: vec![],
        };
        let then = given_when::<AwarenessRegister>(&[], cmd(AwarenessKind::Lecture, None, None));
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "attendance")
        );
        let then =
            given_when::<AwarenessRegister>(&[], cmd(AwarenessKind::Pamphlet, None, Some(0)));
        assert!(matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "copies"));
        let then =
            given_when::<AwarenessRegister>(&[], cmd(AwarenessKind::Lecture, Some(120), None));
        assert_eq!(then.unwrap().len(), 1);
    }
}
