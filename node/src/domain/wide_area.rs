//! (ク) 在宅医療・介護連携に関する関係市区町村の連携 — the municipality's side: wide-area meetings
//! attended, unified forms (様式の統一) adopted, wide-area admission/discharge liaison agreements
//! (入退院支援ルール) joined.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{
    Count, MAX_NAME, MedicalInstitutionCode, OrganisationType, WideAreaId, counts, period, text,
};
use super::{Aggregate, DomainError, RecordKey};

/// Commands of the wide-area register.
#[derive(Debug, Clone, PartialEq)]
pub enum WideAreaCommand {
    /// Records that the municipality took part in a wide-area meeting.
    AttendMeeting {
        id: WideAreaId,
        title: String,
        /// The 二次医療圏 or other area it covered.
        area: String,
        on: NaiveDate,
        participants: Vec<Count<OrganisationType>>,
    },
    /// Adopts a version of a unified form from `on`; adopting another version of a form in use
    /// moves the municipality to it from `on` (the same record, a new adoption).
    AdoptUnifiedForm {
        id: WideAreaId,
        name: String,
        version: String,
        on: NaiveDate,
    },
    /// Withdraws a unified form; `last_day` is its last day in use.
    WithdrawUnifiedForm { id: WideAreaId, last_day: NaiveDate },
    /// Joins a liaison agreement with a hospital for a period (inclusive).
    JoinLiaisonAgreement {
        id: WideAreaId,
        /// The hospital, by its 医療機関コード: the prefecture names it from its registry.
        hospital: MedicalInstitutionCode,
        rule_version: String,
        /// How many days before discharge the hospital notifies the care manager.
        notification_lead_days: u32,
        /// Whom to contact at the hospital for the rule (e.g. 地域連携室 and its number).
        contact_point: String,
        first_day: NaiveDate,
        last_day: Option<NaiveDate>,
    },
    /// Leaves a liaison agreement; `last_day` is its last day in force.
    LeaveLiaisonAgreement { id: WideAreaId, last_day: NaiveDate },
}

/// Events of the wide-area register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum WideAreaEvent {
    WideAreaMeetingAttended {
        id: WideAreaId,
        title: String,
        area: String,
        on: NaiveDate,
        participants: Vec<Count<OrganisationType>>,
    },
    UnifiedFormAdopted {
        id: WideAreaId,
        name: String,
        version: String,
        on: NaiveDate,
        /// The version in use until the day before `on`, when this adoption moves the form to a
        /// new version (absent in a first adoption, and in events recorded before versions moved).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
    },
    UnifiedFormWithdrawn {
        id: WideAreaId,
        last_day: NaiveDate,
    },
    LiaisonAgreementJoined {
        id: WideAreaId,
        /// The hospital's 医療機関コード (a name in events recorded before codes were required).
        hospital: String,
        rule_version: String,
        notification_lead_days: u32,
        /// Empty in events recorded before the contact point was asked for.
        #[serde(default)]
        contact_point: String,
        first_day: NaiveDate,
        last_day: Option<NaiveDate>,
    },
    LiaisonAgreementLeft {
        id: WideAreaId,
        last_day: NaiveDate,
    },
}

/// The municipality's wide-area participation (ク).
#[derive(Debug, Clone, Default)]
pub struct WideAreaRegister {
    pub meetings: BTreeMap<WideAreaId, NaiveDate>,
    /// First and last day in use of each unified form.
    pub forms: BTreeMap<WideAreaId, (NaiveDate, Option<NaiveDate>)>,
    /// The version in use of each unified form, and the day it was adopted.
    pub form_versions: BTreeMap<WideAreaId, (String, NaiveDate)>,
    /// First and last day in force of each agreement.
    pub agreements: BTreeMap<WideAreaId, (NaiveDate, Option<NaiveDate>)>,
}

impl WideAreaRegister {
    /// Checks that `id` is one of the municipality's liaison agreements in force on `on`: what a
    /// consultation case handled under it must name (`field` names it in the error).
    pub fn agreement_in_force(
        &self,
        field: &str,
        id: &WideAreaId,
        on: NaiveDate,
    ) -> Result<(), DomainError> {
        let (first, last) = self.agreements.get(id).ok_or_else(|| {
            DomainError::invalid(field, id, "is not a liaison agreement of the municipality")
        })?;
        if on < *first || last.is_some_and(|last| on > last) {
            let until = last.map(|l| l.to_string()).unwrap_or_default();
            return Err(DomainError::invalid(
                field,
                id,
                format!("is in force {first}〜{until}, not on {on}"),
            ));
        }
        Ok(())
    }

    fn id_taken(&self, id: &WideAreaId) -> bool {
        self.meetings.contains_key(id)
            || self.forms.contains_key(id)
            || self.agreements.contains_key(id)
    }
}

fn end(
    what: &'static str,
    map: &BTreeMap<WideAreaId, (NaiveDate, Option<NaiveDate>)>,
    id: &WideAreaId,
    last_day: NaiveDate,
) -> Result<(), DomainError> {
    let (first, end) = map
        .get(id)
        .ok_or_else(|| DomainError::not_found(what, id))?;
    if let Some(end) = end {
        return Err(DomainError::conflict(
            what,
            id,
            format!("already ended on {end}"),
        ));
    }
    period("last_day", *first, last_day)
}

impl Aggregate for WideAreaRegister {
    type Command = WideAreaCommand;
    type Event = WideAreaEvent;

    fn command_key(command: &WideAreaCommand) -> Option<RecordKey> {
        use WideAreaCommand as C;
        Some(match command {
            C::AttendMeeting { id, .. } | C::JoinLiaisonAgreement { id, .. } => {
                RecordKey::new("wide-area record", id)
            }
            // Each version of a form is adopted once: a retry of an adoption is recognised, a
            // move to another version is a new adoption of the same record.
            C::AdoptUnifiedForm { id, version, .. } => {
                RecordKey::new("unified form version", format!("{id}@{}", version.trim()))
            }
            C::WithdrawUnifiedForm { id, .. } | C::LeaveLiaisonAgreement { id, .. } => {
                RecordKey::new("end of wide-area record", id)
            }
        })
    }

    fn event_key(event: &WideAreaEvent) -> Option<RecordKey> {
        use WideAreaEvent as E;
        Some(match event {
            E::WideAreaMeetingAttended { id, .. } | E::LiaisonAgreementJoined { id, .. } => {
                RecordKey::new("wide-area record", id)
            }
            E::UnifiedFormAdopted { id, version, .. } => {
                RecordKey::new("unified form version", format!("{id}@{version}"))
            }
            E::UnifiedFormWithdrawn { id, .. } | E::LiaisonAgreementLeft { id, .. } => {
                RecordKey::new("end of wide-area record", id)
            }
        })
    }

    fn decide(&self, command: WideAreaCommand) -> Result<Vec<WideAreaEvent>, DomainError> {
        let fresh = |id: &WideAreaId| {
            if self.id_taken(id) {
                Err(DomainError::conflict(
                    "wide-area record",
                    id,
                    "is already recorded",
                ))
            } else {
                Ok(())
            }
        };
        match command {
            WideAreaCommand::AttendMeeting {
                id,
                title,
                area,
                on,
                participants,
            } => {
                let title = text("title", &title, MAX_NAME)?;
                let area = text("area", &area, MAX_NAME)?;
                counts("participants", &participants)?;
                fresh(&id)?;
                Ok(vec![WideAreaEvent::WideAreaMeetingAttended {
                    id,
                    title,
                    area,
                    on,
                    participants,
                }])
            }
            WideAreaCommand::AdoptUnifiedForm {
                id,
                name,
                version,
                on,
            } => {
                let name = text("name", &name, MAX_NAME)?;
                let version = text("version", &version, 50)?;
                let in_use = self
                    .forms
                    .get(&id)
                    .filter(|(_, end)| end.is_none())
                    .and(self.form_versions.get(&id));
                let replaces = match in_use {
                    Some((current, _)) if *current == version => {
                        return Err(DomainError::conflict(
                            "unified form",
                            &id,
                            format!("version {version} is already in use"),
                        ));
                    }
                    Some((current, since)) => {
                        if on <= *since {
                            return Err(DomainError::invalid(
                                "on",
                                on,
                                format!(
                                    "version {current} is in use from {since}: a new version is adopted after that day"
                                ),
                            ));
                        }
                        Some(current.clone())
                    }
                    None => {
                        fresh(&id)?;
                        None
                    }
                };
                Ok(vec![WideAreaEvent::UnifiedFormAdopted {
                    id,
                    name,
                    version,
                    on,
                    replaces,
                }])
            }
            WideAreaCommand::WithdrawUnifiedForm { id, last_day } => {
                end("unified form", &self.forms, &id, last_day)?;
                Ok(vec![WideAreaEvent::UnifiedFormWithdrawn { id, last_day }])
            }
            WideAreaCommand::JoinLiaisonAgreement {
                id,
                hospital,
                rule_version,
                notification_lead_days,
                contact_point,
                first_day,
                last_day,
            } => {
                let hospital = hospital.as_str().to_owned();
                let contact_point = text("contact_point", &contact_point, MAX_NAME)?;
                let rule_version = text("rule_version", &rule_version, 50)?;
                if notification_lead_days > 90 {
                    return Err(DomainError::invalid(
                        "notification_lead_days",
                        notification_lead_days,
                        "must be at most 90",
                    ));
                }
                if let Some(last) = last_day {
                    period("last_day", first_day, last)?;
                }
                fresh(&id)?;
                Ok(vec![WideAreaEvent::LiaisonAgreementJoined {
                    id,
                    hospital,
                    rule_version,
                    notification_lead_days,
                    contact_point,
                    first_day,
                    last_day,
                }])
            }
            WideAreaCommand::LeaveLiaisonAgreement { id, last_day } => {
                end("liaison agreement", &self.agreements, &id, last_day)?;
                Ok(vec![WideAreaEvent::LiaisonAgreementLeft { id, last_day }])
            }
        }
    }

    fn apply(&mut self, event: &WideAreaEvent) {
        match event {
            WideAreaEvent::WideAreaMeetingAttended { id, on, .. } => {
                self.meetings.insert(id.clone(), *on);
            }
            WideAreaEvent::UnifiedFormAdopted {
                id,
                on,
                version,
                replaces,
                ..
            } => {
                if replaces.is_none() {
                    self.forms.insert(id.clone(), (*on, None));
                }
                self.form_versions
                    .insert(id.clone(), (version.clone(), *on));
            }
            WideAreaEvent::UnifiedFormWithdrawn { id, last_day } => {
                if let Some(f) = self.forms.get_mut(id) {
                    f.1 = Some(*last_day);
                }
            }
            WideAreaEvent::LiaisonAgreementJoined {
                id,
                first_day,
                last_day,
                ..
            } => {
                self.agreements.insert(id.clone(), (*first_day, *last_day));
            }
            WideAreaEvent::LiaisonAgreementLeft { id, last_day } => {
                if let Some(a) = self.agreements.get_mut(id) {
                    a.1 = Some(*last_day);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    #[test]
    fn refuses_leaving_an_agreement_twice_and_an_unknown_form() {
        let id = WideAreaId::parse("id", "w1").unwrap();
        // given an agreement joined and left
        let given = [
            WideAreaEvent::LiaisonAgreementJoined {
                id: id.clone(),
                hospital: "富山県立中央病院".into(),
                rule_version: "2".into(),
                notification_lead_days: 3,
                contact_point: "地域連携室 076-000-0000".into(),
                first_day: d(2023, 4, 1),
                last_day: None,
            },
            WideAreaEvent::LiaisonAgreementLeft {
                id: id.clone(),
                last_day: d(2024, 3, 31),
            },
        ];
        // when it is left again, then it is refused
        let then = given_when::<WideAreaRegister>(
            &given,
            WideAreaCommand::LeaveLiaisonAgreement {
                id: id.clone(),
                last_day: d(2024, 6, 30),
            },
        );
        assert!(matches!(then, Err(DomainError::Conflict { .. })));
        let then = given_when::<WideAreaRegister>(
            &given,
            WideAreaCommand::WithdrawUnifiedForm {
                id,
                last_day: d(2024, 6, 30),
            },
        );
        assert!(matches!(then, Err(DomainError::NotFound { .. })));
    }

    #[test]
    fn an_agreement_names_the_hospitals_contact_point() {
        let join = |contact_point: &str| WideAreaCommand::JoinLiaisonAgreement {
            id: WideAreaId::parse("id", "w2").unwrap(),
            hospital: MedicalInstitutionCode::parse("hospital", "1610000011").unwrap(),
            rule_version: "2024".into(),
            notification_lead_days: 3,
            contact_point: contact_point.into(),
            first_day: d(2024, 4, 1),
            last_day: None,
        };
        let then = given_when::<WideAreaRegister>(&[], join(" "));
        let Err(DomainError::Invalid { field, .. }) = then else {
            panic!("an empty contact point is refused: {then:?}");
        };
        assert_eq!(field, "contact_point");
        let then = given_when::<WideAreaRegister>(&[], join("地域連携室 076-000-0000")).unwrap();
        assert!(matches!(
            &then[..],
            [WideAreaEvent::LiaisonAgreementJoined { contact_point, .. }] if contact_point == "地域連携室 076-000-0000"
        ));
    }

    /// 002_d84b57721e905ed5.txt / DOMAIN (ク): a unified form (様式の統一) is revised by the
    /// prefecture; a municipality moves to the new version as a new adoption of the same form,
    /// its use continuing, and a retry of either adoption records nothing more.
    #[test]
    fn unified_forms_move_from_one_version_to_the_next() {
        let id = WideAreaId::parse("id", "discharge").unwrap();
        let adopt = |version: &str, on: NaiveDate| WideAreaCommand::AdoptUnifiedForm {
            id: id.clone(),
            name: "入退院支援連絡票".into(),
            version: version.into(),
            on,
        };
        let v1 = given_when::<WideAreaRegister>(&[], adopt("v1", d(2024, 4, 1))).unwrap();
        let v2 = given_when::<WideAreaRegister>(&v1, adopt("v2", d(2025, 4, 1))).unwrap();
        assert!(matches!(
            &v2[..],
            [WideAreaEvent::UnifiedFormAdopted { version, replaces: Some(old), .. }]
                if version == "v2" && old == "v1"
        ));
        // The same version twice, or a new one not after the one in use, is refused.
        let history: Vec<WideAreaEvent> = v1.iter().chain(&v2).cloned().collect();
        assert!(matches!(
            given_when::<WideAreaRegister>(&history, adopt("v2", d(2025, 6, 1))),
            Err(DomainError::Conflict { .. })
        ));
        let Err(DomainError::Invalid { field, .. }) =
            given_when::<WideAreaRegister>(&v1, adopt("v2", d(2024, 4, 1)))
        else {
            panic!("a version adopted on the day of the one in use is refused");
        };
        assert_eq!(field, "on");
        // Each adoption is its own record: v1 and v2 have different keys.
        assert_ne!(
            WideAreaRegister::event_key(&v1[0]),
            WideAreaRegister::event_key(&v2[0])
        );
    }
}
