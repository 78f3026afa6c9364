//! (エ) 医療・介護関係者の情報共有の支援: information-sharing tools (sheets, 連絡帳, 地域連携クリティカル
//! パス, ICT systems) with versions, a usage manual, adoption and retirement.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::values::{CareScene, MAX_NAME, ToolId, optional_text, period, text, vocabulary};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// The kind of an information-sharing tool.
    ToolKind {
        /// 情報共有シート
        Sheet = ("sheet", "情報共有シート"),
        /// 連絡帳
        ContactBook = ("contact_book", "連絡帳"),
        /// 地域連携クリティカルパス
        CriticalPath = ("critical_path", "地域連携クリティカルパス"),
        /// ICT (情報通信技術) システム
        Ict = ("ict", "ICT"),
    }
);

/// The usage manual of a tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manual {
    pub title: String,
    /// Whether it covers the handling of personal information (個人情報の取扱い).
    pub covers_personal_information: bool,
}

/// Commands of the tool register.
#[derive(Debug, Clone, PartialEq)]
pub enum ToolCommand {
    /// Puts a tool into use from `on`, at its first version.
    Adopt {
        id: ToolId,
        name: String,
        kind: ToolKind,
        version: String,
        manual: Option<Manual>,
        scenes: Vec<CareScene>,
        on: NaiveDate,
    },
    /// Releases a revised version.
    Revise {
        id: ToolId,
        version: String,
        manual: Option<Manual>,
        on: NaiveDate,
    },
    /// Takes a tool out of use; `last_day` is its last day in use.
    Retire { id: ToolId, last_day: NaiveDate },
}

/// Events of the tool register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ToolEvent {
    ToolAdopted {
        id: ToolId,
        name: String,
        kind: ToolKind,
        version: String,
        manual: Option<Manual>,
        scenes: Vec<CareScene>,
        on: NaiveDate,
    },
    ToolRevised {
        id: ToolId,
        version: String,
        manual: Option<Manual>,
        on: NaiveDate,
    },
    ToolRetired {
        id: ToolId,
        last_day: NaiveDate,
    },
}

/// A tool as the register knows it.
#[derive(Debug, Clone, Default)]
pub struct ToolState {
    pub adopted_on: Option<NaiveDate>,
    pub versions: Vec<(String, NaiveDate)>,
    pub retired: Option<NaiveDate>,
}

/// The municipality's information-sharing tools (エ).
#[derive(Debug, Clone, Default)]
pub struct ToolRegister {
    pub tools: BTreeMap<ToolId, ToolState>,
}

fn manual(m: Option<Manual>) -> Result<Option<Manual>, DomainError> {
    m.map(|m| {
        Ok(Manual {
            title: text("manual.title", &m.title, MAX_NAME)?,
            ..m
        })
    })
    .transpose()
}

/// The record of a revision: one per tool and version.
fn revision_key(id: &ToolId, version: &str) -> RecordKey {
    RecordKey::new("tool revision", format!("{id} {}", version.trim()))
}

impl Aggregate for ToolRegister {
    type Command = ToolCommand;
    type Event = ToolEvent;

    fn command_key(command: &ToolCommand) -> Option<RecordKey> {
        Some(match command {
            ToolCommand::Adopt { id, .. } => RecordKey::new("tool", id),
            ToolCommand::Revise { id, version, .. } => revision_key(id, version),
            ToolCommand::Retire { id, .. } => RecordKey::new("retirement of tool", id),
        })
    }

    fn event_key(event: &ToolEvent) -> Option<RecordKey> {
        Some(match event {
            ToolEvent::ToolAdopted { id, .. } => RecordKey::new("tool", id),
            ToolEvent::ToolRevised { id, version, .. } => revision_key(id, version),
            ToolEvent::ToolRetired { id, .. } => RecordKey::new("retirement of tool", id),
        })
    }

    fn decide(&self, command: ToolCommand) -> Result<Vec<ToolEvent>, DomainError> {
        match command {
            ToolCommand::Adopt {
                id,
                name,
                kind,
                version,
                manual: m,
                mut scenes,
                on,
            } => {
                let name = text("name", &name, MAX_NAME)?;
                let version = text("version", &version, 50)?;
                let manual = manual(m)?;
                if self.tools.contains_key(&id) {
                    return Err(DomainError::conflict("tool", &id, "is already adopted"));
                }
                scenes.sort();
                scenes.dedup();
                Ok(vec![ToolEvent::ToolAdopted {
                    id,
                    name,
                    kind,
                    version,
                    manual,
                    scenes,
                    on,
                }])
            }
            ToolCommand::Revise {
                id,
                version,
                manual: m,
                on,
            } => {
                let version = text("version", &version, 50)?;
                let manual = manual(m)?;
                let tool = self
                    .tools
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("tool", &id))?;
                if let Some(r) = tool.retired {
                    return Err(DomainError::conflict(
                        "tool",
                        &id,
                        format!("was retired on {r}"),
                    ));
                }
                if tool.versions.iter().any(|(v, _)| *v == version) {
                    return Err(DomainError::invalid(
                        "version",
                        version,
                        "is already released",
                    ));
                }
                if let Some((_, last)) = tool.versions.last()
                    && on < *last
                {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("is before the previous version of {last}"),
                    ));
                }
                Ok(vec![ToolEvent::ToolRevised {
                    id,
                    version,
                    manual,
                    on,
                }])
            }
            ToolCommand::Retire { id, last_day } => {
                let tool = self
                    .tools
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("tool", &id))?;
                if let Some(r) = tool.retired {
                    return Err(DomainError::conflict(
                        "tool",
                        &id,
                        format!("was retired on {r}"),
                    ));
                }
                if let Some(adopted) = tool.adopted_on {
                    period("last_day", adopted, last_day)?;
                }
                Ok(vec![ToolEvent::ToolRetired { id, last_day }])
            }
        }
    }

    fn apply(&mut self, event: &ToolEvent) {
        match event {
            ToolEvent::ToolAdopted {
                id, version, on, ..
            } => {
                let t = self.tools.entry(id.clone()).or_default();
                t.adopted_on = Some(*on);
                t.versions.push((version.clone(), *on));
            }
            ToolEvent::ToolRevised {
                id, version, on, ..
            } => {
                self.tools
                    .entry(id.clone())
                    .or_default()
                    .versions
                    .push((version.clone(), *on));
            }
            ToolEvent::ToolRetired { id, last_day } => {
                self.tools.entry(id.clone()).or_default().retired = Some(*last_day);
            }
        }
    }
}

/// Parses an optional manual title into a manual, when one is given.
pub fn manual_from(
    title: &str,
    covers_personal_information: bool,
) -> Result<Option<Manual>, DomainError> {
    Ok(
        optional_text("manual.title", title, MAX_NAME)?.map(|title| Manual {
            title,
            covers_personal_information,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    #[test]
    fn a_version_is_released_once_and_a_retired_tool_is_not_revised() {
        // given a sheet adopted at v1 and retired
        let id = ToolId::parse("id", "t1").unwrap();
        let given = [
            ToolEvent::ToolAdopted {
                id: id.clone(),
                name: "入退院時情報共有シート".into(),
                kind: ToolKind::Sheet,
                version: "1".into(),
                manual: None,
                scenes: vec![],
                on: d(2023, 4, 1),
            },
            ToolEvent::ToolRetired {
                id: id.clone(),
                last_day: d(2024, 3, 31),
            },
        ];
        // when it is revised, then it is refused
        let then = given_when::<ToolRegister>(
            &given,
            ToolCommand::Revise {
                id: id.clone(),
                version: "2".into(),
                manual: None,
                on: d(2024, 5, 1),
            },
        );
        assert!(matches!(then, Err(DomainError::Conflict { .. })));
        // when v1 is released again before retirement, then it is refused naming the version
        let then = given_when::<ToolRegister>(
            &given[..1],
            ToolCommand::Revise {
                id,
                version: "1".into(),
                manual: None,
                on: d(2023, 5, 1),
            },
        );
        assert!(matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "version"));
    }
}
