//! Arbitrary bytes as the fact messages a municipality sends its prefecture: `FactBody` itself and
//! the `PushFactsRequest` / `WriteFactsRequest` that carry facts as payloads. What decodes must
//! re-encode to bytes that decode to the same message (and encode to the same bytes again), and
//! the crate's conversions on the decoded fields (timestamps, municipality codes, fiscal years,
//! the dates the node and the prefecture parse) must hold their invariants without panicking.

#![no_main]

use chrono::{DateTime, NaiveDate, Utc};
use libfuzzer_sys::fuzz_target;
use prost::Message;
use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::v1::{
    EvidenceKind, FactBody, FactKind, PushFactsRequest, WideAreaActionKind, WriteFactsRequest,
};
use renkei_proto::{FiscalYear, MunicipalityCode};

/// Decode, re-encode, decode again: the same message, and a stable encoding.
fn round_trip<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let bytes = m.encode_to_vec();
    assert_eq!(bytes.len(), m.encoded_len());
    let again = M::decode(bytes.as_slice()).expect("a re-encoded message decodes");
    assert_eq!(&again, m);
    assert_eq!(again.encode_to_vec(), bytes);
}

/// A day as the node and the prefecture read one, and the fiscal year it falls in.
fn check_date(text: &str) {
    if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Ok(fy) = FiscalYear::containing(date) {
            assert!(fy.contains(date));
            assert!(fy.first_day() <= date && date <= fy.last_day());
        }
    }
}

fn check_municipality(text: &str) {
    if let Ok(code) = text.parse::<MunicipalityCode>() {
        assert_eq!(code.to_string(), text);
        let _ = code.prefecture().name();
    }
}

fn check_body(body: &FactBody) {
    round_trip(body);

    if let Some(ts) = &body.recorded_at {
        // Representable: within chrono's range, nanoseconds 0..1e9, or up to 2e9 for a leap
        // second (only at :59).
        let in_range = (DateTime::<Utc>::MIN_UTC.timestamp()..=DateTime::<Utc>::MAX_UTC.timestamp())
            .contains(&ts.seconds);
        let nanos_ok = (0..1_000_000_000).contains(&ts.nanos)
            || ((1_000_000_000..2_000_000_000).contains(&ts.nanos)
                && ts.seconds.rem_euclid(60) == 59);
        match timestamp_to_utc(ts) {
            Some(t) => {
                assert!(in_range && nanos_ok, "{ts:?} accepted as {t}");
                assert_eq!(&utc_to_timestamp(t), ts);
            }
            None => assert!(!(in_range && nanos_ok), "{ts:?} refused"),
        }
    }

    match &body.kind {
        Some(FactKind::Evidence(e)) => match &e.kind {
            Some(EvidenceKind::Dated(d)) => check_date(&d.on),
            Some(EvidenceKind::MeetingHeldOn(on))
            | Some(EvidenceKind::EndsOn(on))
            | Some(EvidenceKind::CancelledOn(on)) => check_date(on),
            Some(EvidenceKind::Starts(f)) => {
                check_date(&f.first_day);
                check_date(&f.last_day);
            }
            Some(EvidenceKind::Planned(p)) => {
                match FiscalYear::new(i64::from(p.fiscal_year)) {
                    Ok(fy) => {
                        assert_eq!(i32::from(fy.year()), p.fiscal_year);
                        let _ = fy.wareki();
                    }
                    Err(_) => assert!(!(1989..=2199).contains(&p.fiscal_year)),
                }
                check_date(&p.planned_on);
            }
            Some(EvidenceKind::Finding(_)) | None => {}
        },
        Some(FactKind::Consultation(c)) => check_date(&format!("{}-01", c.month)),
        Some(FactKind::Training(t)) => check_date(&t.on),
        Some(FactKind::Meeting(m)) => check_date(&m.on),
        Some(FactKind::Resource(r)) => check_date(&r.on),
        Some(FactKind::WideArea(w)) => match &w.kind {
            Some(WideAreaActionKind::MeetingAttended(m)) => check_date(&m.on),
            Some(WideAreaActionKind::Form(f)) => check_date(&f.on),
            Some(WideAreaActionKind::Liaison(l)) => {
                check_date(&l.on);
                check_date(&l.until);
            }
            None => {}
        },
        // The participation a node sends for each municipality it hosts carries nothing to check.
        Some(FactKind::Participation(_)) | None => {}
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(body) = FactBody::decode(data) {
        check_body(&body);
    }

    if let Ok(req) = PushFactsRequest::decode(data) {
        round_trip(&req);
        for fact in &req.facts {
            check_municipality(&fact.municipality);
            if let Ok(body) = FactBody::decode(fact.payload.as_slice()) {
                check_body(&body);
            }
        }
        for p in &req.produced {
            check_municipality(&p.municipality);
        }
    }

    if let Ok(req) = WriteFactsRequest::decode(data) {
        round_trip(&req);
    }
});
