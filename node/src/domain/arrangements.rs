//! (ウ) 切れ目のない在宅医療と在宅介護の提供体制の構築推進: provision arrangements — 主治医・副主治医
//! pairings, hospitals secured for sudden deterioration, backup beds, 24-hour rotation groups —
//! each in force over a period.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{ArrangementId, CareScene, MAX_NAME, ResourceId, period, text};
use super::{Aggregate, DomainError, RecordKey};

/// What an arrangement secures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrangementKind {
    /// 主治医・副主治医制: a primary physician's clinic paired with a secondary one.
    PhysicianPairing {
        primary: ResourceId,
        secondary: ResourceId,
    },
    /// 急変時診療医療機関: a hospital that takes patients whose condition suddenly worsens.
    EmergencyHospital { hospital: ResourceId },
    /// 後方支援病床: beds a hospital keeps for home-care patients.
    BackupBeds { hospital: ResourceId, beds: u32 },
    /// 24時間対応の輪番・グループ: clinics taking turns to answer around the clock.
    RoundTheClockGroup { members: Vec<ResourceId> },
}

impl ArrangementKind {
    /// Builds an arrangement of kind `kind` (its code, e.g. `physician_pairing`, or its Japanese
    /// name, e.g. 主治医・副主治医制) between `resources`: a pairing names exactly two (primary,
    /// then secondary), an emergency hospital and backup beds exactly one, a round-the-clock
    /// group any number; `beds` counts only for backup beds.
    pub fn from_parts(
        kind: &str,
        resources: Vec<ResourceId>,
        beds: u32,
    ) -> Result<Self, DomainError> {
        let named = |n: usize| {
            DomainError::invalid(
                "resources",
                resources.len(),
                format!("this kind names exactly {n} resource(s)"),
            )
        };
        Ok(match kind {
            "physician_pairing" | "主治医・副主治医制" => match resources.as_slice() {
                [primary, secondary] => Self::PhysicianPairing {
                    primary: primary.clone(),
                    secondary: secondary.clone(),
                },
                _ => return Err(named(2)),
            },
            "emergency_hospital" | "急変時診療医療機関" => match resources.as_slice() {
                [hospital] => Self::EmergencyHospital {
                    hospital: hospital.clone(),
                },
                _ => return Err(named(1)),
            },
            "backup_beds" | "後方支援病床" => match resources.as_slice() {
                [hospital] => Self::BackupBeds {
                    hospital: hospital.clone(),
                    beds,
                },
                _ => return Err(named(1)),
            },
            "round_the_clock_group" | "24時間対応グループ" => {
                Self::RoundTheClockGroup { members: resources }
            }
            other => {
                return Err(DomainError::invalid(
                    "kind",
                    other,
                    "must be one of physician_pairing, emergency_hospital, backup_beds, round_the_clock_group",
                ));
            }
        })
    }
}

/// Commands of the arrangement register.
#[derive(Debug, Clone, PartialEq)]
pub enum ArrangementCommand {
    /// Records an arrangement in force from `first_day` (to `last_day`, inclusive, if known).
    Establish {
        id: ArrangementId,
        name: String,
        kind: ArrangementKind,
        first_day: NaiveDate,
        last_day: Option<NaiveDate>,
        /// The care scenes (場面) it serves (backup beds serve 急変時の対応, a pairing 日常の療養支援…).
        scenes: Vec<CareScene>,
    },
    /// Ends an arrangement; `last_day` is the last day it was in force.
    End {
        id: ArrangementId,
        last_day: NaiveDate,
    },
}

/// Events of the arrangement register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ArrangementEvent {
    ArrangementEstablished {
        id: ArrangementId,
        name: String,
        kind: ArrangementKind,
        first_day: NaiveDate,
        last_day: Option<NaiveDate>,
        /// Absent in arrangements recorded before scenes were kept.
        #[serde(default)]
        scenes: Vec<CareScene>,
    },
    ArrangementEnded {
        id: ArrangementId,
        last_day: NaiveDate,
    },
}

/// The municipality's provision arrangements (ウ): first and last day in force of each.
#[derive(Debug, Clone, Default)]
pub struct ArrangementRegister {
    pub arrangements: BTreeMap<ArrangementId, (NaiveDate, Option<NaiveDate>)>,
}

impl Aggregate for ArrangementRegister {
    type Command = ArrangementCommand;
    type Event = ArrangementEvent;

    fn command_key(command: &ArrangementCommand) -> Option<RecordKey> {
        Some(match command {
            ArrangementCommand::Establish { id, .. } => RecordKey::new("arrangement", id),
            ArrangementCommand::End { id, .. } => RecordKey::new("end of arrangement", id),
        })
    }

    fn event_key(event: &ArrangementEvent) -> Option<RecordKey> {
        Some(match event {
            ArrangementEvent::ArrangementEstablished { id, .. } => {
                RecordKey::new("arrangement", id)
            }
            ArrangementEvent::ArrangementEnded { id, .. } => {
                RecordKey::new("end of arrangement", id)
            }
        })
    }

    fn decide(&self, command: ArrangementCommand) -> Result<Vec<ArrangementEvent>, DomainError> {
        match command {
            ArrangementCommand::Establish {
                id,
                name,
                kind,
                first_day,
                last_day,
                mut scenes,
            } => {
                let name = text("name", &name, MAX_NAME)?;
                scenes.sort();
                scenes.dedup();
                if let Some(last) = last_day {
                    period("last_day", first_day, last)?;
                }
                match &kind {
                    ArrangementKind::PhysicianPairing { primary, secondary }
                        if primary == secondary =>
                    {
                        return Err(DomainError::invalid(
                            "kind.secondary",
                            secondary,
                            "must differ from the primary physician's resource",
                        ));
                    }
                    ArrangementKind::BackupBeds { beds: 0, .. } => {
                        return Err(DomainError::invalid("kind.beds", 0, "must be at least 1"));
                    }
                    ArrangementKind::RoundTheClockGroup { members } if members.len() < 2 => {
                        return Err(DomainError::invalid(
                            "kind.members",
                            members.len(),
                            "a rotation needs at least 2 members",
                        ));
                    }
                    _ => {}
                }
                if self.arrangements.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "arrangement",
                        &id,
                        "is already recorded",
                    ));
                }
                Ok(vec![ArrangementEvent::ArrangementEstablished {
                    id,
                    name,
                    kind,
                    first_day,
                    last_day,
                    scenes,
                }])
            }
            ArrangementCommand::End { id, last_day } => {
                let (first, end) = self
                    .arrangements
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("arrangement", &id))?;
                if let Some(end) = end {
                    return Err(DomainError::conflict(
                        "arrangement",
                        &id,
                        format!("already ended on {end}"),
                    ));
                }
                period("last_day", *first, last_day)?;
                Ok(vec![ArrangementEvent::ArrangementEnded { id, last_day }])
            }
        }
    }

    fn apply(&mut self, event: &ArrangementEvent) {
        match event {
            ArrangementEvent::ArrangementEstablished {
                id,
                first_day,
                last_day,
                ..
            } => {
                self.arrangements
                    .insert(id.clone(), (*first_day, *last_day));
            }
            ArrangementEvent::ArrangementEnded { id, last_day } => {
                if let Some(a) = self.arrangements.get_mut(id) {
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

    fn rid(s: &str) -> ResourceId {
        ResourceId::parse("r", s).unwrap()
    }

    #[test]
    fn refuses_a_pairing_with_itself_and_an_end_before_the_start() {
        let then = given_when::<ArrangementRegister>(
            &[],
            ArrangementCommand::Establish {
                id: ArrangementId::parse("id", "a1").unwrap(),
                name: "主治医・副主治医制".into(),
                kind: ArrangementKind::PhysicianPairing {
                    primary: rid("r1"),
                    secondary: rid("r1"),
                },
                first_day: d(2024, 4, 1),
                last_day: None,
                scenes: vec![],
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "kind.secondary")
        );
        // given an arrangement in force from 2024-04-01
        let given = [ArrangementEvent::ArrangementEstablished {
            id: ArrangementId::parse("id", "a1").unwrap(),
            name: "後方支援病床".into(),
            kind: ArrangementKind::BackupBeds {
                hospital: rid("h1"),
                beds: 2,
            },
            first_day: d(2024, 4, 1),
            last_day: None,
            scenes: vec![CareScene::SuddenDeterioration],
        }];
        // when it is ended before it started, then it is refused
        let then = given_when::<ArrangementRegister>(
            &given,
            ArrangementCommand::End {
                id: ArrangementId::parse("id", "a1").unwrap(),
                last_day: d(2024, 3, 31),
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "last_day" && value == "2024-03-31")
        );
    }
}
