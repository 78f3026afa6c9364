//! The `ClusterAdmin` service: initialise a cluster, add learners, change the voters, remove
//! nodes, and show a replica's view of the cluster. Node ids are never reused. Changes need the
//! `admin` role, the status the `viewer` role (any role, on a cluster with no callers).

use std::collections::{BTreeMap, BTreeSet};

use openraft::{BasicNode, ChangeMembers, RaftMetrics};
use renkei_proto::v1::{self, ClusterAdmin};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::config::Role;
use crate::error::FederationError;
use crate::store::LedgerReader;
use crate::types::{NodeId, Raft};

/// Serves cluster administration.
#[derive(Clone)]
pub struct AdminService {
    raft: Raft,
    reader: LedgerReader,
}

impl AdminService {
    pub fn new(raft: Raft, reader: LedgerReader) -> Self {
        Self { raft, reader }
    }

    /// Refuses callers below `role`.
    fn allow<T>(request: &Request<T>, role: Role, action: &str) -> Result<(), Status> {
        identity(request)?
            .check_role(role, action)
            .map_err(to_status)
    }

    fn status(&self) -> v1::ClusterStatus {
        cluster_status(&self.raft.metrics().borrow())
    }

    fn check_not_retired(&self, id: NodeId) -> Result<(), FederationError> {
        if self.reader.retired()?.contains(&id) {
            return Err(FederationError::NodeIdRetired(id));
        }
        Ok(())
    }

    async fn initialize(
        &self,
        request: v1::InitializeRequest,
    ) -> Result<v1::ClusterStatus, FederationError> {
        let mut members = BTreeMap::new();
        for m in request.members {
            let node = member(&m)?;
            if members.insert(m.node_id, node).is_some() {
                return Err(FederationError::InvalidArgument {
                    field: "members",
                    reason: format!("node id {} listed twice", m.node_id),
                });
            }
        }
        if members.is_empty() {
            return Err(FederationError::InvalidArgument {
                field: "members",
                reason: "empty".to_owned(),
            });
        }
        self.raft.initialize(members).await?;
        Ok(self.status())
    }

    async fn add_learner(
        &self,
        request: v1::ClusterMember,
    ) -> Result<v1::ClusterStatus, FederationError> {
        let node = member(&request)?;
        self.check_not_retired(request.node_id)?;
        self.raft.add_learner(request.node_id, node, true).await?;
        Ok(self.status())
    }

    async fn change_membership(
        &self,
        request: v1::ChangeMembershipRequest,
    ) -> Result<v1::ClusterStatus, FederationError> {
        let voters: BTreeSet<NodeId> = request.voters.into_iter().collect();
        if voters.is_empty() {
            return Err(FederationError::InvalidArgument {
                field: "voters",
                reason: "a cluster needs at least one voter".to_owned(),
            });
        }
        self.raft
            .change_membership(ChangeMembers::ReplaceAllVoters(voters), true)
            .await?;
        Ok(self.status())
    }

    async fn remove_node(
        &self,
        request: v1::RemoveNodeRequest,
    ) -> Result<v1::ClusterStatus, FederationError> {
        let id = request.node_id;
        let (is_voter, is_member) = {
            let metrics = self.raft.metrics();
            let metrics = metrics.borrow();
            let membership = metrics.membership_config.membership();
            (
                membership.voter_ids().any(|v| v == id),
                membership.get_node(&id).is_some(),
            )
        };
        if !is_member {
            return Err(FederationError::FailedPrecondition(format!(
                "node {id} is not a member of the cluster"
            )));
        }
        let ids = BTreeSet::from([id]);
        if is_voter {
            // retain = false: the removed voter leaves the cluster, not only the voters.
            self.raft
                .change_membership(ChangeMembers::RemoveVoters(ids), false)
                .await?;
        } else {
            self.raft
                .change_membership(ChangeMembers::RemoveNodes(ids), false)
                .await?;
        }
        Ok(self.status())
    }
}

fn member(m: &v1::ClusterMember) -> Result<BasicNode, FederationError> {
    if m.address.parse::<std::net::SocketAddr>().is_err() && !m.address.contains(':') {
        return Err(FederationError::InvalidArgument {
            field: "address",
            reason: format!("{:?} is not host:port", m.address),
        });
    }
    Ok(BasicNode::new(m.address.clone()))
}

/// Returns a replica's view of its cluster, from its Raft metrics.
pub fn cluster_status(metrics: &RaftMetrics<NodeId, BasicNode>) -> v1::ClusterStatus {
    let membership = metrics.membership_config.membership();
    let address = |id: NodeId| {
        membership
            .get_node(&id)
            .map(|n| n.addr.clone())
            .unwrap_or_default()
    };
    let voters: Vec<v1::ClusterMember> = membership
        .voter_ids()
        .map(|id| v1::ClusterMember {
            node_id: id,
            address: address(id),
        })
        .collect();
    let learners = membership
        .learner_ids()
        .map(|id| v1::ClusterMember {
            node_id: id,
            address: address(id),
        })
        .collect();
    v1::ClusterStatus {
        node_id: metrics.id,
        state: format!("{:?}", metrics.state),
        leader_id: metrics.current_leader.unwrap_or(0),
        leader_address: metrics.current_leader.map(address).unwrap_or_default(),
        term: metrics.current_term,
        last_log_index: metrics.last_log_index.unwrap_or(0),
        applied_index: metrics.last_applied.map(|id| id.index).unwrap_or(0),
        voters,
        learners,
        joint: membership.get_joint_config().len() > 1,
        snapshot_index: metrics.snapshot.map(|id| id.index).unwrap_or(0),
        purged_index: metrics.purged.map(|id| id.index).unwrap_or(0),
    }
}

#[tonic::async_trait]
impl ClusterAdmin for AdminService {
    async fn initialize(
        &self,
        request: Request<v1::InitializeRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        Self::allow(&request, Role::Admin, "initialise the cluster")?;
        AdminService::initialize(self, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn add_learner(
        &self,
        request: Request<v1::ClusterMember>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        Self::allow(&request, Role::Admin, "add a learner")?;
        AdminService::add_learner(self, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn change_membership(
        &self,
        request: Request<v1::ChangeMembershipRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        Self::allow(&request, Role::Admin, "change the membership")?;
        AdminService::change_membership(self, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn remove_node(
        &self,
        request: Request<v1::RemoveNodeRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        Self::allow(&request, Role::Admin, "remove a node")?;
        AdminService::remove_node(self, request.into_inner())
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn status(
        &self,
        request: Request<v1::StatusRequest>,
    ) -> Result<Response<v1::ClusterStatus>, Status> {
        Self::allow(&request, Role::Viewer, "read the cluster status")?;
        Ok(Response::new(AdminService::status(self)))
    }
}
