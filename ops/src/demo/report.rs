//! What `renkei demo` prints: the federation it ran, the national-style tally for the prefecture
//! and per 二次医療圏, the (ク) designation candidates with their reasons and the gap report, and
//! the exports it wrote — as text for people or JSON for scripts.

use std::path::PathBuf;
use std::time::Duration;

use renkei_proto::v1;
use serde_json::{Value, json};

use crate::table::{self, Align, TallyLine};

/// Everything the demo learned.
pub struct Report {
    pub tally: v1::TallyReply,
    /// The PDCA cycle's tally of the same fiscal year (the 2020 framework).
    pub cycle: v1::CycleTallyReply,
    pub designations: v1::DesignationsView,
    /// The replicas' addresses, replica 1 first.
    pub replicas: Vec<String>,
    pub leader: u64,
    /// Per node: name, address, the names of its municipalities.
    pub nodes: Vec<(String, String, Vec<String>)>,
    /// Facts the prefecture acknowledged.
    pub facts: u64,
    /// `MunicipalProgram` commands sent.
    pub commands: usize,
    pub exports: Vec<PathBuf>,
    pub elapsed: Duration,
    /// Per process: name, whether it exited cleanly after SIGTERM.
    pub stopped: Vec<(String, bool)>,
    pub folder_note: String,
    /// The prefecture console of each replica (`https://…/`), replica 1 first.
    pub consoles: Vec<String>,
    /// The token of the demo's prefecture office (role admin), to sign in to the console.
    pub officer_token: String,
    /// Per node: name, the workspace's URL (`https://…/`) and its clerk's token (operator).
    pub workspaces: Vec<(String, String, String)>,
}

fn lines(items: &[v1::ItemTally]) -> Vec<TallyLine> {
    items.iter().map(TallyLine::from).collect()
}

fn role_label(role: &str) -> &str {
    match role {
        "active_role_medical_institution" => "積極的役割を担う医療機関",
        "liaison_base" => "連携を担う拠点",
        other => other,
    }
}

/// The eight items' answers read in the four statutory groups (from FY2020), prefecture-wide.
fn groups_text(t: &v1::TallyReply) -> String {
    if t.groups.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = t
        .groups
        .iter()
        .map(|g| {
            vec![
                g.label.clone(),
                format!("{}（{}%）", g.implemented, g.implemented_percent),
                format!("{}（{}%）", g.planned, g.planned_percent),
                format!("{}（{}%）", g.not_implemented, g.not_implemented_percent),
            ]
        })
        .collect();
    format!(
        "\n■ 施行規則の区分で読んだ実施状況 — {}（n={}）\n{}",
        t.framework,
        t.n,
        table::render(
            &["区分", "実施している", "年度内に実施予定", "実施していない"],
            &[Align::Left, Align::Right, Align::Right, Align::Right],
            &rows,
        )
    )
}

/// The PDCA cycle's tally per 二次医療圏 and for the prefecture: goals per scene, indicators per
/// kind, last year's evaluation, and the step reached.
fn cycle_text(c: &v1::CycleTallyReply) -> String {
    let count = |list: &[v1::CycleCount], code: &str| {
        list.iter()
            .find(|x| x.code == code)
            .map_or(0, |x| x.count)
            .to_string()
    };
    let line = |name: &str, l: &v1::CycleTallyLine| -> Vec<String> {
        let mut row = vec![name.to_owned(), l.municipalities.to_string()];
        for scene in [
            "daily_care",
            "admission_discharge",
            "sudden_deterioration",
            "end_of_life",
        ] {
            row.push(count(&l.goal_scenes, scene));
        }
        for kind in ["structure", "process", "outcome"] {
            row.push(count(&l.indicator_kinds, kind));
        }
        row.push(l.evaluated_last_year.to_string());
        row.push(l.reached_last_year.to_string());
        row.push(
            l.steps
                .iter()
                .map(|s| s.count.to_string())
                .collect::<Vec<_>>()
                .join("/"),
        );
        row
    };
    let mut rows: Vec<Vec<String>> = c.regions.iter().map(|r| line(&r.region_name, r)).collect();
    if let Some(total) = &c.total {
        rows.push(line(&c.prefecture_name, total));
    }
    let mut align = vec![Align::Left];
    align.extend([Align::Right; 11]);
    format!(
        "\n■ PDCAサイクル {} {}（{}）— 目指す姿（場面）・評価指標・前年度の評価・到達段階\n{}\n",
        c.prefecture_name,
        c.wareki,
        c.plan_period,
        table::render(
            &[
                "圏域",
                "n",
                "日常療養",
                "入退院",
                "急変時",
                "看取り",
                "構造",
                "過程",
                "結果",
                "前年度評価",
                "目標達成",
                "未着手/P/D/C/A",
            ],
            &align,
            &rows,
        )
    )
}

impl Report {
    /// Returns the report for people.
    pub fn to_text(&self) -> String {
        let t = &self.tally;
        let mut out = String::new();
        out.push_str(&format!(
            "renkei demo: {}（{}）のローカル連携 — {} {}現在\n",
            t.prefecture_name, t.prefecture, t.wareki, t.as_of
        ));
        out.push_str(&format!(
            "  prefecture cluster: 3 replicas ({}), leader replica {}\n",
            self.replicas.join(", "),
            self.leader
        ));
        for (name, address, municipalities) in &self.nodes {
            out.push_str(&format!(
                "  {name} {address}: {}\n",
                municipalities.join("・")
            ));
        }
        out.push_str(&format!(
            "  {} programme commands recorded; {} facts acknowledged by the prefecture\n\n",
            self.commands, self.facts
        ));

        out.push_str(&format!(
            "■ 在宅医療・介護連携推進事業 実施状況 {} {}（{}現在, n={}, 未回答 {}）\n",
            t.prefecture_name, t.wareki, t.as_of, t.n, t.unanswered
        ));
        out.push_str(&table::tally(&lines(&t.items)));
        for region in &t.regions {
            out.push_str(&format!(
                "\n■ 二次医療圏 {}（{}, n={}, 未回答 {}）\n",
                region.region_name, region.region_id, region.n, region.unanswered
            ));
            out.push_str(&table::tally(&lines(&region.items)));
        }

        out.push_str(&groups_text(t));
        out.push_str(&cycle_text(&self.cycle));

        out.push_str(
            "\n■ （ク）在宅医療において積極的役割を担う医療機関 — 候補（圏域別、①②③は選定理由）\n",
        );
        for area in &self.designations.areas {
            out.push_str(&format!("[{}（{}）]\n", area.region_name, area.region_id));
            let mut rows = Vec::new();
            for m in &area.active_role {
                if m.candidates.is_empty() {
                    rows.push(vec![
                        m.name.clone(),
                        "（候補なし）".into(),
                        String::new(),
                        String::new(),
                    ]);
                }
                for (i, c) in m.candidates.iter().enumerate() {
                    rows.push(vec![
                        if i == 0 {
                            m.name.clone()
                        } else {
                            String::new()
                        },
                        c.name.clone(),
                        c.medical_institution_code.clone(),
                        c.reason.clone(),
                    ]);
                }
            }
            let text = table::render(
                &["市町村", "候補", "医療機関コード", "理由"],
                &[Align::Left; 4],
                &rows,
            );
            for line in text.lines() {
                out.push_str(&format!("  {line}\n"));
            }
            // The sources' ①②③ by name; the other bodies the 指針 names (病院, 診療所, 訪問看護
            // 事業所, 保健所) by number, as the console lists them all.
            let (named, others): (Vec<_>, Vec<_>) = area
                .liaison_bases
                .iter()
                .partition(|b| b.reason.starts_with(['①', '②', '③']));
            let mut bases: Vec<String> = named.iter().map(|b| b.name.clone()).collect();
            if !others.is_empty() {
                bases.push(format!(
                    "ほか指針の挙げる主体（病院・診療所・訪問看護事業所・保健所）{} か所",
                    others.len()
                ));
            }
            out.push_str(&format!(
                "  在宅医療に必要な連携を担う拠点の候補: {}\n",
                if bases.is_empty() {
                    "なし".to_owned()
                } else {
                    bases.join("、")
                }
            ));
            for d in &area.decisions {
                out.push_str(&format!(
                    "  決定（{}）: {} {}\n",
                    role_label(&d.role),
                    d.institution_name,
                    d.decided_on
                ));
            }
        }

        out.push_str("\n■ 不足（ギャップ）報告\n");
        let mut any = false;
        for area in &self.designations.areas {
            if !area.gaps.is_empty() {
                any = true;
                out.push_str(&format!(
                    "  {}: {}\n",
                    area.region_name,
                    area.gaps.join("／")
                ));
            }
            if !area.neighbour_only.is_empty() {
                let names: Vec<String> = area
                    .active_role
                    .iter()
                    .filter(|m| area.neighbour_only.contains(&m.municipality))
                    .map(|m| m.name.clone())
                    .collect();
                out.push_str(&format!(
                    "  {}: 市町村内に在宅療養支援病院・診療所がなく近隣頼み（③）: {}\n",
                    area.region_name,
                    names.join("、")
                ));
            }
        }
        if !any {
            out.push_str("  なし\n");
        }

        out.push_str("\n■ 出力ファイル\n");
        for path in &self.exports {
            out.push_str(&format!("  {}\n", path.display()));
        }
        let clean = self.stopped.iter().filter(|(_, c)| *c).count();
        out.push_str(&format!(
            "\n{} processes stopped with SIGTERM, {} exited cleanly; {:.1} s in all\n{}\n",
            self.stopped.len(),
            clean,
            self.elapsed.as_secs_f64(),
            self.folder_note
        ));
        out
    }

    /// Returns the report for scripts.
    pub fn to_json(&self) -> Value {
        let t = &self.tally;
        let tally = |items: &[v1::ItemTally]| -> Value {
            json!(
                items
                    .iter()
                    .map(|i| json!({
                        "item": i.item,
                        "label": i.label,
                        "implemented": i.implemented,
                        "planned": i.planned,
                        "not_implemented": i.not_implemented,
                        "implemented_percent": i.implemented_percent,
                        "planned_percent": i.planned_percent,
                        "not_implemented_percent": i.not_implemented_percent,
                    }))
                    .collect::<Vec<_>>()
            )
        };
        let candidate = |c: &v1::DesignationCandidate| {
            json!({
                "municipality": c.municipality,
                "name": c.name,
                "medical_institution_code": c.medical_institution_code,
                "reason": c.reason,
            })
        };
        json!({
            "consoles": self.consoles,
            "workspaces": self.workspaces.iter().map(|(node, url, _)| json!({
                "node": node, "url": url,
            })).collect::<Vec<_>>(),
            "prefecture": t.prefecture,
            "prefecture_name": t.prefecture_name,
            "fiscal_year": t.fiscal_year,
            "wareki": t.wareki,
            "as_of": t.as_of,
            "n": t.n,
            "unanswered": t.unanswered,
            "replicas": self.replicas,
            "leader": self.leader,
            "nodes": self.nodes.iter().map(|(name, address, municipalities)| json!({
                "name": name, "address": address, "municipalities": municipalities,
            })).collect::<Vec<_>>(),
            "commands": self.commands,
            "facts": self.facts,
            "tally": tally(&t.items),
            "regions": t.regions.iter().map(|r| json!({
                "region_id": r.region_id,
                "region_name": r.region_name,
                "n": r.n,
                "unanswered": r.unanswered,
                "tally": tally(&r.items),
            })).collect::<Vec<_>>(),
            "cycle": {
                "framework": self.cycle.framework,
                "plan_period": self.cycle.plan_period,
                "municipalities": self.cycle.municipalities.iter().map(|m| json!({
                    "municipality": m.municipality,
                    "name": m.name,
                    "step": m.step,
                    "goal_scenes": m.goal_scenes,
                    "indicator_kinds": m.indicator_kinds,
                    "evaluated_last_year": m.evaluated_last_year,
                    "reached_last_year": m.reached_last_year,
                })).collect::<Vec<_>>(),
            },
            "designations": self.designations.areas.iter().map(|a| json!({
                "region_id": a.region_id,
                "region_name": a.region_name,
                "active_role": a.active_role.iter().map(|m| json!({
                    "municipality": m.municipality,
                    "name": m.name,
                    "from_neighbour": m.from_neighbour,
                    "candidates": m.candidates.iter().map(candidate).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "liaison_bases": a.liaison_bases.iter().map(candidate).collect::<Vec<_>>(),
                "decisions": a.decisions.iter().map(|d| json!({
                    "role": d.role,
                    "institution_name": d.institution_name,
                    "medical_institution_code": d.medical_institution_code,
                    "decided_on": d.decided_on,
                })).collect::<Vec<_>>(),
                "gaps": a.gaps,
                "neighbour_only": a.neighbour_only,
            })).collect::<Vec<_>>(),
            "exports": self.exports.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "stopped": self.stopped.iter().map(|(name, clean)| json!({
                "name": name, "clean": clean,
            })).collect::<Vec<_>>(),
            "seconds": self.elapsed.as_secs_f64(),
            "folder": self.folder_note,
        })
    }
}
