//! The cross-municipal items (ク) merged at the prefecture (広域連携): the resources that matter
//! beyond a municipality, unified forms and who adopted them, wide-area hospital liaison
//! agreements (入退院支援ルール), wide-area meetings held by the prefecture or a 保健所, and the
//! designations per 圏域 with their candidates and gaps.
//!
//! Everything here is folded from applied facts and commands by the state machine (through
//! [`crate::tally::SurveyState`]) and is pure: no I/O.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use renkei_proto::v1::{self, FactKind, WideAreaActionKind};
use renkei_proto::{FiscalYear, MunicipalityCode, official};
use serde::{Deserialize, Serialize};

use crate::tally::RegionSet;

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A medical resource a municipality registered, as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    pub municipality: MunicipalityCode,
    pub id: String,
    /// `hospital`, `home_care_support_hospital` or `home_care_support_clinic`.
    pub kind: String,
    /// 機能強化型
    pub enhanced: bool,
    pub name: String,
    pub medical_institution_code: String,
    pub capabilities: Vec<String>,
}

/// A municipality's adoption of a unified form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Adoption {
    pub form_id: String,
    pub name: String,
    pub version: String,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// A municipality's membership of a liaison agreement with a hospital.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiaisonMembership {
    pub agreement_id: String,
    pub hospital: String,
    pub rule_version: String,
    pub notification_lead_days: u32,
    /// Empty when the node did not report one.
    #[serde(default)]
    pub contact_point: String,
    pub from: NaiveDate,
    pub until: Option<NaiveDate>,
}

/// A wide-area meeting held by the prefecture or a 保健所 for a region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WideAreaMeeting {
    pub id: String,
    pub title: String,
    /// `prefecture` or `health_center`.
    pub held_by: String,
    pub region: String,
    pub on: NaiveDate,
    pub municipalities: Vec<MunicipalityCode>,
    /// When the prefecture recorded it (ms since the epoch; 0 in meetings recorded before this
    /// was kept): a tally "as known at" an earlier instant leaves it out.
    #[serde(default)]
    pub recorded_at_ms: i64,
}

/// A form version the prefecture (or a municipality) published down.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedForm {
    pub cursor: u64,
    pub form_id: String,
    pub name: String,
    pub version: String,
    pub effective_from: String,
    pub fields: usize,
}

/// A designation the prefecture decided and published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub cursor: u64,
    pub role: String,
    pub area: String,
    pub institution_name: String,
    pub medical_institution_code: String,
    pub decided_on: String,
}

/// The merged (ク) state of a prefecture.
#[derive(Debug, Default, Clone)]
pub struct WideArea {
    resources: BTreeMap<(MunicipalityCode, String), Resource>,
    adoptions: BTreeMap<(MunicipalityCode, String), Adoption>,
    liaison: BTreeMap<(MunicipalityCode, String), LiaisonMembership>,
    /// Discharge-related consultation cases per municipality and month (YYYY-MM).
    liaison_cases: BTreeMap<(MunicipalityCode, String), u32>,
    meetings: BTreeMap<String, WideAreaMeeting>,
    forms: Vec<PublishedForm>,
    decisions: Vec<Decision>,
    /// Desks of the consultation (オ) evidence: municipalities with a desk opened, by key.
    desks: BTreeMap<MunicipalityCode, Vec<(String, NaiveDate, Option<NaiveDate>)>>,
}

impl WideArea {
    /// Folds in one applied fact of a municipality.
    pub fn take_fact(&mut self, m: MunicipalityCode, kind: &FactKind) {
        match kind {
            FactKind::Resource(r) => {
                let key = (m, r.id.clone());
                if r.change == "withdrawn" {
                    self.resources.remove(&key);
                } else {
                    self.resources.insert(
                        key,
                        Resource {
                            municipality: m,
                            id: r.id.clone(),
                            kind: r.kind.clone(),
                            enhanced: r.enhanced,
                            name: r.name.clone(),
                            medical_institution_code: r.medical_institution_code.clone(),
                            capabilities: r.capabilities.clone(),
                        },
                    );
                }
            }
            FactKind::WideArea(action) => self.take_action(m, action),
            FactKind::Consultation(c)
                if (c.topic == "discharge" || c.scenes.iter().any(|s| s == "admission_discharge")) => {
                    *self.liaison_cases.entry((m, c.month.clone())).or_default() += 1;
                }
            FactKind::Evidence(e)
                // Desks in force (オ) are the candidates for 連携を担う拠点.
                if e.key.starts_with("desk/") => {
                    match &e.kind {
                        Some(v1::EvidenceKind::Starts(s)) => {
                            if let Some(first) = date(&s.first_day) {
                                self.desks.entry(m).or_default().push((
                                    e.key.clone(),
                                    first,
                                    date(&s.last_day),
                                ));
                            }
                        }
                        Some(v1::EvidenceKind::EndsOn(d)) => {
                            if let (Some(list), Some(last)) = (self.desks.get_mut(&m), date(d)) {
                                for desk in list.iter_mut().filter(|x| x.0 == e.key) {
                                    desk.2 = Some(desk.2.map_or(last, |l| l.min(last)));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            _ => {}
        }
    }

    fn take_action(&mut self, m: MunicipalityCode, action: &v1::WideAreaAction) {
        let key = (m, action.id.clone());
        match &action.kind {
            Some(WideAreaActionKind::Form(f)) if f.change == "adopted" => {
                if let Some(from) = date(&f.on) {
                    self.adoptions.insert(
                        key,
                        Adoption {
                            form_id: action.id.clone(),
                            name: f.name.clone(),
                            version: f.version.clone(),
                            from,
                            until: None,
                        },
                    );
                }
            }
            Some(WideAreaActionKind::Form(f)) => {
                if let (Some(a), Some(last)) = (self.adoptions.get_mut(&key), date(&f.on)) {
                    a.until = Some(last);
                }
            }
            Some(WideAreaActionKind::Liaison(l)) if l.change == "joined" => {
                if let Some(from) = date(&l.on) {
                    self.liaison.insert(
                        key,
                        LiaisonMembership {
                            agreement_id: action.id.clone(),
                            hospital: l.hospital.clone(),
                            rule_version: l.rule_version.clone(),
                            notification_lead_days: l.notification_lead_days,
                            contact_point: l.contact_point.clone(),
                            from,
                            until: date(&l.until),
                        },
                    );
                }
            }
            Some(WideAreaActionKind::Liaison(l)) => {
                if let (Some(a), Some(last)) = (self.liaison.get_mut(&key), date(&l.on)) {
                    a.until = Some(a.until.map_or(last, |u| u.min(last)));
                }
            }
            _ => {}
        }
    }

    /// Folds in an item published down.
    pub fn take_down_item(&mut self, cursor: u64, item: &v1::DownItem) {
        match &item.kind {
            Some(v1::DownItemKind::Form(f)) => self.forms.push(PublishedForm {
                cursor,
                form_id: f.form_id.clone(),
                name: f.name.clone(),
                version: f.version.clone(),
                effective_from: f.effective_from.clone(),
                fields: f.fields.len(),
            }),
            Some(v1::DownItemKind::Designation(d)) => self.decisions.push(Decision {
                cursor,
                role: d.role.clone(),
                area: d.area.clone(),
                institution_name: d.institution_name.clone(),
                medical_institution_code: d.medical_institution_code.clone(),
                decided_on: d.decided_on.clone(),
            }),
            None => {}
        }
    }

    /// Records (or replaces) a wide-area meeting.
    pub fn take_meeting(&mut self, meeting: WideAreaMeeting) {
        self.meetings.insert(meeting.id.clone(), meeting);
    }

    pub fn meetings(&self) -> impl Iterator<Item = &WideAreaMeeting> {
        self.meetings.values()
    }

    pub fn forms(&self) -> &[PublishedForm] {
        &self.forms
    }

    pub fn decisions(&self) -> &[Decision] {
        &self.decisions
    }

    /// The municipalities using `form_id` (any version, or `version` when given) on `as_of`.
    pub fn adopters(
        &self,
        form_id: &str,
        version: Option<&str>,
        as_of: NaiveDate,
    ) -> Vec<MunicipalityCode> {
        self.adoptions
            .iter()
            .filter(|((_, id), a)| {
                id == form_id
                    && version.is_none_or(|v| a.version == v)
                    && a.from <= as_of
                    && a.until.is_none_or(|u| u >= as_of)
            })
            .map(|((m, _), _)| *m)
            .collect()
    }

    /// The liaison memberships in force on `as_of`, by hospital.
    pub fn liaison_in_force(
        &self,
        as_of: NaiveDate,
    ) -> BTreeMap<String, Vec<(MunicipalityCode, LiaisonMembership)>> {
        let mut out: BTreeMap<String, Vec<_>> = BTreeMap::new();
        for ((m, _), l) in &self.liaison {
            if l.from <= as_of && l.until.is_none_or(|u| u >= as_of) {
                out.entry(l.hospital.clone())
                    .or_default()
                    .push((*m, l.clone()));
            }
        }
        out
    }

    /// Discharge-related consultation cases of a municipality in a fiscal year.
    pub fn liaison_cases(&self, m: MunicipalityCode, fy: FiscalYear) -> u32 {
        self.liaison_cases
            .iter()
            .filter(|((code, month), _)| {
                *code == m && date(&format!("{month}-01")).is_some_and(|d| fy.contains(d))
            })
            .map(|(_, n)| *n)
            .sum()
    }

    /// The resources of a municipality.
    pub fn resources_of(&self, m: MunicipalityCode) -> impl Iterator<Item = &Resource> {
        self.resources
            .range((m, String::new())..)
            .take_while(move |((code, _), _)| *code == m)
            .map(|(_, r)| r)
    }

    /// Whether a municipality has a consultation desk in force on `as_of`.
    pub fn has_desk(&self, m: MunicipalityCode, as_of: NaiveDate) -> bool {
        self.desks.get(&m).is_some_and(|list| {
            list.iter()
                .any(|(_, first, last)| *first <= as_of && last.is_none_or(|l| l >= as_of))
        })
    }

    /// Designation candidates, per 圏域 of `regions`, as of `as_of`.
    pub fn designations(&self, regions: &RegionSet, as_of: NaiveDate) -> Vec<AreaDesignations> {
        regions
            .regions
            .iter()
            .map(|region| {
                let mut rows = Vec::new();
                for &m in &region.municipalities {
                    rows.push(self.candidates_for(m, &region.municipalities));
                }
                let liaison_bases: Vec<Candidate> = region
                    .municipalities
                    .iter()
                    .filter(|m| self.has_desk(**m, as_of))
                    .map(|m| Candidate {
                        municipality: *m,
                        name: format!("{} 在宅医療・介護連携の相談窓口", municipality_name(*m)),
                        medical_institution_code: String::new(),
                        reason: "(オ) 相談窓口が稼働している市町村".to_owned(),
                    })
                    .collect();
                let decided: Vec<Decision> = self
                    .decisions
                    .iter()
                    .filter(|d| d.area == region.id || d.area == region.name)
                    .cloned()
                    .collect();
                let has_role = |role: &str| decided.iter().any(|d| d.role == role);
                let mut gaps = Vec::new();
                if rows.iter().all(|r| r.candidates.is_empty()) {
                    gaps.push("在宅医療において積極的役割を担う医療機関の候補がない".to_owned());
                }
                if liaison_bases.is_empty() {
                    gaps.push("在宅医療に必要な連携を担う拠点の候補がない".to_owned());
                }
                if !has_role("active_role_medical_institution") {
                    gaps.push("積極的役割を担う医療機関が未指定".to_owned());
                }
                if !has_role("liaison_base") {
                    gaps.push("連携を担う拠点が未指定".to_owned());
                }
                let neighbour_only = rows
                    .iter()
                    .filter(|r| r.from_neighbour)
                    .map(|r| r.municipality)
                    .collect();
                AreaDesignations {
                    region_id: region.id.clone(),
                    region_name: region.name.clone(),
                    municipalities: rows,
                    liaison_bases,
                    decisions: decided,
                    gaps,
                    neighbour_only,
                }
            })
            .collect()
    }

    /// The rule: ① the municipality's 在宅療養支援病院; ② else its 在宅療養支援診療所, 機能強化型
    /// first; ③ else one of another municipality of the same 二次医療圏 (by the same preference).
    fn candidates_for(
        &self,
        m: MunicipalityCode,
        area: &[MunicipalityCode],
    ) -> MunicipalityCandidates {
        let own = self.local_candidates(m);
        if !own.is_empty() {
            return MunicipalityCandidates {
                municipality: m,
                candidates: own,
                from_neighbour: false,
            };
        }
        let neighbour = area
            .iter()
            .filter(|n| **n != m)
            .filter_map(|n| {
                let c = self.local_candidates(*n);
                let best = c.into_iter().next()?;
                Some(best)
            })
            .min_by_key(|c| (rank(&c.reason), c.municipality))
            .map(|c| Candidate {
                reason: format!(
                    "③ 同じ二次医療圏の{}の{}",
                    municipality_name(c.municipality),
                    c.reason.trim_start_matches(['①', '②', ' '])
                ),
                ..c
            });
        MunicipalityCandidates {
            municipality: m,
            from_neighbour: neighbour.is_some(),
            candidates: neighbour.into_iter().collect(),
        }
    }

    fn local_candidates(&self, m: MunicipalityCode) -> Vec<Candidate> {
        let candidate = |r: &Resource, reason: &str| Candidate {
            municipality: m,
            name: r.name.clone(),
            medical_institution_code: r.medical_institution_code.clone(),
            reason: reason.to_owned(),
        };
        let hospitals: Vec<Candidate> = self
            .resources_of(m)
            .filter(|r| r.kind == "home_care_support_hospital")
            .map(|r| {
                candidate(
                    r,
                    if r.enhanced {
                        "① 市町村内の在宅療養支援病院（機能強化型）"
                    } else {
                        "① 市町村内の在宅療養支援病院"
                    },
                )
            })
            .collect();
        if !hospitals.is_empty() {
            return hospitals;
        }
        let mut clinics: Vec<&Resource> = self
            .resources_of(m)
            .filter(|r| r.kind == "home_care_support_clinic")
            .collect();
        clinics.sort_by_key(|r| (!r.enhanced, r.name.clone()));
        clinics
            .into_iter()
            .map(|r| {
                candidate(
                    r,
                    if r.enhanced {
                        "② 市町村内の在宅療養支援診療所（機能強化型）"
                    } else {
                        "② 市町村内の在宅療養支援診療所"
                    },
                )
            })
            .collect()
    }
}

fn rank(reason: &str) -> u8 {
    if reason.starts_with('①') {
        0
    } else if reason.contains("機能強化型") {
        1
    } else {
        2
    }
}

fn municipality_name(m: MunicipalityCode) -> String {
    official::municipality(m).map_or_else(|| m.to_string(), |e| e.name.to_owned())
}

/// One candidate institution (or base) and why it is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The municipality the candidate lies in.
    pub municipality: MunicipalityCode,
    pub name: String,
    pub medical_institution_code: String,
    pub reason: String,
}

/// The candidates serving one municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalityCandidates {
    pub municipality: MunicipalityCode,
    pub candidates: Vec<Candidate>,
    /// True when the only candidates lie in another municipality of the 圏域.
    pub from_neighbour: bool,
}

/// The designation picture of one 圏域.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaDesignations {
    pub region_id: String,
    pub region_name: String,
    pub municipalities: Vec<MunicipalityCandidates>,
    pub liaison_bases: Vec<Candidate>,
    pub decisions: Vec<Decision>,
    /// What the 圏域 lacks, in words.
    pub gaps: Vec<String>,
    /// Municipalities whose candidates come only from a neighbour.
    pub neighbour_only: Vec<MunicipalityCode>,
}

#[cfg(test)]
mod tests;
