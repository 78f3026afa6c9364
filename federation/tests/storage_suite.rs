//! Proves that the RocksDB log store and state machine meet openraft's storage contract: runs
//! `openraft::testing::Suite::test_all` against real RocksDB databases in temporary directories.

use openraft::StorageError;
use openraft::testing::{StoreBuilder, Suite};
use renkei_federation::store::{self, LogStore, StateMachineStore};
use renkei_federation::types::{NodeId, TypeConfig};
use tempfile::TempDir;

struct RocksBuilder;

impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, TempDir> for RocksBuilder {
    async fn build(&self) -> Result<(TempDir, LogStore, StateMachineStore), StorageError<NodeId>> {
        let dir = TempDir::new().expect("a temporary directory");
        let (log, sm) = store::open(dir.path(), "16".parse().expect("a prefecture code"))?;
        Ok((dir, log, sm))
    }
}

#[test]
#[allow(clippy::result_large_err)] // openraft's StorageError, as the Suite returns it.
fn rocksdb_log_store_and_state_machine_pass_the_openraft_suite() -> Result<(), StorageError<NodeId>>
{
    Suite::test_all(RocksBuilder)
}
