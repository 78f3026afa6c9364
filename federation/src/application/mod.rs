//! The application methods of the replica's client services (`Federation`,
//! `PrefectureSurvey`): plain types that the gRPC services ([`crate::grpc`]) and the console
//! ([`crate::web`]) both call, side by side. Each method checks the caller's role or
//! municipalities ([`crate::access::Identity`]), decodes and checks its request into domain
//! values, reads with the consistency asked for or writes through [`Facts`], and answers with
//! what the domain modules ([`crate::tally`], [`crate::survey`], [`crate::wide_area`],
//! [`crate::regions`]) compute.
//!
//! - [`Surveys`]: tallies, exports, completeness, survey submissions and reviews, regions
//!   (`survey.rs`), the cross-municipal items (ク) and designations (`wide_area.rs`), and the
//!   PDCA cycle's tally and its exports (`cycle.rs`);
//! - [`Exchange`]: municipal nodes' facts up and the prefecture's items down, and what this
//!   replica has seen of each municipality's sync (`exchange.rs`);
//! - [`Support`]: the prefecture's own support activities for its municipalities and a fiscal
//!   year's picture of them (`support.rs`).
//!
//! They sit above the state machine and the domain modules and below the adapters: nothing
//! they use imports them back.
//!
//! [`Facts`]: crate::facts::Facts

mod cycle;
mod exchange;
mod support;
mod survey;
mod wide_area;

pub use exchange::Exchange;
pub use support::Support;
pub use survey::Surveys;

use chrono::NaiveDate;
use renkei_proto::FiscalYear;

use crate::error::FederationError;

fn invalid(field: &'static str, reason: impl Into<String>) -> FederationError {
    FederationError::InvalidArgument {
        field,
        reason: reason.into(),
    }
}

/// A fiscal year given on the wire (e.g. 2024 for 令和6年度).
fn fiscal_year(value: i32) -> Result<FiscalYear, FederationError> {
    FiscalYear::new(i64::from(value)).map_err(|e| invalid("fiscal_year", format!("{value}: {e}")))
}

/// A date given on the wire as `YYYY-MM-DD`.
fn date(field: &'static str, text: &str) -> Result<NaiveDate, FederationError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| invalid(field, format!("{text:?} is not a date YYYY-MM-DD")))
}

/// The fiscal year and as-of date of a query: the year's last day when no date is given.
fn year_and_date(fy: i32, as_of: &str) -> Result<(FiscalYear, NaiveDate), FederationError> {
    let fy = fiscal_year(fy)?;
    let as_of = if as_of.is_empty() {
        fy.last_day()
    } else {
        date("as_of", as_of)?
    };
    Ok((fy, as_of))
}

/// Refuses a date outside its fiscal year, naming the field.
fn within(field: &'static str, fy: FiscalYear, day: NaiveDate) -> Result<(), FederationError> {
    if !fy.contains(day) {
        return Err(invalid(
            field,
            format!("{day} is outside fiscal year {}", fy.wareki()),
        ));
    }
    Ok(())
}
