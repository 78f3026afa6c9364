//! The recording forms. Each form fills the v1 request the gRPC API takes, decodes it with the
//! same function ([`crate::grpc::decode`]) and calls [`Programme::execute`]; a refusal re-renders
//! the form with the clerk's values and the field's reason beside it. Recording needs the
//! operator role, as it does over gRPC.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use renkei_proto::{MunicipalityCode, v1};

use super::{Principal, Workspace, error_text, unknown_municipality};
use crate::access::StaffRole;
use crate::domain::DomainError;
use crate::domain::awareness::AwarenessKind;
use crate::domain::consultation::{DeskHost, Referrer, Topic};
use crate::domain::meetings::{FindingKind, MeetingKind};
use crate::domain::plan::IndicatorKind;
use crate::domain::resources::{Audience, Capability, PublicationFormat, ResourceKind};
use crate::domain::tools::ToolKind;
use crate::domain::trainings::TrainingKind;
use crate::domain::values::{CareScene, Item, OrganisationType, Profession};
use crate::grpc::decode::{self, CaseToOpen};
use crate::programme::{ProgrammeCommand, ProgrammeError};
use crate::web::look::{self, csrf_field};
use crate::web::session::{Session, random_token};
use crate::web::{CsrfForm, SignedIn};

/// The form values as posted (urlencoded values are strings; a field may repeat).
type Posted = Vec<(String, String)>;

/// A posted form's values.
struct Values<'a>(&'a [(String, String)]);

impl Values<'_> {
    fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    /// The words of a text field holding a list (ids separated by commas, 読点 or spaces).
    fn words(&self, name: &str) -> Vec<String> {
        self.get(name)
            .split([',', '、', '，', ' ', '　'])
            .filter(|w| !w.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    fn u32(&self, name: &str) -> Result<u32, DomainError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(0);
        }
        v.parse()
            .map_err(|_| DomainError::invalid(name, &v, "0以上の整数で入力してください"))
    }

    fn opt_u32(&self, name: &str) -> Result<Option<u32>, DomainError> {
        if self.get(name).is_empty() {
            Ok(None)
        } else {
            self.u32(name).map(Some)
        }
    }

    fn f64(&self, name: &str) -> Result<f64, DomainError> {
        let v = self.get(name);
        if v.is_empty() {
            return Ok(0.0);
        }
        v.parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
            .ok_or_else(|| DomainError::invalid(name, &v, "数値で入力してください"))
    }

    /// The counts of a count field (`name.code` inputs), the non-zero ones.
    fn counts(&self, name: &str) -> Result<Vec<v1::ProgramCount>, DomainError> {
        let prefix = format!("{name}.");
        let mut out = Vec::new();
        for (k, v) in self.0 {
            let Some(of) = k.strip_prefix(&prefix) else {
                continue;
            };
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            let count: u32 = v.parse().map_err(|_| {
                DomainError::invalid(name, v, "人数は0以上の整数で入力してください")
            })?;
            if count > 0 {
                out.push(v1::ProgramCount {
                    of: of.to_owned(),
                    count,
                });
            }
        }
        Ok(out)
    }
}

/// How a field is entered.
enum Kind {
    Text,
    Long,
    Date,
    Number,
    Check,
    Select(Vec<(String, String)>),
    /// Checkboxes, one value per choice.
    Multi(Vec<(String, String)>),
    /// A number per choice (participants by profession…).
    Counts(Vec<(String, String)>),
    /// A text file chosen on the clerk's computer (the form is then sent as multipart).
    File(&'static str),
}

struct Field {
    /// The v1 request's field name, as refusals name it.
    name: &'static str,
    label: &'static str,
    kind: Kind,
    /// A value filled in on a fresh form.
    default: String,
}

fn field(name: &'static str, label: &'static str, kind: Kind) -> Field {
    Field {
        name,
        label,
        kind,
        default: String::new(),
    }
}

fn with_default(mut f: Field, default: String) -> Field {
    f.default = default;
    f
}

/// The choices of a vocabulary, code and Japanese label.
fn choices<T: Copy>(
    all: &[T],
    code: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|x| (code(*x).to_owned(), label(*x).to_owned()))
        .collect()
}

/// What a form decodes to.
enum Decoded {
    Command(ProgrammeCommand),
    Case(CaseToOpen),
    Import { csv: String, on: NaiveDate },
}

/// One recording form.
struct Spec {
    key: &'static str,
    title: &'static str,
    fields: Vec<Field>,
    decode: fn(&Values<'_>, &Context) -> Result<Decoded, DomainError>,
}

/// What the forms know beyond the posted values.
struct Context {
    m: MunicipalityCode,
    actor: String,
    /// The unified forms the prefecture published, pulled down into the node.
    unified: Vec<v1::UnifiedFormVersion>,
}

fn today() -> String {
    (Utc::now() + chrono::Duration::hours(9))
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

fn current_fy() -> u32 {
    let t = (Utc::now() + chrono::Duration::hours(9)).date_naive();
    renkei_proto::FiscalYear::containing(t).map_or(2024, |f| u32::from(f.year()))
}

/// A fresh record id, e.g. `meeting-20260401-1a2b3c4d`.
fn fresh_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        today().replace('-', ""),
        &random_token()[..8]
    )
}

fn id_field(prefix: &str) -> Field {
    with_default(
        field("id", "記録番号（自動）", Kind::Text),
        fresh_id(prefix),
    )
}

fn on_field(label: &'static str) -> Field {
    on_field_named("on", label)
}

fn on_field_named(name: &'static str, label: &'static str) -> Field {
    with_default(field(name, label, Kind::Date), today())
}

fn scene_field(name: &'static str, label: &'static str) -> Field {
    field(
        name,
        label,
        Kind::Select(choices(CareScene::ALL, CareScene::code, CareScene::label)),
    )
}

fn scenes() -> Field {
    field(
        "scenes",
        "場面",
        Kind::Multi(choices(CareScene::ALL, CareScene::code, CareScene::label)),
    )
}

fn organisations(name: &'static str, label: &'static str) -> Field {
    field(
        name,
        label,
        Kind::Counts(choices(
            OrganisationType::ALL,
            OrganisationType::code,
            OrganisationType::label,
        )),
    )
}

fn professions(name: &'static str, label: &'static str) -> Field {
    field(
        name,
        label,
        Kind::Counts(choices(
            Profession::ALL,
            Profession::code,
            Profession::label,
        )),
    )
}

fn fy_field() -> Field {
    with_default(
        field("fiscal_year", "年度（西暦）", Kind::Number),
        current_fy().to_string(),
    )
}

fn item_choices() -> Vec<(String, String)> {
    choices(&Item::ALL, Item::code, Item::label)
}

/// The pages of forms: path segment, title, and the item's label.
const ITEM_PAGES: [(&str, &str); 9] = [
    ("a", "（ア）資源の把握"),
    ("b", "（イ）課題の抽出と対応策"),
    ("c", "（ウ）提供体制の構築"),
    ("d", "（エ）情報共有の支援"),
    ("e", "（オ）相談支援"),
    ("f", "（カ）研修"),
    ("g", "（キ）普及啓発"),
    ("h", "（ク）関係市区町村の連携"),
    ("plan", "年間事業計画・評価指標"),
];

/// The forms of one page.
/// The fields of a form that ends something in force (a `ProgramEndRequest`).
fn end_fields(id_label: &'static str, day_label: &'static str) -> Vec<Field> {
    vec![
        field("id", id_label, Kind::Text),
        with_default(field("last_day", day_label, Kind::Date), today()),
    ]
}

/// The `ProgramEndRequest` a form that ends something posts.
fn end_request(v: &Values<'_>, c: &Context) -> v1::ProgramEndRequest {
    v1::ProgramEndRequest {
        municipality_code: c.m.to_string(),
        actor: c.actor.clone(),
        id: v.get("id"),
        last_day: v.get("last_day"),
    }
}

fn specs(page: &str, ctx: &Context) -> Vec<Spec> {
    match page {
        "a" => vec![
            Spec {
                key: "register_resource",
                title: "資源を登録する",
                fields: vec![
                    id_field("resource"),
                    field(
                        "details.kind",
                        "種別",
                        Kind::Select(choices(
                            ResourceKind::ALL,
                            ResourceKind::code,
                            ResourceKind::label,
                        )),
                    ),
                    field("details.enhanced", "機能強化型", Kind::Check),
                    field("details.name", "名称", Kind::Text),
                    field(
                        "details.medical_institution_code",
                        "医療機関コード（10桁）",
                        Kind::Text,
                    ),
                    field(
                        "details.care_provider_number",
                        "介護保険事業所番号（10桁）",
                        Kind::Text,
                    ),
                    field("details.address", "住所", Kind::Text),
                    field("details.latitude", "緯度", Kind::Text),
                    field("details.longitude", "経度", Kind::Text),
                    field("details.contact", "連絡先（関係者向け）", Kind::Text),
                    field(
                        "details.capabilities",
                        "対応可能な機能",
                        Kind::Multi(choices(
                            Capability::ALL,
                            Capability::code,
                            Capability::label,
                        )),
                    ),
                    field("details.consultation_hours", "相談可能時間", Kind::Text),
                    field(
                        "details.listed_for_residents",
                        "住民向け一覧に載せる",
                        Kind::Check,
                    ),
                    field(
                        "details.located_in",
                        "所在市町村コード（住所で分からない場合・他市町村の施設）",
                        Kind::Text,
                    ),
                    on_field("登録日"),
                ],
                decode: |v, c| {
                    let r = v1::RegisterResourceRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        details: Some(v1::ResourceDetails {
                            kind: v.get("details.kind"),
                            enhanced: v.checked("details.enhanced"),
                            name: v.get("details.name"),
                            medical_institution_code: v.get("details.medical_institution_code"),
                            care_provider_number: v.get("details.care_provider_number"),
                            address: v.get("details.address"),
                            latitude: v.f64("details.latitude")?,
                            longitude: v.f64("details.longitude")?,
                            contact: v.get("details.contact"),
                            capabilities: v.all("details.capabilities"),
                            consultation_hours: v.get("details.consultation_hours"),
                            listed_for_residents: v.checked("details.listed_for_residents"),
                            located_in: v.get("details.located_in"),
                        }),
                        on: v.get("on"),
                    };
                    decode::register_resource(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "import_resources",
                title: "資源リストを取り込む（CSV）",
                fields: vec![
                    field(
                        "csv_file",
                        "CSVファイル（UTF-8 または Shift_JIS）",
                        Kind::File(".csv,text/csv"),
                    ),
                    field(
                        "csv",
                        "またはCSVを貼り付け（1行目は見出し: ID,種別,名称,機能強化型,医療機関コード,介護保険事業所番号,住所,緯度,経度,連絡先,対応可能な機能,相談可能時間,住民向け公開）",
                        Kind::Long,
                    ),
                    on_field("登録日"),
                ],
                decode: |v, _| {
                    let file = v.get("csv_file");
                    let csv = if file.trim().is_empty() {
                        v.get("csv")
                    } else {
                        file
                    };
                    if csv.trim().is_empty() {
                        return Err(DomainError::invalid(
                            "csv",
                            "",
                            "CSVファイルを選ぶか、CSVを貼り付けてください",
                        ));
                    }
                    Ok(Decoded::Import {
                        csv,
                        on: decode::date("on", &v.get("on"))?,
                    })
                },
            },
            Spec {
                key: "conduct_resource_survey",
                title: "資源調査を記録する",
                fields: vec![
                    id_field("survey"),
                    field("title", "調査名", Kind::Text),
                    on_field("実施日"),
                    field("responses", "回答数", Kind::Number),
                ],
                decode: |v, c| {
                    let r = v1::ConductResourceSurveyRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        title: v.get("title"),
                        on: v.get("on"),
                        responses: v.u32("responses")?,
                    };
                    decode::conduct_resource_survey(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "publish_resource_list",
                title: "資源リスト・マップの公表を記録する",
                fields: vec![
                    id_field("list"),
                    field("title", "表題", Kind::Text),
                    field(
                        "audience",
                        "対象",
                        Kind::Select(choices(Audience::ALL, Audience::code, Audience::label)),
                    ),
                    field(
                        "format",
                        "形式",
                        Kind::Select(choices(
                            PublicationFormat::ALL,
                            PublicationFormat::code,
                            PublicationFormat::label,
                        )),
                    ),
                    on_field("公表日"),
                ],
                decode: |v, c| {
                    let r = v1::PublishResourceListRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        title: v.get("title"),
                        audience: v.get("audience"),
                        format: v.get("format"),
                        on: v.get("on"),
                    };
                    decode::publish_resource_list(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "withdraw_resource",
                title: "資源を取り下げる",
                fields: end_fields("資源の記録番号", "取り下げ日"),
                decode: |v, c| decode::withdraw_resource(&end_request(v, c)).map(Decoded::Command),
            },
        ],
        "b" => vec![
            Spec {
                key: "hold_meeting",
                title: "会議を記録する",
                fields: vec![
                    id_field("meeting"),
                    field(
                        "kind",
                        "会議の種類",
                        Kind::Select(choices(
                            MeetingKind::ALL,
                            MeetingKind::code,
                            MeetingKind::label,
                        )),
                    ),
                    field("title", "会議名", Kind::Text),
                    on_field("開催日"),
                    organisations("participants", "参加者（団体別の人数）"),
                    scenes(),
                    field(
                        "working_group",
                        "ワーキンググループの記録番号（その会議の場合）",
                        Kind::Text,
                    ),
                ],
                decode: |v, c| {
                    let r = v1::HoldMeetingRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        kind: v.get("kind"),
                        title: v.get("title"),
                        on: v.get("on"),
                        participants: v.counts("participants")?,
                        scenes: v.all("scenes"),
                        working_group: v.get("working_group"),
                    };
                    decode::hold_meeting(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "record_finding",
                title: "課題・対応策を記録する",
                fields: vec![
                    field("meeting", "会議の記録番号", Kind::Text),
                    id_field("finding"),
                    field(
                        "kind",
                        "区分",
                        Kind::Select(choices(
                            FindingKind::ALL,
                            FindingKind::code,
                            FindingKind::label,
                        )),
                    ),
                    field("text", "内容", Kind::Long),
                    scenes(),
                    field(
                        "answers",
                        "対応する課題の記録番号（対応策のとき）",
                        Kind::Text,
                    ),
                ],
                decode: |v, c| {
                    let r = v1::RecordFindingRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        meeting: v.get("meeting"),
                        id: v.get("id"),
                        kind: v.get("kind"),
                        text: v.get("text"),
                        scenes: v.all("scenes"),
                        answers: v.get("answers"),
                    };
                    decode::record_finding(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "form_working_group",
                title: "ワーキンググループを設ける",
                fields: vec![
                    id_field("wg"),
                    field("name", "ワーキンググループ名", Kind::Text),
                    scenes(),
                    on_field("設置日"),
                ],
                decode: |v, c| {
                    let r = v1::FormWorkingGroupRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        name: v.get("name"),
                        scenes: v.all("scenes"),
                        on: v.get("on"),
                    };
                    decode::form_working_group(&r).map(Decoded::Command)
                },
            },
        ],
        "c" => vec![
            Spec {
                key: "establish_arrangement",
                title: "提供体制（取り決め）を記録する",
                fields: vec![
                    id_field("arrangement"),
                    field("name", "名称", Kind::Text),
                    field(
                        "kind",
                        "種類",
                        Kind::Select(vec![
                            (
                                "physician_pairing".into(),
                                "主治医・副主治医制（資源2件）".into(),
                            ),
                            (
                                "emergency_hospital".into(),
                                "急変時診療医療機関（資源1件）".into(),
                            ),
                            ("backup_beds".into(), "後方支援病床（資源1件）".into()),
                            ("round_the_clock_group".into(), "24時間対応グループ".into()),
                        ]),
                    ),
                    field("resources", "資源の記録番号（カンマ区切り）", Kind::Text),
                    field("beds", "病床数（後方支援病床）", Kind::Number),
                    with_default(field("first_day", "開始日", Kind::Date), today()),
                    field("last_day", "終了日（未定なら空欄）", Kind::Date),
                    scenes(),
                ],
                decode: |v, c| {
                    let r = v1::EstablishArrangementRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        name: v.get("name"),
                        kind: v.get("kind"),
                        resources: v
                            .get("resources")
                            .split([',', '、', ' '])
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned)
                            .collect(),
                        beds: v.u32("beds")?,
                        first_day: v.get("first_day"),
                        last_day: v.get("last_day"),
                        scenes: v.all("scenes"),
                    };
                    decode::establish_arrangement(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "end_arrangement",
                title: "提供体制の取組を終える",
                fields: end_fields("取組の記録番号", "最終日"),
                decode: |v, c| decode::end_arrangement(&end_request(v, c)).map(Decoded::Command),
            },
        ],
        "d" => vec![
            Spec {
                key: "adopt_tool",
                title: "情報共有ツールを記録する",
                fields: vec![
                    id_field("tool"),
                    field("name", "名称", Kind::Text),
                    field(
                        "kind",
                        "種類",
                        Kind::Select(choices(ToolKind::ALL, ToolKind::code, ToolKind::label)),
                    ),
                    field("version", "版", Kind::Text),
                    field("manual_title", "利用マニュアルの表題", Kind::Text),
                    field(
                        "manual_covers_personal_information",
                        "マニュアルに個人情報の取扱いを含む",
                        Kind::Check,
                    ),
                    scenes(),
                    on_field("利用開始日"),
                ],
                decode: |v, c| {
                    let r = v1::AdoptToolRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        name: v.get("name"),
                        kind: v.get("kind"),
                        version: v.get("version"),
                        manual_title: v.get("manual_title"),
                        manual_covers_personal_information: v
                            .checked("manual_covers_personal_information"),
                        scenes: v.all("scenes"),
                        on: v.get("on"),
                    };
                    decode::adopt_tool(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "revise_tool",
                title: "ツールの新しい版を記録する",
                fields: vec![
                    field("id", "ツールの記録番号", Kind::Text),
                    field("version", "版", Kind::Text),
                    field("manual_title", "運用マニュアルの表題", Kind::Text),
                    field(
                        "manual_covers_personal_information",
                        "マニュアルに個人情報の取扱いを定めている",
                        Kind::Check,
                    ),
                    on_field("改訂日"),
                ],
                decode: |v, c| {
                    let r = v1::ReviseToolRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        version: v.get("version"),
                        manual_title: v.get("manual_title"),
                        manual_covers_personal_information: v
                            .checked("manual_covers_personal_information"),
                        on: v.get("on"),
                    };
                    decode::revise_tool(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "retire_tool",
                title: "ツールの利用を終える",
                fields: end_fields("ツールの記録番号", "最終利用日"),
                decode: |v, c| decode::retire_tool(&end_request(v, c)).map(Decoded::Command),
            },
        ],
        "e" => vec![
            Spec {
                key: "open_consultation_desk",
                title: "相談窓口の開設を記録する",
                fields: vec![
                    id_field("desk"),
                    field("name", "窓口名", Kind::Text),
                    field(
                        "host",
                        "運営主体",
                        Kind::Select(choices(DeskHost::ALL, DeskHost::code, DeskHost::label)),
                    ),
                    professions("staff", "職員（職種別の人数）"),
                    field("hours", "受付時間", Kind::Text),
                    on_field("開設日"),
                ],
                decode: |v, c| {
                    let r = v1::OpenConsultationDeskRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        name: v.get("name"),
                        host: v.get("host"),
                        staff: v.counts("staff")?,
                        hours: v.get("hours"),
                        on: v.get("on"),
                    };
                    decode::open_consultation_desk(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "open_consultation_case",
                title: "相談事例を記録する",
                fields: vec![
                    id_field("case"),
                    field("desk", "窓口の記録番号", Kind::Text),
                    on_field("受付日"),
                    field(
                        "referrer",
                        "相談者",
                        Kind::Select(choices(Referrer::ALL, Referrer::code, Referrer::label)),
                    ),
                    field(
                        "topic",
                        "相談内容",
                        Kind::Select(choices(Topic::ALL, Topic::code, Topic::label)),
                    ),
                    scenes(),
                    field(
                        "liaison_agreement",
                        "入退院支援ルールの記録番号（協定の病院からの退院のとき）",
                        Kind::Text,
                    ),
                    field(
                        "subject",
                        "本人の番号（個人情報を記録するとき）",
                        Kind::Text,
                    ),
                    field("personal.name", "氏名（要配慮個人情報）", Kind::Text),
                    field("personal.birth_date", "生年月日", Kind::Date),
                    field("personal.address", "住所", Kind::Text),
                    field("personal.phone", "電話", Kind::Text),
                    field("personal.notes", "備考", Kind::Long),
                ],
                decode: |v, c| {
                    let personal = [
                        "personal.name",
                        "personal.birth_date",
                        "personal.address",
                        "personal.phone",
                        "personal.notes",
                    ]
                    .iter()
                    .any(|f| !v.get(f).is_empty())
                    .then(|| v1::PersonalDetails {
                        name: v.get("personal.name"),
                        birth_date: v.get("personal.birth_date"),
                        address: v.get("personal.address"),
                        phone: v.get("personal.phone"),
                        notes: v.get("personal.notes"),
                    });
                    let r = v1::OpenConsultationCaseRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        desk: v.get("desk"),
                        on: v.get("on"),
                        referrer: v.get("referrer"),
                        topic: v.get("topic"),
                        scenes: v.all("scenes"),
                        subject: v.get("subject"),
                        personal,
                        liaison_agreement: v.get("liaison_agreement"),
                    };
                    decode::open_consultation_case(&r).map(Decoded::Case)
                },
            },
            Spec {
                key: "close_consultation_desk",
                title: "相談窓口を閉じる",
                fields: end_fields("窓口の記録番号", "最終日"),
                decode: |v, c| {
                    decode::close_consultation_desk(&end_request(v, c)).map(Decoded::Command)
                },
            },
        ],
        "f" => vec![
            Spec {
                key: "hold_training",
                title: "研修を記録する",
                fields: vec![
                    id_field("training"),
                    field(
                        "kind",
                        "研修の種類",
                        Kind::Select(choices(
                            TrainingKind::ALL,
                            TrainingKind::code,
                            TrainingKind::label,
                        )),
                    ),
                    field("title", "研修名", Kind::Text),
                    on_field("開催日"),
                    professions("participants", "参加者（職種別の人数）"),
                    scenes(),
                ],
                decode: |v, c| {
                    let r = v1::HoldTrainingRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        kind: v.get("kind"),
                        title: v.get("title"),
                        on: v.get("on"),
                        participants: v.counts("participants")?,
                        scenes: v.all("scenes"),
                    };
                    decode::hold_training(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "evaluate_training",
                title: "研修の評価を記録する",
                fields: vec![
                    field("id", "研修の記録番号", Kind::Text),
                    field("respondents", "アンケート回答数", Kind::Number),
                    field("satisfied", "うち「満足」の数", Kind::Number),
                    on_field("評価日"),
                ],
                decode: |v, c| {
                    let r = v1::EvaluateTrainingRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        respondents: v.u32("respondents")?,
                        satisfied: v.u32("satisfied")?,
                        on: v.get("on"),
                    };
                    decode::evaluate_training(&r).map(Decoded::Command)
                },
            },
        ],
        "g" => vec![Spec {
            key: "record_awareness_activity",
            title: "普及啓発の活動を記録する",
            fields: vec![
                id_field("awareness"),
                field(
                    "kind",
                    "種類",
                    Kind::Select(choices(
                        AwarenessKind::ALL,
                        AwarenessKind::code,
                        AwarenessKind::label,
                    )),
                ),
                field("title", "表題", Kind::Text),
                field("audience", "対象", Kind::Text),
                on_field("実施日・配布日"),
                field("attendance", "参加者数", Kind::Number),
                field("copies", "配布部数", Kind::Number),
                scenes(),
            ],
            decode: |v, c| {
                let r = v1::RecordAwarenessActivityRequest {
                    municipality_code: c.m.to_string(),
                    actor: c.actor.clone(),
                    id: v.get("id"),
                    kind: v.get("kind"),
                    title: v.get("title"),
                    audience: v.get("audience"),
                    on: v.get("on"),
                    attendance: v.opt_u32("attendance")?,
                    copies: v.opt_u32("copies")?,
                    scenes: v.all("scenes"),
                };
                decode::record_awareness_activity(&r).map(Decoded::Command)
            },
        }],
        "h" => vec![
            Spec {
                key: "attend_wide_area_meeting",
                title: "広域の会議への参加を記録する",
                fields: vec![
                    id_field("wide"),
                    field("title", "会議名", Kind::Text),
                    field("area", "圏域", Kind::Text),
                    on_field("開催日"),
                    organisations("participants", "参加者（団体別の人数）"),
                ],
                decode: |v, c| {
                    let r = v1::AttendWideAreaMeetingRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        title: v.get("title"),
                        area: v.get("area"),
                        on: v.get("on"),
                        participants: v.counts("participants")?,
                    };
                    decode::attend_wide_area_meeting(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "adopt_unified_form",
                title: "統一様式の採用を記録する（県が公表した様式から選ぶ）",
                fields: vec![
                    field(
                        "form",
                        "様式",
                        Kind::Select(
                            ctx.unified
                                .iter()
                                .map(|f| {
                                    (
                                        format!("{}|{}", f.form_id, f.version),
                                        format!("{}（{}版）", f.name, f.version),
                                    )
                                })
                                .collect(),
                        ),
                    ),
                    on_field("採用日"),
                ],
                decode: |v, c| {
                    let chosen = v.get("form");
                    let form = c
                        .unified
                        .iter()
                        .find(|f| format!("{}|{}", f.form_id, f.version) == chosen)
                        .ok_or_else(|| {
                            DomainError::invalid(
                                "form",
                                &chosen,
                                "県が公表した様式から選んでください",
                            )
                        })?;
                    let r = v1::AdoptUnifiedFormRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: form.form_id.clone(),
                        name: form.name.clone(),
                        version: form.version.clone(),
                        on: v.get("on"),
                    };
                    decode::adopt_unified_form(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "join_liaison_agreement",
                title: "入退院支援ルール（広域の連携協定）への参加を記録する",
                fields: vec![
                    id_field("liaison"),
                    field("hospital", "病院の医療機関コード（10桁）", Kind::Text),
                    field("rule_version", "ルールの版", Kind::Text),
                    field(
                        "notification_lead_days",
                        "退院前の連絡（日前）",
                        Kind::Number,
                    ),
                    field("contact_point", "連絡窓口", Kind::Text),
                    with_default(field("first_day", "開始日", Kind::Date), today()),
                    field("last_day", "終了日（未定なら空欄）", Kind::Date),
                ],
                decode: |v, c| {
                    let r = v1::JoinLiaisonAgreementRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        id: v.get("id"),
                        hospital: v.get("hospital"),
                        rule_version: v.get("rule_version"),
                        notification_lead_days: v.u32("notification_lead_days")?,
                        contact_point: v.get("contact_point"),
                        first_day: v.get("first_day"),
                        last_day: v.get("last_day"),
                    };
                    decode::join_liaison_agreement(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "withdraw_unified_form",
                title: "統一様式の使用をやめる",
                fields: end_fields("採用の記録番号", "最終使用日"),
                decode: |v, c| {
                    decode::withdraw_unified_form(&end_request(v, c)).map(Decoded::Command)
                },
            },
            Spec {
                key: "leave_liaison_agreement",
                title: "入退院支援ルールから抜ける",
                fields: end_fields("参加の記録番号", "最終日"),
                decode: |v, c| {
                    decode::leave_liaison_agreement(&end_request(v, c)).map(Decoded::Command)
                },
            },
        ],
        "plan" => vec![
            Spec {
                key: "schedule_activity",
                title: "年間事業計画に活動を予定する",
                fields: vec![
                    fy_field(),
                    id_field("plan"),
                    field("item", "事業項目", Kind::Select(item_choices())),
                    field("what", "活動の内容", Kind::Text),
                    field("scheduled_on", "予定日", Kind::Date),
                    field("owner", "担当", Kind::Text),
                    field("delegated_to", "委託先", Kind::Text),
                    with_default(field("planned_on", "計画決定日", Kind::Date), today()),
                    scenes(),
                    field(
                        "indicators",
                        "関係する評価指標のID（複数は読点で区切る）",
                        Kind::Text,
                    ),
                ],
                decode: |v, c| {
                    let r = v1::ScheduleActivityRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        id: v.get("id"),
                        item: v.get("item"),
                        what: v.get("what"),
                        scheduled_on: v.get("scheduled_on"),
                        owner: v.get("owner"),
                        delegated_to: v.get("delegated_to"),
                        planned_on: v.get("planned_on"),
                        scenes: v.all("scenes"),
                        indicators: v.words("indicators"),
                    };
                    decode::schedule_activity(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "define_indicator",
                title: "評価指標を定める",
                fields: vec![
                    fy_field(),
                    id_field("indicator"),
                    field(
                        "kind",
                        "指標の種類",
                        Kind::Select(choices(
                            IndicatorKind::ALL,
                            IndicatorKind::code,
                            IndicatorKind::label,
                        )),
                    ),
                    field("name", "指標名", Kind::Text),
                    field("unit", "単位", Kind::Text),
                    field("item", "事業項目（任意）", Kind::Select(item_choices())),
                    scene_field("scene", "場面（任意）"),
                    field("baseline", "基準値（任意）", Kind::Text),
                    field("target", "目標値", Kind::Text),
                ],
                decode: |v, c| {
                    let r = v1::DefineIndicatorRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        id: v.get("id"),
                        kind: v.get("kind"),
                        name: v.get("name"),
                        unit: v.get("unit"),
                        item: v.get("item"),
                        target: v.f64("target")?,
                        scene: v.get("scene"),
                        baseline: if v.get("baseline").is_empty() {
                            None
                        } else {
                            Some(v.f64("baseline")?)
                        },
                    };
                    decode::define_indicator(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "set_scene_goal",
                title: "場面ごとの目指す姿を定める",
                fields: vec![
                    field("period", "介護保険事業計画の期（例: 9）", Kind::Number),
                    scene_field("scene", "場面"),
                    field("text", "目指す姿", Kind::Long),
                    on_field_named("set_on", "決定日"),
                ],
                decode: |v, c| {
                    let r = v1::SetSceneGoalRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        period: v.u32("period")?,
                        scene: v.get("scene"),
                        text: v.get("text"),
                        set_on: v.get("set_on"),
                    };
                    decode::set_scene_goal(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "record_evaluation",
                title: "年度の評価を記録する",
                fields: vec![
                    fy_field(),
                    scene_field("scene", "場面"),
                    field("reached", "目標を達成した", Kind::Check),
                    field("reason", "評価の理由", Kind::Long),
                    field("improvement", "改善（次年度の計画へ、任意）", Kind::Long),
                    on_field("評価日"),
                ],
                decode: |v, c| {
                    let r = v1::RecordEvaluationRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        scene: v.get("scene"),
                        reached: v.checked("reached"),
                        reason: v.get("reason"),
                        improvement: v.get("improvement"),
                        on: v.get("on"),
                    };
                    decode::record_evaluation(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "decide_improvement",
                title: "評価に基づく改善を決める",
                fields: vec![
                    fy_field(),
                    scene_field("scene", "場面"),
                    field("improvement", "改善", Kind::Long),
                    on_field("決定日"),
                ],
                decode: |v, c| {
                    let r = v1::DecideImprovementRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        scene: v.get("scene"),
                        improvement: v.get("improvement"),
                        on: v.get("on"),
                    };
                    decode::decide_improvement(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "record_measurement",
                title: "評価指標の測定値を記録する",
                fields: vec![
                    fy_field(),
                    field("id", "指標の記録番号", Kind::Text),
                    on_field("測定日"),
                    field("value", "測定値", Kind::Text),
                ],
                decode: |v, c| {
                    let r = v1::RecordMeasurementRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        id: v.get("id"),
                        on: v.get("on"),
                        value: v.f64("value")?,
                    };
                    decode::record_measurement(&r).map(Decoded::Command)
                },
            },
            Spec {
                key: "cancel_activity",
                title: "予定した活動を取り消す",
                fields: vec![
                    fy_field(),
                    field("id", "予定の記録番号", Kind::Text),
                    on_field("取消日"),
                ],
                decode: |v, c| {
                    let r = v1::CancelActivityRequest {
                        municipality_code: c.m.to_string(),
                        actor: c.actor.clone(),
                        fiscal_year: v.u32("fiscal_year")?,
                        id: v.get("id"),
                        on: v.get("on"),
                    };
                    decode::cancel_activity(&r).map(Decoded::Command)
                },
            },
        ],
        _ => Vec::new(),
    }
}

/// A refusal shown beside a form: the field it names (if the form has it) and the text.
struct Refusal {
    field: Option<String>,
    text: String,
}

/// The field of a form a domain refusal names: `participants[0].of` → `participants`.
fn refused_field(error: &DomainError) -> Option<String> {
    match error {
        DomainError::Invalid { field, .. } => {
            let base = field.split('[').next().unwrap_or(field);
            Some(base.to_owned())
        }
        _ => None,
    }
}

/// A domain refusal in the clerk's words: the reason and the value given.
/// The domain's reasons in Japanese, most specific first; a reason not listed is shown as the
/// domain words it.
const REASONS_JA: [(&str, &str); 24] = [
    ("must be one of", "次のいずれかにしてください:"),
    ("is required for a", "次の種類では入力が必要です:"),
    ("is required", "入力してください"),
    ("must be 10 digits", "10桁の数字にしてください"),
    (
        "must start with a prefecture code 01-47",
        "先頭2桁を都道府県コード（01〜47）にしてください",
    ),
    (
        "is not a date YYYY-MM-DD",
        "日付（YYYY-MM-DD）にしてください",
    ),
    (
        "must be a date YYYY-MM-DD",
        "日付（YYYY-MM-DD）にしてください",
    ),
    ("must be a finite number", "数値にしてください"),
    (
        "must lie within Japan (20-46)",
        "日本国内の緯度（20〜46）にしてください",
    ),
    (
        "must lie within Japan (122-154)",
        "日本国内の経度（122〜154）にしてください",
    ),
    (
        "must be at least 1 (leave the category out instead)",
        "1以上にしてください（0人の区分は空欄に）",
    ),
    ("must be at least 1", "1以上にしてください"),
    ("must be at most 90", "90以下にしてください"),
    (
        "must be 1-64 characters of A-Z a-z 0-9 - _ .",
        "半角英数字と - _ . の1〜64文字にしてください",
    ),
    (
        "a meeting needs participants",
        "参加者を1人以上入力してください",
    ),
    (
        "a training needs participants",
        "参加者を1人以上入力してください",
    ),
    ("a desk needs staff", "担当者を入力してください"),
    (
        "a rotation needs at least 2 members",
        "輪番には2機関以上が必要です",
    ),
    (
        "is registered with other details (update it instead)",
        "は別の内容で登録済みです（更新してください）",
    ),
    (
        "is not a supported fiscal year",
        "は扱える年度ではありません",
    ),
    ("is longer than", "文字数が多すぎます: 上限"),
    ("is before", "日付が前後しています:"),
    ("is outside", "年度の範囲外です:"),
    ("is already", "すでに記録されています:"),
];

fn refusal_text(error: &DomainError) -> String {
    match error {
        DomainError::Invalid { value, reason, .. } => {
            let reason = REASONS_JA
                .iter()
                .find(|(en, _)| reason.contains(en))
                .map_or_else(|| reason.to_string(), |(en, ja)| reason.replacen(en, ja, 1));
            if value.is_empty() {
                reason
            } else {
                format!("{reason}（入力値: {value}）")
            }
        }
        other => other.to_string(),
    }
}

fn render_field(f: &Field, values: Option<&Values<'_>>, refusal: Option<&Refusal>) -> Markup {
    let id = format!("f-{}", f.name.replace('.', "-"));
    let value = |name: &str| match values {
        Some(v) => v.get(name),
        None => {
            if name == f.name {
                f.default.clone()
            } else {
                String::new()
            }
        }
    };
    let selected_all = |name: &str| values.map(|v| v.all(name)).unwrap_or_default();
    let error = refusal.filter(|r| r.field.as_deref() == Some(f.name));
    html! {
        div class=(if error.is_some() { "field invalid" } else { "field" }) {
            @match &f.kind {
                Kind::Text | Kind::Number | Kind::Date => {
                    label for=(id) { (f.label) }
                    input id=(id) name=(f.name)
                        type=(match f.kind { Kind::Date => "date", Kind::Number => "text", _ => "text" })
                        inputmode=[matches!(f.kind, Kind::Number).then_some("numeric")]
                        value=(value(f.name))
                        aria-invalid=[error.map(|_| "true")];
                }
                Kind::File(accept) => {
                    label for=(id) { (f.label) }
                    input id=(id) type="file" name=(f.name) accept=(accept)
                        aria-invalid=[error.map(|_| "true")];
                }
                Kind::Long => {
                    label for=(id) { (f.label) }
                    textarea id=(id) name=(f.name) rows="4" aria-invalid=[error.map(|_| "true")] { (value(f.name)) }
                }
                Kind::Check => {
                    label {
                        input id=(id) type="checkbox" name=(f.name) value="1"
                            checked[values.is_some_and(|v| v.checked(f.name))];
                        " " (f.label)
                    }
                }
                Kind::Select(options) => {
                    label for=(id) { (f.label) }
                    select id=(id) name=(f.name) aria-invalid=[error.map(|_| "true")] {
                        option value="" { "（選択してください）" }
                        @let current = value(f.name);
                        @for (code, label) in options {
                            option value=(code) selected[*code == current] { (label) }
                        }
                    }
                }
                Kind::Multi(options) => {
                    fieldset {
                        legend { (f.label) }
                        @let chosen = selected_all(f.name);
                        @for (code, label) in options {
                            label.choice {
                                input type="checkbox" name=(f.name) value=(code) checked[chosen.contains(code)];
                                " " (label)
                            }
                        }
                    }
                }
                Kind::Counts(options) => {
                    fieldset {
                        legend { (f.label) }
                        @for (code, label) in options {
                            @let name = format!("{}.{}", f.name, code);
                            label.count {
                                (label) " "
                                input id=(format!("{id}-{code}")) type="text" inputmode="numeric" size="3" name=(name) value=(value(&name));
                            }
                        }
                    }
                }
            }
            @if let Some(e) = error {
                p.field-error id=(format!("err-{}", f.name.replace('.', "-"))) role="alert" {
                    (f.label) ": " (e.text)
                }
            }
        }
    }
}

fn render_form(
    m: MunicipalityCode,
    page: &str,
    spec: &Spec,
    csrf: &str,
    values: Option<&Values<'_>>,
    refusal: Option<&Refusal>,
) -> Markup {
    let general = refusal.filter(|r| {
        r.field
            .as_deref()
            .is_none_or(|f| !spec.fields.iter().any(|x| x.name == f))
    });
    html! {
        section.record-form id=(format!("form-{}", spec.key)) {
            h2 { (spec.title) }
            @if let Some(r) = general {
                (look::message("error", &match &r.field {
                    Some(f) => format!("{f}: {}", r.text),
                    None => r.text.clone(),
                }))
            }
            form.record method="post" action=(format!("/m/{m}/record/{page}/{}", spec.key))
                enctype=[spec.fields.iter().any(|f| matches!(f.kind, Kind::File(_))).then_some("multipart/form-data")] {
                (csrf_field(csrf))
                @for f in &spec.fields {
                    (render_field(f, values, refusal))
                }
                button type="submit" id=(format!("submit-{}", spec.key)) { "記録する" }
            }
        }
    }
}

fn context(ws: &Workspace, m: MunicipalityCode, session: &Session<Principal>) -> Context {
    let unified = crate::sync::down::pulled_items(&ws.store, m)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|item| match item.kind {
            Some(v1::DownItemKind::Form(f)) => Some(f),
            _ => None,
        })
        .collect();
    Context {
        m,
        actor: session.principal.name.clone(),
        unified,
    }
}

/// What happened to the last form posted on a page.
enum Outcome<'a> {
    None,
    Done(Markup),
    Refused(&'a str, &'a Values<'a>, Refusal),
}

fn render_page(
    ws: &Workspace,
    session: &Session<Principal>,
    m: MunicipalityCode,
    page: &str,
    outcome: Outcome<'_>,
) -> Response {
    let Some((_, title)) = ITEM_PAGES.iter().find(|(p, _)| *p == page) else {
        return unknown_municipality(page);
    };
    let ctx = context(ws, m, session);
    let specs = specs(page, &ctx);
    let may_record = session.principal.role >= StaffRole::Operator;
    let body = html! {
        nav.items aria-label="事業項目" {
            ul {
                @for (p, label) in ITEM_PAGES {
                    li {
                        @if p == page {
                            a href=(format!("/m/{m}/record/{p}")) aria-current="page" { (label) }
                        } @else {
                            a href=(format!("/m/{m}/record/{p}")) { (label) }
                        }
                    }
                }
            }
        }
        @if !may_record {
            (look::message("note", "記録するには担当者（operator）以上のトークンでサインインしてください。"))
        }
        @if let Outcome::Done(done) = &outcome { (done) }
        @for spec in &specs {
            @match &outcome {
                Outcome::Refused(key, values, refusal) if *key == spec.key => {
                    (render_form(m, page, spec, &session.csrf, Some(values), Some(refusal)))
                }
                _ => { (render_form(m, page, spec, &session.csrf, None, None)) }
            }
        }
    };
    let mut response = ws.page(session, m, "record", &format!("記録する: {title}"), body);
    if let Outcome::Refused(..) = outcome {
        *response.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    response
}

async fn record_index(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path(code): Path<String>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    render_page(&ws, &session, m, "a", Outcome::None)
}

async fn record_page(
    State(ws): State<Workspace>,
    SignedIn(session): SignedIn<Principal>,
    Path((code, page)): Path<(String, String)>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    render_page(&ws, &session, m, &page, Outcome::None)
}

async fn record(
    State(ws): State<Workspace>,
    Path((code, page, key)): Path<(String, String, String)>,
    CsrfForm(session, posted): CsrfForm<Principal, Posted>,
) -> Response {
    let Some(m) = ws.tenant(&code) else {
        return unknown_municipality(&code);
    };
    let values = Values(&posted);
    let refuse = |error: Refusal| {
        render_page(
            &ws,
            &session,
            m,
            &page,
            Outcome::Refused(&key, &values, error),
        )
    };
    if session.principal.role < StaffRole::Operator {
        tracing::warn!(staff = %session.principal.name, form = %key, refused = "recording needs the operator role", "web request refused");
        let mut r = refuse(Refusal {
            field: None,
            text: "この操作の権限がありません（担当者以上）".to_owned(),
        });
        *r.status_mut() = StatusCode::FORBIDDEN;
        return r;
    }
    let ctx = context(&ws, m, &session);
    let specs = specs(&page, &ctx);
    let Some(spec) = specs.iter().find(|s| s.key == key) else {
        return unknown_municipality(&key);
    };
    let decoded = match (spec.decode)(&values, &ctx) {
        Ok(d) => d,
        Err(e) => {
            tracing::info!(staff = %ctx.actor, form = %key, refused = %e, "workspace form refused");
            return refuse(Refusal {
                field: refused_field(&e),
                text: refusal_text(&e),
            });
        }
    };
    let done = match decoded {
        Decoded::Import { csv, on } => {
            match ws
                .programme
                .import_resources(m, &ctx.actor, csv.as_bytes(), on)
                .await
            {
                Ok(report) => html! {
                    (look::message("ok", &format!(
                        "取り込みました: {}行のうち登録 {}件、変更なし {}件、不採用 {}件",
                        report.rows, report.registered, report.unchanged, report.rejected.len()
                    )))
                    @if !report.rejected.is_empty() {
                        table #rejected {
                            caption { "取り込めなかった行" }
                            thead { tr { th scope="col" { "行" } th scope="col" { "理由" } } }
                            tbody {
                                @for r in &report.rejected {
                                    tr { td.num { (r.line) } td { (r.reason) } }
                                }
                            }
                        }
                    }
                },
                Err(crate::programme::import::ImportError::Programme(e)) => {
                    return programme_refusal(&ws, &session, m, &page, &key, &values, e);
                }
                Err(other) => {
                    return refuse(Refusal {
                        field: Some("csv".to_owned()),
                        text: other.to_string(),
                    });
                }
            }
        }
        Decoded::Case(case) => {
            let command = match case.sealed(&ws.programme, m) {
                Ok(c) => c,
                Err(e) => return programme_refusal(&ws, &session, m, &page, &key, &values, e),
            };
            match ws.programme.execute(m, &ctx.actor, command).await {
                Ok(done) => recorded(done.events),
                Err(e) => return programme_refusal(&ws, &session, m, &page, &key, &values, e),
            }
        }
        Decoded::Command(command) => match ws.programme.execute(m, &ctx.actor, command).await {
            Ok(done) => recorded(done.events),
            Err(e) => return programme_refusal(&ws, &session, m, &page, &key, &values, e),
        },
    };
    tracing::info!(staff = %ctx.actor, municipality = %m, form = %key, "recorded through the workspace");
    render_page(&ws, &session, m, &page, Outcome::Done(done))
}

fn recorded(events: usize) -> Markup {
    if events == 0 {
        look::message("ok", "同じ内容が記録済みです（追加の記録はありません）。")
    } else {
        look::message("ok", "記録しました。")
    }
}

fn programme_refusal(
    ws: &Workspace,
    session: &Session<Principal>,
    m: MunicipalityCode,
    page: &str,
    key: &str,
    values: &Values<'_>,
    e: ProgrammeError,
) -> Response {
    let refusal = match &e {
        ProgrammeError::Domain(d) => Refusal {
            field: refused_field(d),
            text: refusal_text(d),
        },
        other => Refusal {
            field: None,
            text: error_text(other),
        },
    };
    let status = super::http_status(&e);
    if status.is_server_error() {
        tracing::error!(error = %e, "workspace form failed");
    }
    let mut r = render_page(ws, session, m, page, Outcome::Refused(key, values, refusal));
    *r.status_mut() = status;
    r
}

pub(super) fn routes() -> Router<Workspace> {
    Router::new()
        .route("/m/{code}/record", get(record_index))
        .route("/m/{code}/record/{page}", get(record_page))
        .route("/m/{code}/record/{page}/{key}", axum::routing::post(record))
}
