//! (ア) 地域の医療・介護の資源の把握: the resource registry, resource surveys and published
//! lists/maps.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use renkei_proto::MunicipalityCode;

use super::values::{
    CareProviderNumber, Coordinates, ListId, MAX_NAME, MAX_TEXT, MedicalCategory,
    MedicalInstitutionCode, ResourceId, SurveyId, optional_text, text, vocabulary,
};
use super::{Aggregate, DomainError, RecordKey};

vocabulary!(
    /// The kind of a medical or care resource.
    ResourceKind {
        /// 病院
        Hospital = ("hospital", "病院"),
        /// 診療所
        Clinic = ("clinic", "診療所"),
        /// 在宅療養支援病院
        HomeCareSupportHospital = ("home_care_support_hospital", "在宅療養支援病院"),
        /// 在宅療養支援診療所
        HomeCareSupportClinic = ("home_care_support_clinic", "在宅療養支援診療所"),
        /// 歯科診療所
        DentalClinic = ("dental_clinic", "歯科診療所"),
        /// 在宅療養支援歯科診療所
        HomeCareSupportDentalClinic = ("home_care_support_dental_clinic", "在宅療養支援歯科診療所"),
        /// 薬局
        Pharmacy = ("pharmacy", "薬局"),
        /// 訪問看護ステーション
        VisitingNursingStation = ("visiting_nursing_station", "訪問看護ステーション"),
        /// 居宅介護支援事業所
        CareManagementOffice = ("care_management_office", "居宅介護支援事業所"),
        /// 地域包括支援センター
        CommunityGeneralSupportCenter = ("community_general_support_center", "地域包括支援センター"),
        /// 介護施設 (特養, 老健, 介護医療院 …)
        CareFacility = ("care_facility", "介護施設"),
        /// 訪問介護・通所介護などの介護サービス事業所
        CareServiceProvider = ("care_service_provider", "介護サービス事業所"),
        /// 地域医師会・医療法人等関係団体: a candidate 連携を担う拠点 (在宅医療の体制構築に係る指針)
        MedicalAssociation = ("medical_association", "地域医師会・医療法人等関係団体"),
        /// 保健所
        HealthCenter = ("health_center", "保健所"),
    }
);

impl ResourceKind {
    /// Returns the 点数表 category its medical institution code must have, if it has one.
    pub fn medical_category(self) -> Option<MedicalCategory> {
        use ResourceKind::*;
        match self {
            Hospital | Clinic | HomeCareSupportHospital | HomeCareSupportClinic => {
                Some(MedicalCategory::Medical)
            }
            DentalClinic | HomeCareSupportDentalClinic => Some(MedicalCategory::Dental),
            Pharmacy => Some(MedicalCategory::Pharmacy),
            VisitingNursingStation => Some(MedicalCategory::VisitingNursing),
            _ => None,
        }
    }

    /// Returns whether the kind is a long-term care provider (介護保険事業所).
    pub fn is_care_provider(self) -> bool {
        use ResourceKind::*;
        matches!(
            self,
            VisitingNursingStation
                | CareManagementOffice
                | CommunityGeneralSupportCenter
                | CareFacility
                | CareServiceProvider
        )
    }

    /// Returns whether the kind can carry the 機能強化型 (enhanced) flag.
    pub fn may_be_enhanced(self) -> bool {
        matches!(
            self,
            ResourceKind::HomeCareSupportHospital | ResourceKind::HomeCareSupportClinic
        )
    }
}

vocabulary!(
    /// What a resource can do.
    Capability {
        /// 訪問診療
        HomeVisits = ("home_visits", "訪問診療"),
        /// 往診
        HouseCalls = ("house_calls", "往診"),
        /// 24時間対応
        AroundTheClock = ("around_the_clock", "24時間対応"),
        /// 看取り
        EndOfLifeCare = ("end_of_life_care", "看取り"),
        /// 小児
        Paediatrics = ("paediatrics", "小児"),
        /// 緩和ケア
        PalliativeCare = ("palliative_care", "緩和ケア"),
        /// 認知症
        Dementia = ("dementia", "認知症"),
        /// 訪問歯科
        HomeDentalCare = ("home_dental_care", "訪問歯科"),
        /// 訪問薬剤管理
        HomePharmacy = ("home_pharmacy", "訪問薬剤管理"),
        /// 訪問リハビリ
        HomeRehabilitation = ("home_rehabilitation", "訪問リハビリ"),
    }
);

vocabulary!(
    /// Who a published list or map is for.
    Audience {
        /// 医療・介護関係者向け
        Professionals = ("professionals", "関係者向け"),
        /// 住民向け (separately vetted)
        Residents = ("residents", "住民向け"),
    }
);

vocabulary!(
    /// The form of a publication.
    PublicationFormat {
        /// リスト
        List = ("list", "リスト"),
        /// マップ
        Map = ("map", "マップ"),
    }
);

/// The official code of a resource, where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OfficialCode {
    /// 医療機関コード
    Medical(MedicalInstitutionCode),
    /// 介護保険事業所番号
    Care(CareProviderNumber),
}

/// What the registry holds about a resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceDetails {
    pub kind: ResourceKind,
    /// 機能強化型: only for 在宅療養支援病院/診療所.
    pub enhanced: bool,
    pub name: String,
    pub official_code: Option<OfficialCode>,
    pub address: String,
    pub coordinates: Option<Coordinates>,
    /// Telephone or other contact, as published to professionals.
    pub contact: Option<String>,
    pub capabilities: Vec<Capability>,
    /// Doctors' consultation hours (相談可能時間), as free text.
    pub consultation_hours: Option<String>,
    /// Whether the resource agreed to appear on lists for residents.
    pub listed_for_residents: bool,
    /// The municipality the resource is located in, when the registering municipality names it
    /// explicitly (a hospital across the border that its residents use). `None`: the address
    /// says where it is, else it is the registering municipality's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub located_in: Option<MunicipalityCode>,
}

/// Reads the optional `located_in` of a resource: empty is `None`; anything else must be a
/// municipality on the official list.
pub fn located_in(field: &str, text: &str) -> Result<Option<MunicipalityCode>, DomainError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let code: MunicipalityCode = text
        .parse()
        .map_err(|e| DomainError::invalid(field, text, format!("{e}")))?;
    if renkei_proto::official::municipality(code).is_none() {
        return Err(DomainError::invalid(
            field,
            text,
            "is not a municipality on the official list",
        ));
    }
    Ok(Some(code))
}

impl ResourceDetails {
    /// Returns what one audience may see: residents get neither the professionals' contact nor
    /// the doctors' consultation hours (those are for 医療・介護関係者).
    pub fn for_audience(&self, audience: Audience) -> ResourceDetails {
        match audience {
            Audience::Professionals => self.clone(),
            Audience::Residents => ResourceDetails {
                contact: None,
                consultation_hours: None,
                ..self.clone()
            },
        }
    }

    /// Checks the details and returns them with texts trimmed and capabilities sorted.
    pub fn validated(mut self) -> Result<Self, DomainError> {
        self.name = text("name", &self.name, MAX_NAME)?;
        self.address = text("address", &self.address, MAX_NAME)?;
        self.contact = optional_text("contact", self.contact.as_deref().unwrap_or(""), MAX_NAME)?;
        self.consultation_hours = optional_text(
            "consultation_hours",
            self.consultation_hours.as_deref().unwrap_or(""),
            MAX_TEXT,
        )?;
        if self.enhanced && !self.kind.may_be_enhanced() {
            return Err(DomainError::invalid(
                "enhanced",
                true,
                format!(
                    "機能強化型 applies only to 在宅療養支援病院/診療所, not {}",
                    self.kind
                ),
            ));
        }
        match self.official_code {
            Some(OfficialCode::Medical(code))
                if self.kind.medical_category() != Some(code.category()) =>
            {
                return Err(DomainError::invalid(
                    "official_code",
                    code,
                    format!("its 点数表 category does not fit a {}", self.kind),
                ));
            }
            Some(OfficialCode::Care(number)) if !self.kind.is_care_provider() => {
                return Err(DomainError::invalid(
                    "official_code",
                    number,
                    format!("a 介護保険事業所番号 does not fit a {}", self.kind),
                ));
            }
            _ => {}
        }
        self.capabilities.sort();
        self.capabilities.dedup();
        Ok(self)
    }
}

/// Commands of the resource registry.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceCommand {
    /// Registers a resource; registering the same id with the same details again does nothing.
    Register {
        id: ResourceId,
        details: ResourceDetails,
        on: NaiveDate,
    },
    /// Replaces a registered resource's details.
    Update {
        id: ResourceId,
        details: ResourceDetails,
        on: NaiveDate,
    },
    /// Removes a resource from the registry (closed, moved away).
    Withdraw { id: ResourceId, on: NaiveDate },
    /// Records a survey of the area's resources.
    ConductSurvey {
        id: SurveyId,
        title: String,
        on: NaiveDate,
        responses: u32,
    },
    /// Records the publication of a list or map.
    PublishList {
        id: ListId,
        title: String,
        audience: super::resources::Audience,
        format: PublicationFormat,
        on: NaiveDate,
    },
}

/// Events of the resource registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ResourceEvent {
    ResourceRegistered {
        id: ResourceId,
        details: ResourceDetails,
        on: NaiveDate,
    },
    ResourceUpdated {
        id: ResourceId,
        details: ResourceDetails,
        on: NaiveDate,
    },
    ResourceWithdrawn {
        id: ResourceId,
        on: NaiveDate,
    },
    ResourceSurveyConducted {
        id: SurveyId,
        title: String,
        on: NaiveDate,
        responses: u32,
    },
    ResourceListPublished {
        id: ListId,
        title: String,
        audience: Audience,
        format: PublicationFormat,
        /// How many resources the list held when published.
        entries: u32,
        on: NaiveDate,
    },
}

/// A resource as the registry knows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredResource {
    pub details: ResourceDetails,
    pub registered_on: NaiveDate,
    pub withdrawn_on: Option<NaiveDate>,
}

/// The municipality's resource registry (ア).
#[derive(Debug, Clone, Default)]
pub struct ResourceRegistry {
    pub resources: BTreeMap<ResourceId, RegisteredResource>,
    pub surveys: BTreeMap<SurveyId, NaiveDate>,
    pub lists: BTreeMap<ListId, NaiveDate>,
}

impl ResourceRegistry {
    /// Returns the resources currently registered, for one audience: residents see only those
    /// that agreed to appear on residents' lists.
    pub fn listed(
        &self,
        audience: Audience,
    ) -> impl Iterator<Item = (&ResourceId, &RegisteredResource)> {
        self.resources.iter().filter(move |(_, r)| {
            r.withdrawn_on.is_none()
                && (audience == Audience::Professionals || r.details.listed_for_residents)
        })
    }

    fn holder_of(&self, code: &OfficialCode, except: &ResourceId) -> Option<&ResourceId> {
        self.resources
            .iter()
            .find(|(id, r)| {
                *id != except
                    && r.withdrawn_on.is_none()
                    && r.details.official_code.as_ref() == Some(code)
            })
            .map(|(id, _)| id)
    }
}

/// The record of an update: a resource may be updated any number of times, so an update is
/// recognised by its whole content (the same details on the same day are one update).
fn update_key(id: &ResourceId, details: &ResourceDetails, on: NaiveDate) -> RecordKey {
    // Details are plain data (strings, numbers, vocabularies): serialising them cannot fail.
    let content = serde_json::to_string(details).unwrap_or_default();
    RecordKey::new("resource update", format!("{id} {on} {content}"))
}

impl Aggregate for ResourceRegistry {
    type Command = ResourceCommand;
    type Event = ResourceEvent;

    fn command_key(command: &ResourceCommand) -> Option<RecordKey> {
        use ResourceCommand as C;
        Some(match command {
            C::Register { id, .. } => RecordKey::new("resource", id),
            C::Update { id, details, on } => {
                // Keyed as it will be recorded (trimmed); invalid details are refused anyway.
                let recorded = details
                    .clone()
                    .validated()
                    .unwrap_or_else(|_| details.clone());
                update_key(id, &recorded, *on)
            }
            C::Withdraw { id, .. } => RecordKey::new("withdrawal of resource", id),
            C::ConductSurvey { id, .. } => RecordKey::new("resource survey", id),
            C::PublishList { id, .. } => RecordKey::new("resource list", id),
        })
    }

    fn event_key(event: &ResourceEvent) -> Option<RecordKey> {
        use ResourceEvent as E;
        Some(match event {
            E::ResourceRegistered { id, .. } => RecordKey::new("resource", id),
            E::ResourceUpdated { id, details, on } => update_key(id, details, *on),
            E::ResourceWithdrawn { id, .. } => RecordKey::new("withdrawal of resource", id),
            E::ResourceSurveyConducted { id, .. } => RecordKey::new("resource survey", id),
            E::ResourceListPublished { id, .. } => RecordKey::new("resource list", id),
        })
    }

    fn decide(&self, command: ResourceCommand) -> Result<Vec<ResourceEvent>, DomainError> {
        match command {
            ResourceCommand::Register { id, details, on } => {
                let details = details.validated()?;
                if let Some(existing) = self.resources.get(&id) {
                    return if existing.details == details && existing.withdrawn_on.is_none() {
                        Ok(vec![])
                    } else {
                        Err(DomainError::conflict(
                            "resource",
                            &id,
                            "is registered with other details (update it instead)",
                        ))
                    };
                }
                if let Some(code) = &details.official_code
                    && let Some(other) = self.holder_of(code, &id)
                {
                    return Err(DomainError::conflict(
                        "resource",
                        &id,
                        format!("its official code is already registered as {other}"),
                    ));
                }
                Ok(vec![ResourceEvent::ResourceRegistered { id, details, on }])
            }
            ResourceCommand::Update { id, details, on } => {
                let details = details.validated()?;
                let existing = self
                    .resources
                    .get(&id)
                    .filter(|r| r.withdrawn_on.is_none())
                    .ok_or_else(|| DomainError::not_found("resource", &id))?;
                if existing.details == details {
                    return Ok(vec![]);
                }
                if let Some(code) = &details.official_code
                    && let Some(other) = self.holder_of(code, &id)
                {
                    return Err(DomainError::conflict(
                        "resource",
                        &id,
                        format!("its official code is already registered as {other}"),
                    ));
                }
                Ok(vec![ResourceEvent::ResourceUpdated { id, details, on }])
            }
            ResourceCommand::Withdraw { id, on } => {
                let existing = self
                    .resources
                    .get(&id)
                    .filter(|r| r.withdrawn_on.is_none())
                    .ok_or_else(|| DomainError::not_found("resource", &id))?;
                if on < existing.registered_on {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("is before the registration on {}", existing.registered_on),
                    ));
                }
                Ok(vec![ResourceEvent::ResourceWithdrawn { id, on }])
            }
            ResourceCommand::ConductSurvey {
                id,
                title,
                on,
                responses,
            } => {
                let title = text("title", &title, MAX_NAME)?;
                if self.surveys.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "resource survey",
                        &id,
                        "is already recorded",
                    ));
                }
                Ok(vec![ResourceEvent::ResourceSurveyConducted {
                    id,
                    title,
                    on,
                    responses,
                }])
            }
            ResourceCommand::PublishList {
                id,
                title,
                audience,
                format,
                on,
            } => {
                let title = text("title", &title, MAX_NAME)?;
                if self.lists.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "resource list",
                        &id,
                        "is already published",
                    ));
                }
                let entries = self.listed(audience).count() as u32;
                if entries == 0 {
                    return Err(DomainError::invalid(
                        "audience",
                        audience.code(),
                        "no registered resource may appear on such a list",
                    ));
                }
                Ok(vec![ResourceEvent::ResourceListPublished {
                    id,
                    title,
                    audience,
                    format,
                    entries,
                    on,
                }])
            }
        }
    }

    fn apply(&mut self, event: &ResourceEvent) {
        match event {
            ResourceEvent::ResourceRegistered { id, details, on } => {
                self.resources.insert(
                    id.clone(),
                    RegisteredResource {
                        details: details.clone(),
                        registered_on: *on,
                        withdrawn_on: None,
                    },
                );
            }
            ResourceEvent::ResourceUpdated { id, details, .. } => {
                if let Some(r) = self.resources.get_mut(id) {
                    r.details = details.clone();
                }
            }
            ResourceEvent::ResourceWithdrawn { id, on } => {
                if let Some(r) = self.resources.get_mut(id) {
                    r.withdrawn_on = Some(*on);
                }
            }
            ResourceEvent::ResourceSurveyConducted { id, on, .. } => {
                self.surveys.insert(id.clone(), *on);
            }
            ResourceEvent::ResourceListPublished { id, on, .. } => {
                self.lists.insert(id.clone(), *on);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::given_when;

    pub fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub fn clinic(name: &str, code: &str) -> ResourceDetails {
        ResourceDetails {
            kind: ResourceKind::HomeCareSupportClinic,
            enhanced: true,
            name: name.into(),
            official_code: Some(OfficialCode::Medical(
                MedicalInstitutionCode::parse("official_code", code).unwrap(),
            )),
            address: "富山県富山市新桜町7-38".into(),
            located_in: None,
            coordinates: Some(Coordinates::new(36.695, 137.213).unwrap()),
            contact: Some("076-000-0000".into()),
            capabilities: vec![Capability::HomeVisits, Capability::AroundTheClock],
            consultation_hours: Some("平日 13:00-14:00".into()),
            listed_for_residents: false,
        }
    }

    fn id(s: &str) -> ResourceId {
        ResourceId::parse("id", s).unwrap()
    }

    fn registered(s: &str, details: ResourceDetails) -> ResourceEvent {
        ResourceEvent::ResourceRegistered {
            id: id(s),
            details,
            on: d(2024, 4, 1),
        }
    }

    #[test]
    fn registering_twice_with_the_same_details_adds_nothing() {
        // given a registered clinic
        let given = [registered("r1", clinic("A診療所", "1611234567"))];
        // when it is registered again, unchanged
        let then = given_when::<ResourceRegistry>(
            &given,
            ResourceCommand::Register {
                id: id("r1"),
                details: clinic("A診療所", "1611234567"),
                on: d(2024, 5, 1),
            },
        );
        // then nothing happens
        assert_eq!(then, Ok(vec![]));
    }

    #[test]
    fn refuses_a_code_of_the_wrong_category_and_a_second_holder_of_a_code() {
        // given a registered clinic
        let given = [registered("r1", clinic("A診療所", "1611234567"))];
        // when a clinic is registered with a pharmacy (調剤) code
        let then = given_when::<ResourceRegistry>(
            &given,
            ResourceCommand::Register {
                id: id("r2"),
                details: clinic("B診療所", "1641234567"),
                on: d(2024, 5, 1),
            },
        );
        // then it is refused naming the field and value
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "official_code" && value == "1641234567")
        );
        // when another resource claims the first one's code
        let then = given_when::<ResourceRegistry>(
            &given,
            ResourceCommand::Register {
                id: id("r2"),
                details: clinic("B診療所", "1611234567"),
                on: d(2024, 5, 1),
            },
        );
        // then it is refused as a conflict
        assert!(matches!(then, Err(DomainError::Conflict { .. })));
    }

    #[test]
    fn enhanced_flag_only_for_home_care_support_and_empty_name_refused() {
        let mut details = clinic("A", "1611234567");
        details.kind = ResourceKind::Clinic;
        let then = given_when::<ResourceRegistry>(
            &[],
            ResourceCommand::Register {
                id: id("r1"),
                details,
                on: d(2024, 5, 1),
            },
        );
        assert!(matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "enhanced"));
        let then = given_when::<ResourceRegistry>(
            &[],
            ResourceCommand::Register {
                id: id("r1"),
                details: clinic(" ", "1611234567"),
                on: d(2024, 5, 1),
            },
        );
        assert!(matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "name"));
    }

    #[test]
    fn a_residents_list_needs_a_resource_that_agreed_to_be_listed() {
        // given a clinic not listed for residents
        let given = [registered("r1", clinic("A診療所", "1611234567"))];
        let publish = |audience| ResourceCommand::PublishList {
            id: ListId::parse("id", "l1").unwrap(),
            title: "在宅医療マップ".into(),
            audience,
            format: PublicationFormat::Map,
            on: d(2024, 6, 1),
        };
        // when a residents' list is published, then it is refused
        assert!(given_when::<ResourceRegistry>(&given, publish(Audience::Residents)).is_err());
        // when a professionals' list is published, then it holds one entry
        let then =
            given_when::<ResourceRegistry>(&given, publish(Audience::Professionals)).unwrap();
        assert!(matches!(
            then[..],
            [ResourceEvent::ResourceListPublished { entries: 1, .. }]
        ));
    }

    #[test]
    fn residents_see_neither_contact_nor_consultation_hours() {
        let details = clinic("A診療所", "1611234567");
        let seen = details.for_audience(Audience::Residents);
        assert_eq!((seen.contact, seen.consultation_hours), (None, None));
        assert_eq!(details.for_audience(Audience::Professionals), details);
    }
}
