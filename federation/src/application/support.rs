//! The prefecture's support of its municipalities (`PrefectureSupport` and the console's
//! 市町村支援): recording a support activity through Raft and a fiscal year's picture of them.
//! What may be recorded and what the picture shows is [`crate::support`]'s.

use std::sync::PoisonError;

use chrono::Utc;
use renkei_proto::{MunicipalityCode, official, v1};

use super::fiscal_year;
use crate::access::Identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::facts::{Facts, check_request_id};
use crate::store::SharedSupport;
use crate::support::SupportActivity;
use crate::types::{Command, CommandResponse};

/// The prefecture's support activities, as the services and the console ask for them; cheap to
/// clone.
#[derive(Clone)]
pub struct Support {
    facts: Facts,
    log: SharedSupport,
}

impl Support {
    /// The support activities kept in `log` (the state machine's), read and written through
    /// `facts`.
    pub fn new(facts: Facts, log: SharedSupport) -> Self {
        Self { facts, log }
    }

    /// The municipalities of this prefecture on the official list, in code order.
    pub fn municipalities(&self) -> Vec<MunicipalityCode> {
        official::municipalities_of(self.facts.prefecture())
            .map(|m| m.code)
            .collect()
    }

    /// Records a support activity (`RecordSupportActivity`, the console's form): a prefecture
    /// officer's (role operator or above).
    pub async fn record(
        &self,
        who: Identity,
        request: v1::RecordSupportActivityRequest,
    ) -> Result<v1::SupportActivityView, FederationError> {
        who.check_role(Role::Operator, "record support activities")?;
        check_request_id(&request.request_id)?;
        let activity = SupportActivity::from_request(
            &request,
            self.facts.prefecture(),
            who.name(),
            Utc::now().timestamp_millis(),
        )?;
        match self
            .facts
            .propose(Command::RecordSupportActivity {
                request_id: request.request_id,
                activity,
            })
            .await?
        {
            CommandResponse::SupportActivity(recorded) => Ok(recorded?.view()),
            other => Err(FederationError::FailedPrecondition(format!(
                "unexpected state machine answer {other:?}"
            ))),
        }
    }

    /// A fiscal year's support (`GetSupport`, the console's 市町村支援): its activities, the
    /// counts per category, the activities per municipality and the municipalities without
    /// support, read with the consistency the request asks for.
    pub async fn year(
        &self,
        who: Identity,
        request: v1::GetSupportRequest,
    ) -> Result<v1::SupportView, FederationError> {
        who.check_role(Role::Viewer, "read the prefecture's support activities")?;
        let fy = fiscal_year(request.fiscal_year)?;
        self.facts.ensure(request.consistency).await?;
        let roster = self.municipalities();
        let applied = self.facts.applied_index();
        let log = self.log.read().unwrap_or_else(PoisonError::into_inner);
        Ok(log.year(fy, &roster).view(applied))
    }
}
