//! `renkei demo` end to end: a local 富山県 federation (3 prefecture replicas, 4 municipal nodes)
//! loaded with a fiscal year of activity prints the national-style tally for the prefecture and
//! per 二次医療圏 with all three answers, the (ク) designation candidates with their reasons and
//! the gap report, writes the exports, stops every process and leaves none behind; the national
//! merge reads its JSON export, refuses a duplicate and a modified file.

mod common;

use common::*;

const LABELS: [&str; 8] = [
    "（ア）地域の医療・介護の資源の把握",
    "（イ）在宅医療・介護連携の課題の抽出と対応策の検討",
    "（ウ）切れ目のない在宅医療と在宅介護の提供体制の構築推進",
    "（エ）医療・介護関係者の情報共有の支援",
    "（オ）在宅医療・介護連携に関する相談支援",
    "（カ）医療・介護関係者の研修",
    "（キ）地域住民への普及啓発",
    "（ク）在宅医療・介護連携に関する関係市区町村の連携",
];

#[test]
fn the_demo_runs_a_federation_reports_and_exports_and_the_merge_reads_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let output = run(&["demo", "--dir", dir.to_str().unwrap()]);
    let text = stdout(&output);
    assert!(
        output.status.success(),
        "demo failed ({:?}); stderr:\n{}\nstdout:\n{text}",
        output.status,
        stderr(&output)
    );

    // The tally: one row per item starting with its label, then count (percent) per answer.
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| LABELS.iter().any(|label| l.starts_with(label)))
        .collect();
    assert_eq!(
        rows.len(),
        8 * 5,
        "prefecture + 4 二次医療圏, 8 items each:\n{text}"
    );
    for label in LABELS {
        assert!(text.contains(label), "{label} missing:\n{text}");
    }
    for status in ["実施している", "年度内に実施予定", "実施していない"] {
        assert!(text.contains(status), "{status} missing");
    }
    assert!(text.contains("n=15"), "{text}");
    for area in ["新川", "富山", "高岡", "砺波"] {
        assert!(
            text.contains(&format!("■ 二次医療圏 {area}")),
            "{area}:\n{text}"
        );
    }
    // Every answer actually occurs in the counts: some row has a non-zero planned and
    // not-implemented count.
    let prefecture_rows = &rows[..8];
    let nonzero = |column: usize| {
        prefecture_rows.iter().any(|r| {
            let cells: Vec<&str> = r.split("  ").filter(|c| !c.trim().is_empty()).collect();
            !cells[column].trim().starts_with("0 ")
        })
    };
    assert!(
        nonzero(1) && nonzero(2) && nonzero(3),
        "{prefecture_rows:#?}"
    );

    // The FY2024 cycle tally beside the eight items (activity::cycle gives municipality number
    // i, in the regions file's order, goals for the first i % 5 of 入退院・日常療養・急変時・看取り,
    // a structure indicator unless i % 3 == 0, a measured outcome indicator for even i, and the
    // evaluation of FY2023 unless i % 4 == 3, reached for even i). Over i = 0..15 by hand:
    // 日常療養 (i % 5 >= 2) 9, 入退院 (>= 1) 12, 急変時 (>= 3) 6, 看取り (4) 3; 構造 15 - 5 = 10,
    // 過程 0, 結果 8 (even); evaluated 15 - 3 (i = 3, 7, 11) = 12, reached 8 (the even ones); all
    // 15 at Do (each has a goal or an indicator, and activity in FY2024).
    assert!(
        text.contains("■ PDCAサイクル 富山県 令和6年度（第9期（令和6〜8年度））"),
        "{text}"
    );
    let cycle_total: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("■ PDCAサイクル"))
        .find(|l| l.starts_with("富山県 "))
        .expect("the prefecture's cycle line")
        .split_whitespace()
        .collect();
    assert_eq!(
        cycle_total,
        [
            "富山県",
            "15",
            "9",
            "12",
            "6",
            "3",
            "10",
            "0",
            "8",
            "12",
            "8",
            "0/0/15/0/0"
        ]
    );
    // and the same answers read in the four statutory groups
    assert!(text.contains("■ 施行規則の区分で読んだ実施状況"), "{text}");
    assert!(text.contains("二 相談支援"), "{text}");

    // Designations with reasons (rules ①②③) and the gap report.
    assert!(text.contains("積極的役割を担う医療機関 — 候補"), "{text}");
    assert!(text.contains("① 市町村内の在宅療養支援病院"), "{text}");
    assert!(text.contains("② 市町村内の在宅療養支援診療所"), "{text}");
    // 朝日町 has neither: every support hospital and clinic of its neighbours in 新川 (黒部市,
    // 入善町), hospitals first — not 魚津市's, which does not border it.
    assert!(
        text.contains(
            "朝日町  黒部在宅医療センター病院  1610200002      ③ 近隣の黒部市の在宅療養支援病院"
        ),
        "{text}"
    );
    assert!(!text.contains("③ 近隣の魚津市"), "{text}");
    assert!(text.contains("■ 不足（ギャップ）報告"), "{text}");
    // Every 圏域 has bodies that may be a 拠点; 新川 has not designated one yet.
    assert!(!text.contains("連携を担う拠点の候補がない"), "{text}");
    assert!(
        text.contains("新川: 積極的役割を担う医療機関が未指定／連携を担う拠点が未指定"),
        "{text}"
    );
    assert!(text.contains("決定（積極的役割を担う医療機関）"), "{text}");

    // The exports exist where the report says.
    let exports = dir.join("exports");
    for name in [
        "survey_16_2024_summary.csv",
        "survey_16_2024_detail.csv",
        "survey_16_2024.xlsx",
        "survey_16_2024.json",
    ] {
        let path = exports.join(name);
        assert!(
            path.is_file(),
            "{} missing; exports: {:?}",
            path.display(),
            std::fs::read_dir(&exports)
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
    let summary = std::fs::read(exports.join("survey_16_2024_summary.csv")).unwrap();
    assert!(summary.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    assert!(
        text.contains("7 processes stopped with SIGTERM, 7 exited cleanly"),
        "{text}"
    );
    assert!(
        processes_mentioning(&dir).is_empty(),
        "processes left behind"
    );

    // The national merge of the prefecture's JSON export.
    let json = exports.join("survey_16_2024.json");
    let national = tmp.path().join("national.json");
    let merged = run(&[
        "survey",
        "merge",
        json.to_str().unwrap(),
        "--out",
        national.to_str().unwrap(),
    ]);
    assert!(merged.status.success(), "{}", stderr(&merged));
    let merged_text = stdout(&merged);
    // Only 富山県's 15 answered: the rest of the country is 未回答, not 実施していない.
    assert!(merged_text.contains("n=15, 未回答 1726"), "{merged_text}");
    assert!(
        merged_text.contains("missing: 1726 municipalities"),
        "{merged_text}"
    );
    assert!(merged_text.contains(LABELS[0]), "{merged_text}");
    assert!(national.is_file());
    let machine = run(&[
        "--json",
        "survey",
        "merge",
        json.to_str().unwrap(),
        "--out",
        tmp.path().join("national.xlsx").to_str().unwrap(),
    ]);
    assert!(machine.status.success(), "{}", stderr(&machine));
    let value: serde_json::Value = serde_json::from_slice(&machine.stdout).unwrap();
    assert_eq!(
        (&value["n"], &value["unanswered"]),
        (&15.into(), &1726.into())
    );
    assert_eq!(value["missing"].as_array().unwrap().len(), 1726);

    // The same prefecture twice is refused, naming the municipality.
    let twice = run(&[
        "survey",
        "merge",
        json.to_str().unwrap(),
        json.to_str().unwrap(),
        "--out",
        tmp.path().join("twice.json").to_str().unwrap(),
    ]);
    assert_eq!(twice.status.code(), Some(2), "{}", stderr(&twice));
    assert!(
        stderr(&twice).contains("appears in both"),
        "{}",
        stderr(&twice)
    );

    // A modified export fails its checksum, naming the file.
    let original = std::fs::read_to_string(&json).unwrap();
    let modified = original.replacen("\"実施していない\"", "\"実施している\"", 1);
    let modified = if modified == original {
        original.replacen("NotImplemented", "Implemented", 1)
    } else {
        modified
    };
    assert_ne!(modified, original);
    let tampered = tmp.path().join("tampered.json");
    std::fs::write(&tampered, modified).unwrap();
    let refused = run(&[
        "survey",
        "merge",
        tampered.to_str().unwrap(),
        "--out",
        tmp.path().join("bad.json").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("tampered.json"),
        "{}",
        stderr(&refused)
    );

    // The demo refuses a folder that is not empty, naming the flag.
    let again = run(&["demo", "--dir", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("--dir"), "{}", stderr(&again));
}
