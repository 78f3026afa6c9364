//! (カ) 医療・介護関係者の研修: trainings with participants by profession and an evaluation.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{CareScene, Count, MAX_NAME, Profession, TrainingId, counts, text, vocabulary};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// The kind of a training.
    TrainingKind {
        /// 多職種連携のグループワーク
        MultiProfessionalGroupWork = ("multi_professional_group_work", "多職種グループワーク"),
        /// 介護職向けの医療に関する研修
        MedicalTopicsForCareStaff = ("medical_topics_for_care_staff", "介護関係者向け医療研修"),
        /// 医療職向けの介護に関する研修
        CareTopicsForMedicalStaff = ("care_topics_for_medical_staff", "医療関係者向け介護研修"),
        /// その他の研修
        Other = ("other", "その他"),
    }
);

/// Commands of the training register.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainingCommand {
    /// Records a training that took place.
    Hold {
        id: TrainingId,
        kind: TrainingKind,
        title: String,
        on: NaiveDate,
        participants: Vec<Count<Profession>>,
        scenes: Vec<CareScene>,
    },
    /// Records the evaluation survey of a training.
    Evaluate {
        id: TrainingId,
        respondents: u32,
        /// How many respondents found it useful.
        satisfied: u32,
        on: NaiveDate,
    },
}

/// Events of the training register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TrainingEvent {
    TrainingHeld {
        id: TrainingId,
        kind: TrainingKind,
        title: String,
        on: NaiveDate,
        participants: Vec<Count<Profession>>,
        scenes: Vec<CareScene>,
    },
    TrainingEvaluated {
        id: TrainingId,
        respondents: u32,
        satisfied: u32,
        on: NaiveDate,
    },
}

/// The municipality's trainings (カ): date and total participants of each.
#[derive(Debug, Clone, Default)]
pub struct TrainingRegister {
    pub trainings: BTreeMap<TrainingId, (NaiveDate, u32, bool)>,
}

impl Aggregate for TrainingRegister {
    type Command = TrainingCommand;
    type Event = TrainingEvent;

    fn command_key(command: &TrainingCommand) -> Option<RecordKey> {
        Some(match command {
            TrainingCommand::Hold { id, .. } => RecordKey::new("training", id),
            TrainingCommand::Evaluate { id, .. } => RecordKey::new("training evaluation", id),
        })
    }

    fn event_key(event: &TrainingEvent) -> Option<RecordKey> {
        Some(match event {
            TrainingEvent::TrainingHeld { id, .. } => RecordKey::new("training", id),
            TrainingEvent::TrainingEvaluated { id, .. } => {
                RecordKey::new("training evaluation", id)
            }
        })
    }

    fn decide(&self, command: TrainingCommand) -> Result<Vec<TrainingEvent>, DomainError> {
        match command {
            TrainingCommand::Hold {
                id,
                kind,
                title,
                on,
                participants,
                mut scenes,
            } => {
                let title = text("title", &title, MAX_NAME)?;
                if counts("participants", &participants)? == 0 {
                    return Err(DomainError::invalid(
                        "participants",
                        "[]",
                        "a training needs participants",
                    ));
                }
                if self.trainings.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "training",
                        &id,
                        "is already recorded",
                    ));
                }
                scenes.sort();
                scenes.dedup();
                Ok(vec![TrainingEvent::TrainingHeld {
                    id,
                    kind,
                    title,
                    on,
                    participants,
                    scenes,
                }])
            }
            TrainingCommand::Evaluate {
                id,
                respondents,
                satisfied,
                on,
            } => {
                let (held, participants, evaluated) = self
                    .trainings
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("training", &id))?;
                if *evaluated {
                    return Err(DomainError::conflict(
                        "training",
                        &id,
                        "is already evaluated",
                    ));
                }
                if respondents > *participants {
                    return Err(DomainError::invalid(
                        "respondents",
                        respondents,
                        format!("exceeds the {participants} participants"),
                    ));
                }
                if satisfied > respondents {
                    return Err(DomainError::invalid(
                        "satisfied",
                        satisfied,
                        format!("exceeds the {respondents} respondents"),
                    ));
                }
                if on < *held {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("is before the training on {held}"),
                    ));
                }
                Ok(vec![TrainingEvent::TrainingEvaluated {
                    id,
                    respondents,
                    satisfied,
                    on,
                }])
            }
        }
    }

    fn apply(&mut self, event: &TrainingEvent) {
        match event {
            TrainingEvent::TrainingHeld {
                id,
                on,
                participants,
                ..
            } => {
                let total = participants.iter().map(|c| c.count).sum();
                self.trainings.insert(id.clone(), (*on, total, false));
            }
            TrainingEvent::TrainingEvaluated { id, .. } => {
                if let Some(t) = self.trainings.get_mut(id) {
                    t.2 = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::resources::tests::d;
    use crate::domain::{decide_in_history, given_when};

    fn hold(participants: u32) -> TrainingCommand {
        TrainingCommand::Hold {
            id: TrainingId::parse("id", "t1").unwrap(),
            kind: TrainingKind::MultiProfessionalGroupWork,
            title: " 多職種連携研修 ".into(),
            on: d(2024, 6, 1),
            participants: vec![Count {
                of: Profession::Nurse,
                count: participants,
            }],
            scenes: vec![CareScene::EndOfLife, CareScene::EndOfLife],
        }
    }

    #[test]
    fn a_retried_training_records_nothing_even_after_its_evaluation() {
        // given a training held (its title trimmed, its scenes deduplicated) and then evaluated
        let mut history = TrainingRegister::default().decide(hold(12)).unwrap();
        let evaluate = TrainingCommand::Evaluate {
            id: TrainingId::parse("id", "t1").unwrap(),
            respondents: 10,
            satisfied: 9,
            on: d(2024, 6, 2),
        };
        history.extend(
            TrainingRegister::from_events(&history)
                .decide(evaluate.clone())
                .unwrap(),
        );
        // when the same requests come again, then nothing is recorded
        assert_eq!(
            decide_in_history::<TrainingRegister>(&history, hold(12), PartialEq::eq),
            Ok(vec![])
        );
        assert_eq!(
            decide_in_history::<TrainingRegister>(&history, evaluate, PartialEq::eq),
            Ok(vec![])
        );
        // when the same id comes with other content, then it is already recorded, by its id
        assert_eq!(
            decide_in_history::<TrainingRegister>(&history, hold(13), PartialEq::eq),
            Err(DomainError::AlreadyRecorded {
                what: "training",
                id: "t1".into()
            })
        );
    }

    #[test]
    fn every_event_of_a_training_command_carries_the_commands_key() {
        let held = TrainingRegister::default().decide(hold(12)).unwrap();
        for e in &held {
            assert_eq!(
                TrainingRegister::event_key(e),
                TrainingRegister::command_key(&hold(12))
            );
        }
    }

    #[test]
    fn an_evaluation_cannot_count_more_respondents_than_participants() {
        // given a training with 12 participants
        let id = TrainingId::parse("id", "t1").unwrap();
        let given = [TrainingEvent::TrainingHeld {
            id: id.clone(),
            kind: TrainingKind::MultiProfessionalGroupWork,
            title: "多職種連携研修".into(),
            on: d(2024, 9, 1),
            participants: vec![
                Count {
                    of: Profession::Physician,
                    count: 2,
                },
                Count {
                    of: Profession::CareManager,
                    count: 10,
                },
            ],
            scenes: vec![CareScene::EndOfLife],
        }];
        // when 13 respondents are recorded, then it is refused naming the value
        let then = given_when::<TrainingRegister>(
            &given,
            TrainingCommand::Evaluate {
                id,
                respondents: 13,
                satisfied: 1,
                on: d(2024, 9, 2),
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "respondents" && value == "13")
        );
    }

    #[test]
    fn refuses_a_profession_counted_twice() {
        let then = given_when::<TrainingRegister>(
            &[],
            TrainingCommand::Hold {
                id: TrainingId::parse("id", "t1").unwrap(),
                kind: TrainingKind::Other,
                title: "研修".into(),
                on: d(2024, 9, 1),
                participants: vec![
                    Count {
                        of: Profession::Nurse,
                        count: 2,
                    },
                    Count {
                        of: Profession::Nurse,
                        count: 1,
                    },
                ],
                scenes: vec![],
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "participants[1].of")
        );
    }
}
