//! The cross-municipal items (ク) merged at the prefecture (広域連携): the resources that matter
//! beyond a municipality, unified forms and who adopted them, wide-area hospital liaison
//! agreements (入退院支援ルール), wide-area meetings held by the prefecture or a 保健所, and the
//! designations per 圏域 with their candidates and gaps.
//!
//! Everything here is folded from applied facts and commands by the state machine (through
//! [`crate::tally::SurveyState`]) and is pure: no I/O.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use renkei_proto::programme::evidence::published_resource_kind;
use renkei_proto::v1::{self, FactKind, WideAreaActionKind};
use renkei_proto::{FiscalYear, MunicipalityCode, official};
use serde::{Deserialize, Serialize};

use crate::regions::{Region, RegionSet, region_kind_label};
use crate::survey::{format_tenths, percent_tenths};

fn date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

/// A resource a municipality registered, as one of its versions stood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resource {
    /// The municipality that registered it.
    pub municipality: MunicipalityCode,
    /// The municipality it is located in: the one the registering municipality named, else the
    /// one its address names, else the registering municipality.
    pub located_in: MunicipalityCode,
    pub id: String,
    /// A resource kind code of the node (`home_care_support_hospital`, `clinic`, …).
    pub kind: String,
    /// 機能強化型
    pub enhanced: bool,
    pub name: String,
    /// 医療機関コード: the same code registered by two municipalities is one institution.
    pub medical_institution_code: String,
    pub capabilities: Vec<String>,
}

const HOME_CARE_SUPPORT_HOSPITAL: &str = "home_care_support_hospital";
const HOME_CARE_SUPPORT_CLINIC: &str = "home_care_support_clinic";

/// One version of a registration: in force from `on` (a withdrawal is `None`); `seq` orders the
/// versions of one day as they arrived.
#[derive(Debug, Clone)]
struct Version {
    on: NaiveDate,
    seq: u64,
    resource: Option<Resource>,
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
    /// Every version of every registration, by registering municipality and its id, in the
    /// order they took effect: a designation as of a day reads what was in force then.
    resources: BTreeMap<(MunicipalityCode, String), Vec<Version>>,
    versions_seen: u64,
    /// The first day of a municipality's earliest programme evidence: from then on it is known
    /// to run the 在宅医療・介護連携推進事業 (a 拠点 candidate as its 実施主体).
    programme_since: BTreeMap<MunicipalityCode, NaiveDate>,
    /// Each municipality's adoptions of each form, oldest first: a move to a new version ends
    /// the previous adoption the day before.
    adoptions: BTreeMap<(MunicipalityCode, String), Vec<Adoption>>,
    liaison: BTreeMap<(MunicipalityCode, String), LiaisonMembership>,
    /// Consultation cases handled under a liaison agreement, per municipality, agreement id and
    /// month (YYYY-MM).
    liaison_cases: BTreeMap<(MunicipalityCode, String, String), u32>,
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
            FactKind::Resource(r) => self.take_resource(m, r),
            FactKind::WideArea(action) => self.take_action(m, action),
            FactKind::Consultation(c) if !c.liaison_agreement.is_empty() => {
                *self
                    .liaison_cases
                    .entry((m, c.liaison_agreement.clone(), c.month.clone()))
                    .or_default() += 1;
            }
            FactKind::Evidence(e) => {
                // Any activity or arrangement of the programme (not a plan) shows the
                // municipality running it from that day.
                let began = match &e.kind {
                    Some(v1::EvidenceKind::Dated(d)) => date(&d.on),
                    Some(v1::EvidenceKind::MeetingHeldOn(on)) => date(on),
                    Some(v1::EvidenceKind::Starts(s)) => date(&s.first_day),
                    _ => None,
                };
                if let Some(first) = began {
                    let since = self.programme_since.entry(m).or_insert(first);
                    *since = (*since).min(first);
                }
                // Desks in force (オ) are candidates for 連携を担う拠点.
                if e.key.starts_with("desk/") {
                    match (&e.kind, began) {
                        (Some(v1::EvidenceKind::Starts(s)), Some(first)) => {
                            self.desks.entry(m).or_default().push((
                                e.key.clone(),
                                first,
                                date(&s.last_day),
                            ));
                        }
                        (Some(v1::EvidenceKind::EndsOn(d)), _) => {
                            if let (Some(list), Some(last)) = (self.desks.get_mut(&m), date(d)) {
                                for desk in list.iter_mut().filter(|x| x.0 == e.key) {
                                    desk.2 = Some(desk.2.map_or(last, |l| l.min(last)));
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    fn take_action(&mut self, m: MunicipalityCode, action: &v1::WideAreaAction) {
        let key = (m, action.id.clone());
        match &action.kind {
            Some(WideAreaActionKind::Form(f)) if f.change == "adopted" => {
                let Some(from) = date(&f.on) else { return };
                let list = self.adoptions.entry(key).or_default();
                if let Some(current) = list.last_mut().filter(|a| a.until.is_none()) {
                    if current.version == f.version {
                        return;
                    }
                    // A move to a new version: the previous one was in use until the day before.
                    current.until = Some(from.pred_opt().unwrap_or(from));
                }
                list.push(Adoption {
                    form_id: action.id.clone(),
                    name: f.name.clone(),
                    version: f.version.clone(),
                    from,
                    until: None,
                });
            }
            Some(WideAreaActionKind::Form(f)) => {
                let current = self
                    .adoptions
                    .get_mut(&key)
                    .and_then(|list| list.last_mut());
                if let (Some(a), Some(last)) = (current, date(&f.on)) {
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
        self.in_use(as_of)
            .filter(|(_, a)| a.form_id == form_id && version.is_none_or(|v| a.version == v))
            .map(|(m, _)| m)
            .collect()
    }

    /// Every adoption in use on `as_of`, with its municipality.
    pub fn in_use(&self, as_of: NaiveDate) -> impl Iterator<Item = (MunicipalityCode, &Adoption)> {
        self.adoptions.iter().flat_map(move |((m, _), list)| {
            list.iter()
                .filter(move |a| a.from <= as_of && a.until.is_none_or(|u| u >= as_of))
                .map(move |a| (*m, a))
        })
    }

    /// The adopters of each version of `form_id` in use on `as_of`: the versions the prefecture
    /// published, newest first, then any it never published.
    pub fn version_coverage(&self, form_id: &str, as_of: NaiveDate) -> Vec<VersionCoverage> {
        let mut in_use: Vec<&str> = self
            .in_use(as_of)
            .filter(|(_, a)| a.form_id == form_id)
            .map(|(_, a)| a.version.as_str())
            .collect();
        in_use.sort_unstable();
        in_use.dedup();
        let published: Vec<&str> = self
            .forms
            .iter()
            .rev()
            .filter(|p| p.form_id == form_id)
            .map(|p| p.version.as_str())
            .collect();
        let mut order: Vec<&str> = published
            .iter()
            .copied()
            .filter(|v| in_use.contains(v))
            .collect();
        order.dedup();
        order.extend(in_use.iter().copied().filter(|v| !published.contains(v)));
        order
            .into_iter()
            .map(|v| VersionCoverage {
                version: v.to_owned(),
                adopters: self.adopters(form_id, Some(v), as_of),
                published: published.contains(&v),
            })
            .collect()
    }

    /// The adoptions in use on `as_of` of forms the prefecture never published.
    pub fn unpublished_in_use(
        &self,
        as_of: NaiveDate,
    ) -> impl Iterator<Item = (MunicipalityCode, &Adoption)> {
        self.in_use(as_of)
            .filter(|(_, a)| !self.published(&a.form_id, None))
    }

    /// Whether the prefecture published this version of the form (any version when `None`).
    pub fn published(&self, form_id: &str, version: Option<&str>) -> bool {
        self.forms
            .iter()
            .any(|f| f.form_id == form_id && version.is_none_or(|v| f.version == v))
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

    /// Consultation cases of a fiscal year that municipality `m` handled under its liaison
    /// agreement `agreement` (its record id).
    pub fn liaison_cases(&self, m: MunicipalityCode, agreement: &str, fy: FiscalYear) -> u32 {
        self.liaison_cases
            .range((m, agreement.to_owned(), String::new())..)
            .take_while(|((code, id, _), _)| *code == m && id == agreement)
            .filter(|((_, _, month), _)| {
                date(&format!("{month}-01")).is_some_and(|d| fy.contains(d))
            })
            .map(|(_, n)| *n)
            .sum()
    }

    fn take_resource(&mut self, m: MunicipalityCode, r: &v1::ResourceFact) {
        let key = (m, r.id.clone());
        let known = self.resources.contains_key(&key);
        let resource = if r.change == "withdrawn" {
            None
        } else {
            Some(Resource {
                municipality: m,
                located_in: r
                    .located_in
                    .parse()
                    .ok()
                    .or_else(|| official::municipality_in_address(&r.address))
                    .unwrap_or(m),
                id: r.id.clone(),
                kind: r.kind.clone(),
                enhanced: r.enhanced,
                name: r.name.clone(),
                medical_institution_code: r.medical_institution_code.clone(),
                capabilities: r.capabilities.clone(),
            })
        };
        // The prefecture keeps the kinds a node publishes on registration: the candidates of
        // both designations (see [`WideArea::designations`]).
        let kept = resource
            .as_ref()
            .is_some_and(|r| published_resource_kind(&r.kind));
        if !known && !kept {
            // A withdrawal or a kind the prefecture does not keep, of what it never heard of.
            return;
        }
        // A node's facts always carry a valid day; one that does not takes effect from the start.
        let on = date(&r.on).unwrap_or(NaiveDate::MIN);
        self.versions_seen += 1;
        let versions = self.resources.entry(key).or_default();
        let at = versions.partition_point(|v| v.on <= on);
        versions.insert(
            at,
            Version {
                on,
                seq: self.versions_seen,
                resource,
            },
        );
    }

    /// The institutions in force on `as_of`: each registration as it stood that day, and a
    /// 医療機関コード registered by several municipalities once (as its latest registration
    /// describes it).
    pub fn institutions(&self, as_of: NaiveDate) -> Vec<&Resource> {
        let mut by_code: BTreeMap<&str, (NaiveDate, u64, &Resource)> = BTreeMap::new();
        let mut uncoded = Vec::new();
        for versions in self.resources.values() {
            let Some(v) = versions.iter().rev().find(|v| v.on <= as_of) else {
                continue;
            };
            let Some(r) = &v.resource else { continue };
            if r.medical_institution_code.is_empty() {
                uncoded.push(r);
                continue;
            }
            let newer = by_code
                .get(r.medical_institution_code.as_str())
                .is_none_or(|(on, seq, _)| (v.on, v.seq) > (*on, *seq));
            if newer {
                by_code.insert(&r.medical_institution_code, (v.on, v.seq, r));
            }
        }
        uncoded.extend(by_code.into_values().map(|(_, _, r)| r));
        uncoded
    }

    /// The name of the institution with 医療機関コード `code` in the registry on `as_of`.
    pub fn institution_name(&self, code: &str, as_of: NaiveDate) -> Option<String> {
        self.institutions(as_of)
            .into_iter()
            .find(|r| !code.is_empty() && r.medical_institution_code == code)
            .map(|r| r.name.clone())
    }

    /// Whether a municipality has a consultation desk in force on `as_of`.
    pub fn has_desk(&self, m: MunicipalityCode, as_of: NaiveDate) -> bool {
        self.desks.get(&m).is_some_and(|list| {
            list.iter()
                .any(|(_, first, last)| *first <= as_of && last.is_none_or(|l| l >= as_of))
        })
    }

    /// Designation candidates, per 圏域 of `regions` (any region kind the prefecture set), as
    /// of `as_of`, from the institutions in force that day.
    pub fn designations(&self, regions: &RegionSet, as_of: NaiveDate) -> Vec<AreaDesignations> {
        let institutions = self.institutions(as_of);
        let area_word = region_kind_label(&regions.kind);
        regions
            .regions
            .iter()
            .map(|region| {
                let rows: Vec<MunicipalityCandidates> = region
                    .municipalities
                    .iter()
                    .map(|&m| active_role_candidates(&institutions, m, region, area_word))
                    .collect();
                let liaison_bases = self.liaison_base_candidates(&institutions, region, as_of);
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

    /// 在宅医療に必要な連携を担う拠点 candidates of one 圏域, in the order of the sources: ① the
    /// municipalities' consultation desks (オ), ② 地域医師会・医療法人等関係団体, ③ the
    /// municipalities running the programme and 地域包括支援センター, then the other bodies the
    /// 指針 names (病院, 診療所, 訪問看護事業所, 保健所).
    fn liaison_base_candidates(
        &self,
        institutions: &[&Resource],
        region: &Region,
        as_of: NaiveDate,
    ) -> Vec<Candidate> {
        let in_region = |m: &MunicipalityCode| region.municipalities.contains(m);
        let of_kinds = |kinds: &[&str], reason: &str| -> Vec<Candidate> {
            let mut found: Vec<&&Resource> = institutions
                .iter()
                .filter(|r| in_region(&r.located_in) && kinds.contains(&r.kind.as_str()))
                .collect();
            found.sort_by(|a, b| {
                let key = |r: &Resource| {
                    let kind = kinds.iter().position(|k| *k == r.kind);
                    (kind, r.located_in, r.name.clone())
                };
                key(a).cmp(&key(b))
            });
            found
                .into_iter()
                .map(|r| Candidate {
                    municipality: r.located_in,
                    name: r.name.clone(),
                    medical_institution_code: r.medical_institution_code.clone(),
                    reason: reason.replace("{kind}", kind_label(&r.kind)),
                })
                .collect()
        };
        let mut out: Vec<Candidate> = region
            .municipalities
            .iter()
            .filter(|m| self.has_desk(**m, as_of))
            .map(|m| Candidate {
                municipality: *m,
                name: format!("{} 在宅医療・介護連携の相談窓口", municipality_name(*m)),
                medical_institution_code: String::new(),
                reason: "① (オ) 市町村が設置している在宅医療・介護連携に関する相談窓口".to_owned(),
            })
            .collect();
        out.extend(of_kinds(&["medical_association"], "② {kind}"));
        out.extend(
            region
                .municipalities
                .iter()
                .filter(|m| self.programme_since.get(m).is_some_and(|d| *d <= as_of))
                .map(|m| Candidate {
                    municipality: *m,
                    name: municipality_name(*m),
                    medical_institution_code: String::new(),
                    reason: "③ 市町村（在宅医療・介護連携推進事業の実施主体）".to_owned(),
                }),
        );
        out.extend(of_kinds(&["community_general_support_center"], "③ {kind}"));
        out.extend(of_kinds(
            &[
                HOME_CARE_SUPPORT_HOSPITAL,
                "hospital",
                HOME_CARE_SUPPORT_CLINIC,
                "clinic",
                "visiting_nursing_station",
                "health_center",
            ],
            "指針の挙げる主体：{kind}",
        ));
        out
    }
}

/// The Japanese name of a kept resource kind (the node's vocabulary).
fn kind_label(kind: &str) -> &'static str {
    match kind {
        HOME_CARE_SUPPORT_HOSPITAL => "在宅療養支援病院",
        HOME_CARE_SUPPORT_CLINIC => "在宅療養支援診療所",
        "hospital" => "病院",
        "clinic" => "診療所",
        "visiting_nursing_station" => "訪問看護事業所",
        "community_general_support_center" => "地域包括支援センター",
        "medical_association" => "地域医師会・医療法人等関係団体",
        "health_center" => "保健所",
        _ => "その他",
    }
}

/// The filing of an institution as a reason's words, e.g. 在宅療養支援病院（機能強化型）.
fn filing(r: &Resource) -> String {
    if r.enhanced {
        format!("{}（機能強化型）", kind_label(&r.kind))
    } else {
        kind_label(&r.kind).to_owned()
    }
}

/// The order of the rule among 在宅療養支援 institutions: hospitals before clinics (② applies
/// only where ① finds none), 機能強化型 first (②-1), then by name.
fn preference(r: &Resource) -> (bool, bool, String) {
    (
        r.kind != HOME_CARE_SUPPORT_HOSPITAL,
        !r.enhanced,
        r.name.clone(),
    )
}

/// The rule for 在宅医療において積極的役割を担う医療機関 (001_04d7082f188773e2.txt, 選定候補): ① the
/// 在宅療養支援病院 located in the municipality; ② where there is none, its 在宅療養支援診療所,
/// 機能強化型 first; ③ where there is neither, the 在宅療養支援病院 and 診療所 of the neighbouring
/// municipalities (近隣市町村) in the same 圏域, all of them, by the same preference — and, when
/// no neighbour of the 圏域 has one (or renkei ships no boundary table for the prefecture), of
/// the whole 圏域, saying so.
fn active_role_candidates(
    institutions: &[&Resource],
    m: MunicipalityCode,
    region: &Region,
    area_word: &str,
) -> MunicipalityCandidates {
    let located = |at: &dyn Fn(MunicipalityCode) -> bool, kind: &str| {
        let mut found: Vec<&Resource> = institutions
            .iter()
            .copied()
            .filter(|r| at(r.located_in) && r.kind == kind)
            .collect();
        found.sort_by_key(|r| preference(r));
        found
    };
    let own = |kind: &str| located(&|at| at == m, kind);
    let (number, own_found) = match own(HOME_CARE_SUPPORT_HOSPITAL) {
        found if !found.is_empty() => ("①", found),
        _ => ("②", own(HOME_CARE_SUPPORT_CLINIC)),
    };
    if !own_found.is_empty() {
        return MunicipalityCandidates {
            municipality: m,
            candidates: own_found
                .into_iter()
                .map(|r| Candidate {
                    municipality: m,
                    name: r.name.clone(),
                    medical_institution_code: r.medical_institution_code.clone(),
                    reason: format!("{number} 市町村内の{}", filing(r)),
                })
                .collect(),
            from_neighbour: false,
        };
    }
    let others = |pool: &dyn Fn(MunicipalityCode) -> bool| {
        let mut found: Vec<&Resource> = [HOME_CARE_SUPPORT_HOSPITAL, HOME_CARE_SUPPORT_CLINIC]
            .iter()
            .flat_map(|kind| located(pool, kind))
            .collect();
        found.sort_by_key(|r| (preference(r), r.located_in));
        found
    };
    let same_area = |n: MunicipalityCode| n != m && region.municipalities.contains(&n);
    let near = others(&|n| same_area(n) && official::neighbours(m).contains(&n));
    // No neighbour of the 圏域 has one: the whole 圏域's, saying why.
    let (found, whole_area_because) = if near.is_empty() {
        let why = if official::has_neighbour_table(m.prefecture()) {
            "近隣市町村に候補がないため"
        } else {
            "隣接市町村の表がないため"
        };
        (others(&same_area), Some(why))
    } else {
        (near, None)
    };
    MunicipalityCandidates {
        municipality: m,
        from_neighbour: !found.is_empty(),
        candidates: found
            .into_iter()
            .map(|r| Candidate {
                municipality: r.located_in,
                name: r.name.clone(),
                medical_institution_code: r.medical_institution_code.clone(),
                reason: match whole_area_because {
                    None => format!("③ 近隣の{}の{}", municipality_name(r.located_in), filing(r)),
                    Some(why) => format!(
                        "③ 同じ{area_word}の{}の{}（{why}{area_word}全体から）",
                        municipality_name(r.located_in),
                        filing(r)
                    ),
                },
            })
            .collect(),
    }
}

fn municipality_name(m: MunicipalityCode) -> String {
    official::municipality(m).map_or_else(|| m.to_string(), |e| e.name.to_owned())
}

/// The adopters of one version of a unified form on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionCoverage {
    pub version: String,
    pub adopters: Vec<MunicipalityCode>,
    /// False for a version the prefecture never published.
    pub published: bool,
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

impl WideAreaMeeting {
    /// Its wire form (`renkei.v1.WideAreaMeetingView`).
    pub fn view(&self) -> v1::WideAreaMeetingView {
        v1::WideAreaMeetingView {
            id: self.id.clone(),
            title: self.title.clone(),
            held_by: self.held_by.clone(),
            region: self.region.clone(),
            on: self.on.format("%Y-%m-%d").to_string(),
            municipalities: self
                .municipalities
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

impl Candidate {
    /// Its wire form (`renkei.v1.DesignationCandidate`).
    pub fn view(&self) -> v1::DesignationCandidate {
        v1::DesignationCandidate {
            municipality: self.municipality.to_string(),
            name: self.name.clone(),
            medical_institution_code: self.medical_institution_code.clone(),
            reason: self.reason.clone(),
        }
    }
}

impl WideArea {
    /// The (ク) picture of the prefecture in fiscal year `fy` as of `as_of` (what
    /// `GetWideArea` answers): the latest published version of each form with its adopters —
    /// their share of the prefecture's `n` municipalities, per region of `regions` and per
    /// version —, the liaison agreements in force with their cases of the year, the year's
    /// wide-area meetings, and the forms in use that the prefecture never published.
    pub fn view(
        &self,
        regions: Option<&RegionSet>,
        n: u32,
        fy: FiscalYear,
        as_of: NaiveDate,
    ) -> v1::WideAreaView {
        // The latest published version of each form.
        let mut latest: BTreeMap<&str, &PublishedForm> = BTreeMap::new();
        for f in self.forms() {
            latest.insert(f.form_id.as_str(), f);
        }
        let forms = latest
            .values()
            .map(|f| {
                let adopters = self.adopters(&f.form_id, None, as_of);
                let by_region = regions
                    .map(|set| {
                        set.regions
                            .iter()
                            .map(|r| {
                                let k = adopters
                                    .iter()
                                    .filter(|m| r.municipalities.contains(m))
                                    .count();
                                format!("{} {k}/{}", r.name, r.municipalities.len())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let versions = self
                    .version_coverage(&f.form_id, as_of)
                    .into_iter()
                    .map(|v| v1::FormVersionAdopters {
                        version: v.version,
                        adopters: v.adopters.iter().map(ToString::to_string).collect(),
                        published: v.published,
                    })
                    .collect();
                v1::FormCoverage {
                    versions,
                    form_id: f.form_id.clone(),
                    name: f.name.clone(),
                    version: f.version.clone(),
                    effective_from: f.effective_from.clone(),
                    prefecture_percent: format_tenths(percent_tenths(adopters.len() as u32, n)),
                    adopters: adopters.iter().map(ToString::to_string).collect(),
                    by_region,
                }
            })
            .collect();
        let liaison = self
            .liaison_in_force(as_of)
            .into_iter()
            .map(|(hospital, members)| v1::LiaisonAgreementView {
                hospital_name: self.institution_name(&hospital, as_of).unwrap_or_default(),
                hospital,
                members: members
                    .into_iter()
                    .map(|(m, l)| v1::LiaisonMember {
                        municipality: m.to_string(),
                        rule_version: l.rule_version,
                        notification_lead_days: l.notification_lead_days,
                        contact_point: l.contact_point,
                        from: l.from.format("%Y-%m-%d").to_string(),
                        until: l
                            .until
                            .map(|u| u.format("%Y-%m-%d").to_string())
                            .unwrap_or_default(),
                        cases: self.liaison_cases(m, &l.agreement_id, fy),
                        agreement: l.agreement_id,
                    })
                    .collect(),
            })
            .collect();
        let meetings = self
            .meetings()
            .filter(|m| fy.contains(m.on))
            .map(WideAreaMeeting::view)
            .collect();
        let unpublished = self
            .unpublished_in_use(as_of)
            .map(|(m, a)| v1::UnpublishedAdoption {
                municipality: m.to_string(),
                form_id: a.form_id.clone(),
                name: a.name.clone(),
                version: a.version.clone(),
            })
            .collect();
        v1::WideAreaView {
            forms,
            liaison,
            meetings,
            unpublished,
        }
    }

    /// The designation picture of each region of `regions` as of `as_of`
    /// ([`WideArea::designations`]) in its wire form.
    pub fn designations_view(
        &self,
        regions: &RegionSet,
        as_of: NaiveDate,
    ) -> Vec<v1::AreaDesignations> {
        self.designations(regions, as_of)
            .into_iter()
            .map(|a| v1::AreaDesignations {
                region_id: a.region_id,
                region_name: a.region_name,
                active_role: a
                    .municipalities
                    .iter()
                    .map(|m| v1::MunicipalityCandidates {
                        municipality: m.municipality.to_string(),
                        name: municipality_name(m.municipality),
                        candidates: m.candidates.iter().map(Candidate::view).collect(),
                        from_neighbour: m.from_neighbour,
                    })
                    .collect(),
                liaison_bases: a.liaison_bases.iter().map(Candidate::view).collect(),
                decisions: a
                    .decisions
                    .into_iter()
                    .map(|d| v1::Designation {
                        role: d.role,
                        area: d.area,
                        institution_name: d.institution_name,
                        medical_institution_code: d.medical_institution_code,
                        decided_on: d.decided_on,
                    })
                    .collect(),
                gaps: a.gaps,
                neighbour_only: a.neighbour_only.iter().map(ToString::to_string).collect(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
