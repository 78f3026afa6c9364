//! Validated value types of the programme and its vocabularies. Values are built only through
//! validation; every refusal names the field and the value.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::DomainError;

/// The longest free text accepted, in characters.
pub const MAX_TEXT: usize = 2000;
/// The longest name accepted, in characters.
pub const MAX_NAME: usize = 200;

/// Checks a required free text: trimmed, not empty, at most `max` characters, no control
/// characters other than line breaks. Returns it trimmed.
pub fn text(field: &str, value: &str, max: usize) -> Result<String, DomainError> {
    let t = value.trim();
    if t.is_empty() {
        return Err(DomainError::invalid(field, value, "is required"));
    }
    if t.chars().count() > max {
        return Err(DomainError::invalid(
            field,
            value,
            format!("is longer than {max} characters"),
        ));
    }
    if t.chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            field,
            value,
            "holds control characters",
        ));
    }
    Ok(t.to_owned())
}

/// Checks an optional free text: empty means absent.
pub fn optional_text(field: &str, value: &str, max: usize) -> Result<Option<String>, DomainError> {
    if value.trim().is_empty() {
        Ok(None)
    } else {
        text(field, value, max).map(Some)
    }
}

/// Parses a JST business date written `YYYY-MM-DD` (or `YYYY/MM/DD`, as Excel writes it).
pub fn business_date(field: &str, value: &str) -> Result<NaiveDate, DomainError> {
    let v = value.trim();
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(v, "%Y/%m/%d"))
        .map_err(|_| DomainError::invalid(field, value, "is not a date YYYY-MM-DD"))
}

/// Checks that `last_day` is not before `first_day` (periods are inclusive of both ends).
pub fn period(field: &str, first_day: NaiveDate, last_day: NaiveDate) -> Result<(), DomainError> {
    if last_day < first_day {
        return Err(DomainError::invalid(
            field,
            last_day,
            format!("is before the first day {first_day}"),
        ));
    }
    Ok(())
}

macro_rules! entity_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        ///
        /// 1–64 characters of ASCII letters, digits and `-_.`.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates an id; `field` names it in the error.
            pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
                let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
                if value.is_empty() || value.len() > 64 || !value.chars().all(ok) {
                    return Err(DomainError::invalid(
                        field,
                        value,
                        "must be 1-64 characters of A-Z a-z 0-9 - _ .",
                    ));
                }
                Ok(Self(value.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(value: String) -> Result<Self, DomainError> {
                Self::parse(stringify!($name), &value)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

entity_id!(
    /// Names a medical or care resource in the registry (ア).
    ResourceId
);
entity_id!(
    /// Names a resource survey (ア).
    SurveyId
);
entity_id!(
    /// Names a published resource list or map (ア).
    ListId
);
entity_id!(
    /// Names a meeting (イ).
    MeetingId
);
entity_id!(
    /// Names an issue (課題) or countermeasure (対応策) recorded at a meeting (イ).
    FindingId
);
entity_id!(
    /// Names a working group (イ).
    WorkingGroupId
);
entity_id!(
    /// Names a provision arrangement (ウ).
    ArrangementId
);
entity_id!(
    /// Names an information-sharing tool (エ).
    ToolId
);
entity_id!(
    /// Names a consultation desk (オ).
    DeskId
);
entity_id!(
    /// Names a consultation case (オ).
    CaseId
);
entity_id!(
    /// Names a data subject: the person a consultation case is about. Opaque; never derived from
    /// the person's name.
    SubjectId
);
entity_id!(
    /// Names a training (カ).
    TrainingId
);
entity_id!(
    /// Names an awareness activity (キ).
    ActivityId
);
entity_id!(
    /// Names a wide-area meeting, unified form or liaison agreement (ク).
    WideAreaId
);
entity_id!(
    /// Names a planned activity of the annual plan.
    PlannedActivityId
);
entity_id!(
    /// Names an evaluation indicator of the annual plan.
    IndicatorId
);

/// A medical institution code (医療機関コード): prefecture (2 digits, 01–47) + 点数表 category
/// (1 医科, 3 歯科, 4 調剤, 6 訪問看護) + 7 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MedicalInstitutionCode([u8; 10]);

/// The 点数表 category of a medical institution code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MedicalCategory {
    /// 医科
    Medical,
    /// 歯科
    Dental,
    /// 調剤
    Pharmacy,
    /// 訪問看護
    VisitingNursing,
}

impl MedicalInstitutionCode {
    /// Validates a code; `field` names it in the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        let bytes: [u8; 10] = value
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 10]| b.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| DomainError::invalid(field, value, "must be 10 digits"))?;
        let pref = (bytes[0] - b'0') * 10 + (bytes[1] - b'0');
        if !(1..=47).contains(&pref) {
            return Err(DomainError::invalid(
                field,
                value,
                "must start with a prefecture code 01-47",
            ));
        }
        if !matches!(bytes[2], b'1' | b'3' | b'4' | b'6') {
            return Err(DomainError::invalid(
                field,
                value,
                "third digit must be a category 1 (医科), 3 (歯科), 4 (調剤) or 6 (訪問看護)",
            ));
        }
        Ok(Self(bytes))
    }

    /// Returns the 点数表 category.
    pub fn category(&self) -> MedicalCategory {
        match self.0[2] {
            b'1' => MedicalCategory::Medical,
            b'3' => MedicalCategory::Dental,
            b'4' => MedicalCategory::Pharmacy,
            _ => MedicalCategory::VisitingNursing,
        }
    }

    pub fn as_str(&self) -> &str {
        // Built only from ten ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl TryFrom<String> for MedicalInstitutionCode {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::parse("medical_institution_code", &value)
    }
}

impl From<MedicalInstitutionCode> for String {
    fn from(c: MedicalInstitutionCode) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for MedicalInstitutionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A long-term care insurance provider number (介護保険事業所番号): 10 digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CareProviderNumber([u8; 10]);

impl CareProviderNumber {
    /// Validates a number; `field` names it in the error.
    pub fn parse(field: &str, value: &str) -> Result<Self, DomainError> {
        let bytes: [u8; 10] = value
            .as_bytes()
            .try_into()
            .ok()
            .filter(|b: &[u8; 10]| b.iter().all(u8::is_ascii_digit))
            .ok_or_else(|| DomainError::invalid(field, value, "must be 10 digits"))?;
        Ok(Self(bytes))
    }

    pub fn as_str(&self) -> &str {
        // Built only from ten ASCII digits.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl TryFrom<String> for CareProviderNumber {
    type Error = DomainError;
    fn try_from(value: String) -> Result<Self, DomainError> {
        Self::parse("care_provider_number", &value)
    }
}

impl From<CareProviderNumber> for String {
    fn from(c: CareProviderNumber) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Display for CareProviderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A point on the map (WGS84), within Japan's bounding box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Coordinates {
    pub latitude: f64,
    pub longitude: f64,
}

impl Coordinates {
    /// Validates a point; it must lie within 20–46°N, 122–154°E.
    pub fn new(latitude: f64, longitude: f64) -> Result<Self, DomainError> {
        if !(20.0..=46.0).contains(&latitude) {
            return Err(DomainError::invalid(
                "coordinates.latitude",
                latitude,
                "must lie within Japan (20-46)",
            ));
        }
        if !(122.0..=154.0).contains(&longitude) {
            return Err(DomainError::invalid(
                "coordinates.longitude",
                longitude,
                "must lie within Japan (122-154)",
            ));
        }
        Ok(Self {
            latitude,
            longitude,
        })
    }
}

/// Declares a closed vocabulary: an enum whose variants have a wire code (snake_case) and a
/// Japanese label, parsed from either.
macro_rules! vocabulary {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = ($code:literal, $label:literal)),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Returns the wire code, e.g. `home_visits`.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Returns the Japanese label.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses the wire code or the Japanese label; `field` names it in the error.
            pub fn parse(field: &str, value: &str) -> Result<Self, $crate::domain::DomainError> {
                let v = value.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|x| x.code() == v || x.label() == v)
                    .ok_or_else(|| {
                        let known: Vec<_> = Self::ALL.iter().map(|x| x.code()).collect();
                        $crate::domain::DomainError::invalid(field, value, format!("must be one of {}", known.join(", ")))
                    })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}
pub(crate) use vocabulary;

/// The eight items (事業項目), defined once for both tiers.
pub use renkei_proto::programme::Item;

/// Reads an item from its code (`d`), letter (`エ`) or label; `field` names it in the error.
pub fn item(field: &str, value: &str) -> Result<Item, DomainError> {
    Item::from_text(value).ok_or_else(|| {
        DomainError::invalid(
            field,
            value,
            "must be one of a, b, c, d, e, f, g, h (（ア）…（ク）)",
        )
    })
}

/// The care scenes (場面), defined once for both tiers.
pub use renkei_proto::programme::cycle::CareScene;

/// Reads a care scene from its code (`daily_care`) or label; `field` names it in the error.
pub fn scene(field: &str, value: &str) -> Result<CareScene, DomainError> {
    CareScene::from_text(value).ok_or_else(|| {
        let known: Vec<_> = CareScene::ALL.iter().map(|s| s.code()).collect();
        DomainError::invalid(field, value, format!("must be one of {}", known.join(", ")))
    })
}

vocabulary!(
    /// The type of organisation a meeting participant comes from.
    OrganisationType {
        /// 医師会
        MedicalAssociation = ("medical_association", "医師会"),
        /// 歯科医師会
        DentalAssociation = ("dental_association", "歯科医師会"),
        /// 薬剤師会
        PharmacistAssociation = ("pharmacist_association", "薬剤師会"),
        /// 病院
        Hospital = ("hospital", "病院"),
        /// 訪問看護
        VisitingNursing = ("visiting_nursing", "訪問看護"),
        /// 介護事業者
        CareProvider = ("care_provider", "介護事業者"),
        /// 介護支援専門員協会
        CareManagerAssociation = ("care_manager_association", "介護支援専門員協会"),
        /// 地域包括支援センター
        CommunityGeneralSupportCenter = ("community_general_support_center", "地域包括支援センター"),
        /// 市区町村
        Municipality = ("municipality", "市区町村"),
        /// 都道府県
        Prefecture = ("prefecture", "都道府県"),
        /// 保健所
        PublicHealthCenter = ("public_health_center", "保健所"),
        /// 住民
        Resident = ("resident", "住民"),
        /// その他
        Other = ("other", "その他"),
    }
);

vocabulary!(
    /// A profession of training participants and consultation-desk staff.
    Profession {
        /// 医師
        Physician = ("physician", "医師"),
        /// 歯科医師
        Dentist = ("dentist", "歯科医師"),
        /// 薬剤師
        Pharmacist = ("pharmacist", "薬剤師"),
        /// 看護師
        Nurse = ("nurse", "看護師"),
        /// 保健師
        PublicHealthNurse = ("public_health_nurse", "保健師"),
        /// 介護支援専門員
        CareManager = ("care_manager", "介護支援専門員"),
        /// 介護職員
        CareWorker = ("care_worker", "介護職員"),
        /// リハビリ職
        Rehabilitation = ("rehabilitation", "リハビリ職"),
        /// 管理栄養士
        Dietitian = ("dietitian", "管理栄養士"),
        /// 医療相談員
        MedicalSocialWorker = ("medical_social_worker", "医療相談員"),
        /// 社会福祉士
        SocialWorker = ("social_worker", "社会福祉士"),
        /// 事務職
        Administrative = ("administrative", "事務職"),
        /// その他
        Other = ("other", "その他"),
    }
);

/// A head count per category, e.g. participants by profession.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count<T> {
    pub of: T,
    pub count: u32,
}

/// Checks a list of head counts: no category twice, no zero count. Returns the total.
pub fn counts<T: Copy + Eq + fmt::Display>(
    field: &str,
    list: &[Count<T>],
) -> Result<u32, DomainError> {
    let mut total: u32 = 0;
    for (i, c) in list.iter().enumerate() {
        if c.count == 0 {
            return Err(DomainError::invalid(
                format!("{field}[{i}].count"),
                0,
                "must be at least 1 (leave the category out instead)",
            ));
        }
        if list[..i].iter().any(|o| o.of == c.of) {
            return Err(DomainError::invalid(
                format!("{field}[{i}].of"),
                c.of,
                "appears twice",
            ));
        }
        total = total.saturating_add(c.count);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medical_institution_codes() {
        let c = MedicalInstitutionCode::parse("code", "1612345678").unwrap();
        assert_eq!(c.category(), MedicalCategory::Medical);
        assert_eq!(
            MedicalInstitutionCode::parse("code", "1662345678")
                .unwrap()
                .category(),
            MedicalCategory::VisitingNursing
        );
        for bad in [
            "161234567",
            "16123456789",
            "4812345678",
            "0012345678",
            "1622345678",
            "16a2345678",
        ] {
            let e = MedicalInstitutionCode::parse("code", bad).unwrap_err();
            assert!(
                matches!(&e, DomainError::Invalid { field, value, .. } if field == "code" && value == bad),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn care_provider_numbers() {
        assert!(CareProviderNumber::parse("n", "1670100012").is_ok());
        assert!(CareProviderNumber::parse("n", "167010001").is_err());
        assert!(CareProviderNumber::parse("n", "16701000１2").is_err());
    }

    #[test]
    fn dates_texts_and_vocabularies() {
        assert_eq!(
            business_date("on", "2024/04/01").unwrap(),
            NaiveDate::from_ymd_opt(2024, 4, 1).unwrap()
        );
        assert!(business_date("on", "2024-02-30").is_err());
        assert!(text("name", "  ", 10).is_err());
        assert_eq!(text("name", " 富山 ", 10).unwrap(), "富山");
        assert_eq!(Profession::parse("p", "看護師").unwrap(), Profession::Nurse);
        assert_eq!(Profession::parse("p", "nurse").unwrap(), Profession::Nurse);
        assert!(Profession::parse("p", "wizard").is_err());
        assert!(ResourceId::parse("id", "a b").is_err());
        assert!(Coordinates::new(36.7, 137.2).is_ok());
        assert!(Coordinates::new(0.0, 137.2).is_err());
    }
}
