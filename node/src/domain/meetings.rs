//! (イ) 在宅医療・介護連携の課題の抽出と対応策の検討: meetings with medical and care stakeholders,
//! the issues (課題) they extract, the countermeasures (対応策) they decide, working groups.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{
    CareScene, Count, FindingId, MAX_NAME, MAX_TEXT, MeetingId, OrganisationType, WorkingGroupId,
    counts, text, vocabulary,
};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// The kind of meeting.
    MeetingKind {
        /// 在宅医療・介護連携推進会議
        CoordinationCouncil = ("coordination_council", "連携推進会議"),
        /// 地域ケア会議 (may substitute)
        CommunityCareMeeting = ("community_care_meeting", "地域ケア会議"),
        /// 作業部会・ワーキンググループ
        WorkingGroupMeeting = ("working_group_meeting", "作業部会"),
    }
);

vocabulary!(
    /// What a finding of a meeting is.
    FindingKind {
        /// 課題
        Issue = ("issue", "課題"),
        /// 対応策
        Countermeasure = ("countermeasure", "対応策"),
    }
);

/// Commands of the meeting register.
#[derive(Debug, Clone, PartialEq)]
pub enum MeetingCommand {
    /// Records a meeting that took place.
    Hold {
        id: MeetingId,
        kind: MeetingKind,
        title: String,
        on: NaiveDate,
        participants: Vec<Count<OrganisationType>>,
        scenes: Vec<CareScene>,
        working_group: Option<WorkingGroupId>,
    },
    /// Records an issue or a countermeasure the meeting arrived at.
    RecordFinding {
        meeting: MeetingId,
        id: FindingId,
        kind: FindingKind,
        text: String,
        scenes: Vec<CareScene>,
        /// For a countermeasure: the issue it answers.
        answers: Option<FindingId>,
    },
    /// Sets up a working group.
    FormWorkingGroup {
        id: WorkingGroupId,
        name: String,
        scenes: Vec<CareScene>,
        on: NaiveDate,
    },
}

/// Events of the meeting register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MeetingEvent {
    MeetingHeld {
        id: MeetingId,
        kind: MeetingKind,
        title: String,
        on: NaiveDate,
        participants: Vec<Count<OrganisationType>>,
        scenes: Vec<CareScene>,
        working_group: Option<WorkingGroupId>,
    },
    /// A finding is dated by its meeting.
    FindingRecorded {
        meeting: MeetingId,
        id: FindingId,
        kind: FindingKind,
        text: String,
        scenes: Vec<CareScene>,
        answers: Option<FindingId>,
        on: NaiveDate,
    },
    WorkingGroupFormed {
        id: WorkingGroupId,
        name: String,
        scenes: Vec<CareScene>,
        on: NaiveDate,
    },
}

/// The municipality's meetings (イ).
#[derive(Debug, Clone, Default)]
pub struct MeetingRegister {
    pub meetings: BTreeMap<MeetingId, NaiveDate>,
    pub findings: BTreeMap<FindingId, (MeetingId, FindingKind)>,
    pub working_groups: BTreeMap<WorkingGroupId, NaiveDate>,
}

fn sorted(mut scenes: Vec<CareScene>) -> Vec<CareScene> {
    scenes.sort();
    scenes.dedup();
    scenes
}

impl Aggregate for MeetingRegister {
    type Command = MeetingCommand;
    type Event = MeetingEvent;

    fn command_key(command: &MeetingCommand) -> Option<RecordKey> {
        Some(match command {
            MeetingCommand::Hold { id, .. } => RecordKey::new("meeting", id),
            MeetingCommand::RecordFinding { id, .. } => RecordKey::new("finding", id),
            MeetingCommand::FormWorkingGroup { id, .. } => RecordKey::new("working group", id),
        })
    }

    fn event_key(event: &MeetingEvent) -> Option<RecordKey> {
        Some(match event {
            MeetingEvent::MeetingHeld { id, .. } => RecordKey::new("meeting", id),
            MeetingEvent::FindingRecorded { id, .. } => RecordKey::new("finding", id),
            MeetingEvent::WorkingGroupFormed { id, .. } => RecordKey::new("working group", id),
        })
    }

    fn decide(&self, command: MeetingCommand) -> Result<Vec<MeetingEvent>, DomainError> {
        match command {
            MeetingCommand::Hold {
                id,
                kind,
                title,
                on,
                participants,
                scenes,
                working_group,
            } => {
                let title = text("title", &title, MAX_NAME)?;
                if counts("participants", &participants)? == 0 {
                    return Err(DomainError::invalid(
                        "participants",
                        "[]",
                        "a meeting needs participants",
                    ));
                }
                if let Some(wg) = &working_group {
                    let formed = self
                        .working_groups
                        .get(wg)
                        .ok_or_else(|| DomainError::not_found("working group", wg))?;
                    if on < *formed {
                        return Err(DomainError::invalid(
                            "on",
                            on,
                            format!("is before working group {wg} was formed on {formed}"),
                        ));
                    }
                }
                if self.meetings.contains_key(&id) {
                    return Err(DomainError::conflict("meeting", &id, "is already recorded"));
                }
                Ok(vec![MeetingEvent::MeetingHeld {
                    id,
                    kind,
                    title,
                    on,
                    participants,
                    scenes: sorted(scenes),
                    working_group,
                }])
            }
            MeetingCommand::RecordFinding {
                meeting,
                id,
                kind,
                text: body,
                scenes,
                answers,
            } => {
                let body = text("text", &body, MAX_TEXT)?;
                let on = *self
                    .meetings
                    .get(&meeting)
                    .ok_or_else(|| DomainError::not_found("meeting", &meeting))?;
                if self.findings.contains_key(&id) {
                    return Err(DomainError::conflict("finding", &id, "is already recorded"));
                }
                if let Some(issue) = &answers {
                    if kind != FindingKind::Countermeasure {
                        return Err(DomainError::invalid(
                            "answers",
                            issue,
                            "only a countermeasure answers an issue",
                        ));
                    }
                    match self.findings.get(issue) {
                        Some((_, FindingKind::Issue)) => {}
                        _ => return Err(DomainError::not_found("issue", issue)),
                    }
                }
                Ok(vec![MeetingEvent::FindingRecorded {
                    meeting,
                    id,
                    kind,
                    text: body,
                    scenes: sorted(scenes),
                    answers,
                    on,
                }])
            }
            MeetingCommand::FormWorkingGroup {
                id,
                name,
                scenes,
                on,
            } => {
                let name = text("name", &name, MAX_NAME)?;
                if self.working_groups.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "working group",
                        &id,
                        "is already formed",
                    ));
                }
                Ok(vec![MeetingEvent::WorkingGroupFormed {
                    id,
                    name,
                    scenes: sorted(scenes),
                    on,
                }])
            }
        }
    }

    fn apply(&mut self, event: &MeetingEvent) {
        match event {
            MeetingEvent::MeetingHeld { id, on, .. } => {
                self.meetings.insert(id.clone(), *on);
            }
            MeetingEvent::FindingRecorded {
                meeting, id, kind, ..
            } => {
                self.findings.insert(id.clone(), (meeting.clone(), *kind));
            }
            MeetingEvent::WorkingGroupFormed { id, on, .. } => {
                self.working_groups.insert(id.clone(), *on);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    fn held(id: &str, on: NaiveDate) -> MeetingEvent {
        MeetingEvent::MeetingHeld {
            id: MeetingId::parse("id", id).unwrap(),
            kind: MeetingKind::CoordinationCouncil,
            title: "連携推進会議".into(),
            on,
            participants: vec![Count {
                of: OrganisationType::MedicalAssociation,
                count: 3,
            }],
            scenes: vec![],
            working_group: None,
        }
    }

    #[test]
    fn a_finding_takes_its_meetings_date() {
        // given a meeting held on 2024-06-10
        let given = [held("m1", d(2024, 6, 10))];
        // when an issue is recorded for it
        let then = given_when::<MeetingRegister>(
            &given,
            MeetingCommand::RecordFinding {
                meeting: MeetingId::parse("m", "m1").unwrap(),
                id: FindingId::parse("f", "f1").unwrap(),
                kind: FindingKind::Issue,
                text: "退院時の情報共有が遅い".into(),
                scenes: vec![CareScene::AdmissionDischarge],
                answers: None,
            },
        )
        .unwrap();
        // then the finding is dated 2024-06-10
        assert!(
            matches!(&then[..], [MeetingEvent::FindingRecorded { on, .. }] if *on == d(2024, 6, 10))
        );
    }

    #[test]
    fn refuses_findings_of_unknown_meetings_and_meetings_without_participants() {
        let then = given_when::<MeetingRegister>(
            &[],
            MeetingCommand::RecordFinding {
                meeting: MeetingId::parse("m", "m9").unwrap(),
                id: FindingId::parse("f", "f1").unwrap(),
                kind: FindingKind::Issue,
                text: "x".into(),
                scenes: vec![],
                answers: None,
            },
        );
        assert!(matches!(then, Err(DomainError::NotFound { .. })));
        let then = given_when::<MeetingRegister>(
            &[],
            MeetingCommand::Hold {
                id: MeetingId::parse("m", "m1").unwrap(),
                kind: MeetingKind::CoordinationCouncil,
                title: "会議".into(),
                on: d(2024, 6, 1),
                participants: vec![],
                scenes: vec![],
                working_group: None,
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "participants")
        );
    }
}
