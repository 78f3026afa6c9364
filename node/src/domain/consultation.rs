//! (オ) 在宅医療・介護連携に関する相談支援: the consultation desk and its cases.
//!
//! A case may be about an identifiable person (要配慮個人情報). The person's details never reach
//! the domain in clear: the application seals them ([`SealedPersonal`]) with the data subject's
//! key before the command is decided, and erasing the subject destroys that key. The domain only
//! sees which subject a case concerns, so counts and statuses are unaffected by erasure.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{
    CareScene, CaseId, Count, DeskId, MAX_NAME, MAX_TEXT, Profession, SubjectId, WideAreaId,
    counts, optional_text, period, text, vocabulary,
};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// Who runs a consultation desk.
    DeskHost {
        /// 市区町村 (直営)
        Municipality = ("municipality", "市区町村"),
        /// 郡市区医師会
        MedicalAssociation = ("medical_association", "医師会"),
        /// 地域包括支援センター
        CommunityGeneralSupportCenter = ("community_general_support_center", "地域包括支援センター"),
        /// 病院
        Hospital = ("hospital", "病院"),
        /// その他
        Other = ("other", "その他"),
    }
);

vocabulary!(
    /// Who brought a consultation.
    Referrer {
        /// 介護支援専門員
        CareManager = ("care_manager", "介護支援専門員"),
        /// 病院 (地域連携室等)
        Hospital = ("hospital", "病院"),
        /// 診療所
        Clinic = ("clinic", "診療所"),
        /// 訪問看護
        VisitingNursing = ("visiting_nursing", "訪問看護"),
        /// 地域包括支援センター
        CommunityGeneralSupportCenter = ("community_general_support_center", "地域包括支援センター"),
        /// 介護事業者
        CareProvider = ("care_provider", "介護事業者"),
        /// 住民・家族
        Resident = ("resident", "住民・家族"),
        /// その他
        Other = ("other", "その他"),
    }
);

vocabulary!(
    /// What a consultation is about.
    Topic {
        /// 訪問診療・往診の依頼先
        HomeVisitProvider = ("home_visit_provider", "訪問診療・往診先"),
        /// 退院調整
        Discharge = ("discharge", "退院調整"),
        /// 医療と介護の連携
        Coordination = ("coordination", "医療介護連携"),
        /// 看取り
        EndOfLife = ("end_of_life", "看取り"),
        /// 認知症
        Dementia = ("dementia", "認知症"),
        /// その他
        Other = ("other", "その他"),
    }
);

vocabulary!(
    /// What the desk did for a case.
    CaseAction {
        /// 情報提供
        Information = ("information", "情報提供"),
        /// 紹介・つなぎ
        Referral = ("referral", "紹介"),
        /// 退院調整
        DischargeCoordination = ("discharge_coordination", "退院調整"),
        /// 関係者間の調整
        Coordination = ("coordination", "関係者調整"),
        /// その他
        Other = ("other", "その他"),
    }
);

/// The details of the person a case is about, in clear. Exists only between the caller and the
/// sealing; it is never part of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalDetails {
    pub name: String,
    pub birth_date: Option<NaiveDate>,
    pub address: Option<String>,
    pub phone: Option<String>,
    /// Free notes about the person's situation.
    pub notes: Option<String>,
}

impl PersonalDetails {
    /// The person a case is about: details are kept only under a data subject, whose key seals
    /// them and whose erasure destroys them, so details without a subject are refused.
    pub fn of_subject(
        subject: Option<SubjectId>,
        details: Option<PersonalDetails>,
    ) -> Result<Option<(SubjectId, PersonalDetails)>, DomainError> {
        match (details, subject) {
            (None, _) => Ok(None),
            (Some(_), None) => Err(DomainError::invalid(
                "subject",
                "",
                "is required when personal details are given",
            )),
            (Some(details), Some(subject)) => Ok(Some((subject, details.validated()?))),
        }
    }

    /// Checks the details and returns them trimmed.
    pub fn validated(self) -> Result<Self, DomainError> {
        Ok(Self {
            name: text("personal.name", &self.name, MAX_NAME)?,
            birth_date: self.birth_date,
            address: optional_text(
                "personal.address",
                self.address.as_deref().unwrap_or(""),
                MAX_NAME,
            )?,
            phone: optional_text("personal.phone", self.phone.as_deref().unwrap_or(""), 50)?,
            notes: optional_text(
                "personal.notes",
                self.notes.as_deref().unwrap_or(""),
                MAX_TEXT,
            )?,
        })
    }
}

/// A person's details sealed with the data subject's key (authenticated encryption); only the
/// node holding that key can open them, and nobody once the subject is erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedPersonal {
    pub subject: SubjectId,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Commands of the consultation register.
#[derive(Debug, Clone, PartialEq)]
pub enum ConsultationCommand {
    /// Opens a consultation desk from `on`.
    OpenDesk {
        id: DeskId,
        name: String,
        host: DeskHost,
        staff: Vec<Count<Profession>>,
        hours: String,
        on: NaiveDate,
    },
    /// Closes a desk; `last_day` is its last day of operation.
    CloseDesk { id: DeskId, last_day: NaiveDate },
    /// Opens a case at a desk operating on `on`.
    OpenCase {
        id: CaseId,
        desk: DeskId,
        on: NaiveDate,
        referrer: Referrer,
        topic: Topic,
        scenes: Vec<CareScene>,
        personal: Option<SealedPersonal>,
        /// The liaison agreement (入退院支援ルール) the case was handled under, when the
        /// agreement's hospital handed the discharge over; the programme service checks it is
        /// one of the municipality's in force on `on`.
        liaison_agreement: Option<WideAreaId>,
    },
    /// Records what the desk did.
    RecordAction {
        case: CaseId,
        action: CaseAction,
        on: NaiveDate,
    },
    /// Closes a case.
    CloseCase { case: CaseId, on: NaiveDate },
    /// Erases a data subject (on request): their sealed details become unreadable for good.
    EraseSubject { subject: SubjectId, on: NaiveDate },
}

/// Events of the consultation register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ConsultationEvent {
    ConsultationDeskOpened {
        id: DeskId,
        name: String,
        host: DeskHost,
        staff: Vec<Count<Profession>>,
        hours: String,
        on: NaiveDate,
    },
    ConsultationDeskClosed {
        id: DeskId,
        last_day: NaiveDate,
    },
    ConsultationCaseOpened {
        id: CaseId,
        desk: DeskId,
        on: NaiveDate,
        referrer: Referrer,
        topic: Topic,
        scenes: Vec<CareScene>,
        personal: Option<SealedPersonal>,
        /// Absent in cases recorded before cases named their agreement.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        liaison_agreement: Option<WideAreaId>,
    },
    ConsultationActionRecorded {
        case: CaseId,
        action: CaseAction,
        on: NaiveDate,
    },
    ConsultationCaseClosed {
        case: CaseId,
        on: NaiveDate,
    },
    /// Records that the subject's key was destroyed; carries no personal data.
    DataSubjectErased {
        subject: SubjectId,
        on: NaiveDate,
    },
}

/// A case as the register knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseState {
    pub desk: DeskId,
    pub opened_on: NaiveDate,
    pub referrer: Referrer,
    pub topic: Topic,
    pub actions: Vec<(CaseAction, NaiveDate)>,
    pub closed_on: Option<NaiveDate>,
    pub personal: Option<SealedPersonal>,
}

/// The municipality's consultation desks and cases (オ).
#[derive(Debug, Clone, Default)]
pub struct ConsultationRegister {
    /// First and last day of operation of each desk.
    pub desks: BTreeMap<DeskId, (NaiveDate, Option<NaiveDate>)>,
    pub cases: BTreeMap<CaseId, CaseState>,
    pub erased: BTreeMap<SubjectId, NaiveDate>,
}

impl ConsultationRegister {
    fn case(&self, id: &CaseId) -> Result<&CaseState, DomainError> {
        self.cases
            .get(id)
            .ok_or_else(|| DomainError::not_found("consultation case", id))
    }
}

/// The record of an action: one of each kind per case and day, so that a retried request does
/// not count the same action twice.
fn action_key(case: &CaseId, action: CaseAction, on: NaiveDate) -> RecordKey {
    RecordKey::new(
        "consultation action",
        format!("{case} {} {on}", action.code()),
    )
}

fn open_case<'a>(
    r: &'a ConsultationRegister,
    id: &CaseId,
    on: NaiveDate,
) -> Result<&'a CaseState, DomainError> {
    let case = r.case(id)?;
    if let Some(closed) = case.closed_on {
        return Err(DomainError::conflict(
            "consultation case",
            id,
            format!("was closed on {closed}"),
        ));
    }
    if on < case.opened_on {
        return Err(DomainError::invalid(
            "on",
            on,
            format!("is before the case was opened on {}", case.opened_on),
        ));
    }
    Ok(case)
}

impl Aggregate for ConsultationRegister {
    type Command = ConsultationCommand;
    type Event = ConsultationEvent;

    fn command_key(command: &ConsultationCommand) -> Option<RecordKey> {
        use ConsultationCommand as C;
        Some(match command {
            C::OpenDesk { id, .. } => RecordKey::new("consultation desk", id),
            C::CloseDesk { id, .. } => RecordKey::new("closing of consultation desk", id),
            C::OpenCase { id, .. } => RecordKey::new("consultation case", id),
            C::RecordAction { case, action, on } => action_key(case, *action, *on),
            C::CloseCase { case, .. } => RecordKey::new("closing of consultation case", case),
            C::EraseSubject { .. } => return None,
        })
    }

    fn event_key(event: &ConsultationEvent) -> Option<RecordKey> {
        use ConsultationEvent as E;
        Some(match event {
            E::ConsultationDeskOpened { id, .. } => RecordKey::new("consultation desk", id),
            E::ConsultationDeskClosed { id, .. } => {
                RecordKey::new("closing of consultation desk", id)
            }
            E::ConsultationCaseOpened { id, .. } => RecordKey::new("consultation case", id),
            E::ConsultationActionRecorded { case, action, on } => action_key(case, *action, *on),
            E::ConsultationCaseClosed { case, .. } => {
                RecordKey::new("closing of consultation case", case)
            }
            E::DataSubjectErased { .. } => return None,
        })
    }

    fn decide(&self, command: ConsultationCommand) -> Result<Vec<ConsultationEvent>, DomainError> {
        use ConsultationCommand as C;
        use ConsultationEvent as E;
        match command {
            C::OpenDesk {
                id,
                name,
                host,
                staff,
                hours,
                on,
            } => {
                let name = text("name", &name, MAX_NAME)?;
                let hours = text("hours", &hours, MAX_NAME)?;
                if counts("staff", &staff)? == 0 {
                    return Err(DomainError::invalid("staff", "[]", "a desk needs staff"));
                }
                if self.desks.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "consultation desk",
                        &id,
                        "is already opened",
                    ));
                }
                Ok(vec![E::ConsultationDeskOpened {
                    id,
                    name,
                    host,
                    staff,
                    hours,
                    on,
                }])
            }
            C::CloseDesk { id, last_day } => {
                let (first, end) = self
                    .desks
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("consultation desk", &id))?;
                if let Some(end) = end {
                    return Err(DomainError::conflict(
                        "consultation desk",
                        &id,
                        format!("was closed after {end}"),
                    ));
                }
                period("last_day", *first, last_day)?;
                Ok(vec![E::ConsultationDeskClosed { id, last_day }])
            }
            C::OpenCase {
                id,
                desk,
                on,
                referrer,
                topic,
                mut scenes,
                personal,
                liaison_agreement,
            } => {
                let (first, end) = self
                    .desks
                    .get(&desk)
                    .ok_or_else(|| DomainError::not_found("consultation desk", &desk))?;
                if on < *first || end.is_some_and(|end| on > end) {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("desk {desk} is not operating that day"),
                    ));
                }
                if let Some(p) = &personal
                    && self.erased.contains_key(&p.subject)
                {
                    return Err(DomainError::conflict(
                        "data subject",
                        &p.subject,
                        "is erased; open the case under a new subject",
                    ));
                }
                if self.cases.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "consultation case",
                        &id,
                        "is already opened",
                    ));
                }
                scenes.sort();
                scenes.dedup();
                Ok(vec![E::ConsultationCaseOpened {
                    id,
                    desk,
                    on,
                    referrer,
                    topic,
                    scenes,
                    personal,
                    liaison_agreement,
                }])
            }
            C::RecordAction { case, action, on } => {
                open_case(self, &case, on)?;
                Ok(vec![E::ConsultationActionRecorded { case, action, on }])
            }
            C::CloseCase { case, on } => {
                open_case(self, &case, on)?;
                Ok(vec![E::ConsultationCaseClosed { case, on }])
            }
            C::EraseSubject { subject, on } => {
                if self.erased.contains_key(&subject) {
                    return Ok(vec![]);
                }
                let known = self
                    .cases
                    .values()
                    .any(|c| c.personal.as_ref().is_some_and(|p| p.subject == subject));
                if !known {
                    return Err(DomainError::not_found("data subject", &subject));
                }
                Ok(vec![E::DataSubjectErased { subject, on }])
            }
        }
    }

    fn apply(&mut self, event: &ConsultationEvent) {
        use ConsultationEvent as E;
        match event {
            E::ConsultationDeskOpened { id, on, .. } => {
                self.desks.insert(id.clone(), (*on, None));
            }
            E::ConsultationDeskClosed { id, last_day } => {
                if let Some(d) = self.desks.get_mut(id) {
                    d.1 = Some(*last_day);
                }
            }
            E::ConsultationCaseOpened {
                id,
                desk,
                on,
                referrer,
                topic,
                personal,
                ..
            } => {
                self.cases.insert(
                    id.clone(),
                    CaseState {
                        desk: desk.clone(),
                        opened_on: *on,
                        referrer: *referrer,
                        topic: *topic,
                        actions: vec![],
                        closed_on: None,
                        personal: personal.clone(),
                    },
                );
            }
            E::ConsultationActionRecorded { case, action, on } => {
                if let Some(c) = self.cases.get_mut(case) {
                    c.actions.push((*action, *on));
                }
            }
            E::ConsultationCaseClosed { case, on } => {
                if let Some(c) = self.cases.get_mut(case) {
                    c.closed_on = Some(*on);
                }
            }
            E::DataSubjectErased { subject, on } => {
                self.erased.insert(subject.clone(), *on);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    fn desk_opened() -> ConsultationEvent {
        ConsultationEvent::ConsultationDeskOpened {
            id: DeskId::parse("id", "desk").unwrap(),
            name: "在宅医療・介護連携支援センター".into(),
            host: DeskHost::MedicalAssociation,
            staff: vec![Count {
                of: Profession::Nurse,
                count: 1,
            }],
            hours: "平日 9:00-17:00".into(),
            on: d(2024, 4, 1),
        }
    }

    fn open_case(on: NaiveDate) -> ConsultationCommand {
        ConsultationCommand::OpenCase {
            id: CaseId::parse("id", "c1").unwrap(),
            desk: DeskId::parse("id", "desk").unwrap(),
            on,
            referrer: Referrer::CareManager,
            topic: Topic::Discharge,
            scenes: vec![CareScene::AdmissionDischarge],
            personal: None,
            liaison_agreement: None,
        }
    }

    #[test]
    fn a_case_needs_a_desk_operating_that_day() {
        // given a desk operating 2024-04-01 ..= 2024-09-30
        let given = [
            desk_opened(),
            ConsultationEvent::ConsultationDeskClosed {
                id: DeskId::parse("id", "desk").unwrap(),
                last_day: d(2024, 9, 30),
            },
        ];
        // when a case is opened on its last day, then it is accepted
        assert_eq!(
            given_when::<ConsultationRegister>(&given, open_case(d(2024, 9, 30)))
                .unwrap()
                .len(),
            1
        );
        // when a case is opened the day after, then it is refused naming the date
        let then = given_when::<ConsultationRegister>(&given, open_case(d(2024, 10, 1)));
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "on" && value == "2024-10-01")
        );
    }

    #[test]
    fn erasing_is_idempotent_and_needs_a_known_subject() {
        let subject = SubjectId::parse("s", "s1").unwrap();
        let erase = || ConsultationCommand::EraseSubject {
            subject: subject.clone(),
            on: d(2024, 12, 1),
        };
        // given no case about the subject, when erased, then not found
        assert!(matches!(
            given_when::<ConsultationRegister>(&[desk_opened()], erase()),
            Err(DomainError::NotFound { .. })
        ));
        // given a case about the subject that was erased, when erased again, then nothing happens
        let given = [
            desk_opened(),
            ConsultationEvent::ConsultationCaseOpened {
                id: CaseId::parse("id", "c1").unwrap(),
                desk: DeskId::parse("id", "desk").unwrap(),
                on: d(2024, 5, 1),
                referrer: Referrer::Resident,
                topic: Topic::EndOfLife,
                scenes: vec![],
                personal: Some(SealedPersonal {
                    subject: subject.clone(),
                    nonce: vec![0; 24],
                    ciphertext: vec![1, 2, 3],
                }),
                liaison_agreement: None,
            },
        ];
        assert_eq!(
            given_when::<ConsultationRegister>(&given, erase())
                .unwrap()
                .len(),
            1
        );
        let mut erased = given.to_vec();
        erased.push(ConsultationEvent::DataSubjectErased {
            subject: subject.clone(),
            on: d(2024, 12, 1),
        });
        assert_eq!(
            given_when::<ConsultationRegister>(&erased, erase()),
            Ok(vec![])
        );
    }
}
