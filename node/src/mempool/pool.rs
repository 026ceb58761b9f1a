//! Transactions accepted by this node and waiting for a block, in arrival
//! order, bounded in count and bytes.
//!
//! Each one was checked against the last committed state *plus the effects
//! of every transaction accepted before it*, so a signer may submit nonce
//! n+1 while n is still pending. Those effects are kept as one
//! [`StateDelta`] over a snapshot of the committed state, and rebuilt
//! whenever a block commits.

use std::collections::{HashMap, HashSet, VecDeque};

use kp_crypto::PublicKey;
use kp_ledger::chain::{ChainIdentity, ChainTip};
use kp_ledger::model::TxId;
use kp_ledger::rules::{apply_tx, ApplyError, BlockContext};
use kp_ledger::state::{Layered, StateDelta, StateRead, StorageFault};
use kp_ledger::tx::DecodedTx;
use kp_ledger::Rejection;
use kp_store::{Snapshot, StoreError};

/// How much a node holds before it answers `mempool_full`.
#[derive(Debug, Clone, Copy)]
pub struct MempoolLimits {
    pub txs_max: usize,
    pub bytes_max: usize,
    /// Waiting transactions of any one signer, so that one busy (or
    /// hostile) key cannot crowd everyone else out.
    pub per_signer_max: usize,
    /// A client's submission is taken only while less than this waits (and
    /// `client_bytes_max`): under overload the room above these marks goes
    /// to what peers relay. The mempools then stay alike, a proposal holds
    /// what every node has already checked, and the pushback (`mempool_full`,
    /// retry later) lands on clients, at the edge, rather than on the
    /// gossip between nodes.
    pub client_txs_max: usize,
    pub client_bytes_max: usize,
}

/// Where a transaction came from: see [`MempoolLimits::client_txs_max`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Submitted to this node's API.
    Client,
    /// Relayed by a peer, which admitted it first.
    Peer,
}

impl Default for MempoolLimits {
    fn default() -> Self {
        // A block carries at most 10 000 transactions; a little more than one
        // block's worth waiting keeps the next block full without letting the
        // re-check after each commit (linear in what waits) grow long.
        // Clients may fill half of it; the other half is for what peers
        // relay, so that under overload every node still holds what its
        // peers took.
        MempoolLimits {
            txs_max: 12_000,
            bytes_max: 32 * 1024 * 1024,
            per_signer_max: 2_000,
            client_txs_max: 6_000,
            client_bytes_max: 16 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    #[error("the node holds {txs} pending transactions ({bytes} bytes), as many as it takes for now; try again after the next block")]
    Full { txs: usize, bytes: usize },
    #[error("signer {signer} has {pending} transactions waiting, the most one key may; try again after the next block")]
    SignerFull { signer: PublicKey, pending: usize },
    #[error(transparent)]
    Rejected(Rejection),
    #[error(transparent)]
    Storage(#[from] StorageFault),
}

/// What became of a submission that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    New,
    /// The same bytes were already waiting; nothing changed.
    AlreadyPending,
}

pub struct Mempool {
    chain: ChainIdentity,
    limits: MempoolLimits,
    /// The committed state the waiting transactions were checked against.
    base: Snapshot,
    base_tip: ChainTip,
    queue: VecDeque<DecodedTx>,
    ids: HashSet<TxId>,
    per_signer: HashMap<PublicKey, usize>,
    bytes: usize,
    /// The writes of every waiting transaction, in order, over `base`.
    pending: StateDelta,
}

impl Mempool {
    pub fn new(
        base: Snapshot,
        chain: ChainIdentity,
        limits: MempoolLimits,
    ) -> Result<Self, StoreError> {
        let base_tip = base.tip()?;
        Ok(Mempool {
            chain,
            limits,
            base,
            base_tip,
            queue: VecDeque::new(),
            ids: HashSet::new(),
            per_signer: HashMap::new(),
            bytes: 0,
            pending: StateDelta::default(),
        })
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Bytes of the waiting transactions.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.ids.contains(id)
    }

    /// The signer's last nonce counting the waiting transactions.
    pub fn pending_nonce(&self, signer: &PublicKey) -> Result<u64, StorageFault> {
        self.view().nonce(signer)
    }

    /// How many more client submissions fit by count (bytes are checked
    /// one by one at admission); none once the client marks are reached.
    pub fn client_room(&self) -> usize {
        if self.bytes >= self.limits.client_bytes_max {
            return 0;
        }
        self.limits.client_txs_max.saturating_sub(self.queue.len())
    }

    /// The answer to a transaction that finds no room.
    pub fn full(&self) -> AdmitError {
        AdmitError::Full {
            txs: self.queue.len(),
            bytes: self.bytes,
        }
    }

    /// Checks `tx` (its signature already verified) against the committed
    /// state and everything waiting, and queues it if it passes. `now_secs`
    /// stands in for the time of the block it will go into.
    pub fn admit(
        &mut self,
        tx: DecodedTx,
        now_secs: u64,
        source: Source,
    ) -> Result<Admitted, AdmitError> {
        if self.ids.contains(&tx.id) {
            return Ok(Admitted::AlreadyPending);
        }
        let (txs_max, bytes_max) = match source {
            Source::Client => (self.limits.client_txs_max, self.limits.client_bytes_max),
            Source::Peer => (self.limits.txs_max, self.limits.bytes_max),
        };
        if self.queue.len() >= txs_max || self.bytes + tx.bytes.len() > bytes_max {
            return Err(self.full());
        }
        let pending = self.per_signer.get(tx.signer()).copied().unwrap_or(0);
        if pending >= self.limits.per_signer_max {
            return Err(AdmitError::SignerFull {
                signer: *tx.signer(),
                pending,
            });
        }
        let ctx = self.next_block(now_secs);
        match apply_tx(&self.view(), &ctx, &tx) {
            Ok(effects) => {
                self.queue_checked(tx, effects.delta);
                Ok(Admitted::New)
            }
            Err(ApplyError::Rejected(rejection)) => Err(AdmitError::Rejected(rejection)),
            Err(ApplyError::Storage(fault)) => Err(AdmitError::Storage(fault)),
        }
    }

    /// Up to `max` waiting transactions, oldest first.
    pub fn batch(&self, max: usize) -> Vec<DecodedTx> {
        self.queue.iter().take(max).cloned().collect()
    }

    /// After a block: drops the transactions it settled (included or
    /// refused) and re-checks the rest, in order, over the new committed
    /// state. Returns those that no longer pass (time moved on, say); they
    /// are dropped too.
    pub fn rebase(
        &mut self,
        base: Snapshot,
        settled: &HashSet<TxId>,
        now_secs: u64,
    ) -> Result<Vec<(TxId, Rejection)>, StoreError> {
        self.base_tip = base.tip()?;
        self.base = base;
        self.pending = StateDelta::default();
        self.bytes = 0;
        self.ids.clear();
        self.per_signer.clear();
        let waiting = std::mem::take(&mut self.queue);
        let ctx = self.next_block(now_secs);
        let mut dropped = Vec::new();
        for tx in waiting.into_iter().filter(|tx| !settled.contains(&tx.id)) {
            match apply_tx(&self.view(), &ctx, &tx) {
                Ok(effects) => self.queue_checked(tx, effects.delta),
                Err(ApplyError::Rejected(rejection)) => dropped.push((tx.id, rejection)),
                Err(ApplyError::Storage(fault)) => return Err(fault.into()),
            }
        }
        Ok(dropped)
    }

    /// Queues a transaction that passed over everything waiting before it.
    fn queue_checked(&mut self, tx: DecodedTx, writes: StateDelta) {
        self.pending.absorb(writes);
        self.ids.insert(tx.id);
        *self.per_signer.entry(*tx.signer()).or_default() += 1;
        self.bytes += tx.bytes.len();
        self.queue.push_back(tx);
    }

    fn next_block(&self, now_secs: u64) -> BlockContext {
        BlockContext {
            chain: self.chain.clone(),
            height: self.base_tip.height + 1,
            time: now_secs.max(self.base_tip.time),
        }
    }

    /// The committed state with the waiting transactions' writes on top.
    fn view(&self) -> Layered<'_, Snapshot> {
        Layered {
            base: &self.base,
            delta: &self.pending,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use kp_crypto::SecretKey;
    use kp_ledger::block::{build_block, NONE_CHECKED};
    use kp_ledger::model::Role;
    use std::sync::Arc;

    use kp_ledger::testkit::{key_named, signed, test_chain, test_genesis, START_TIME};
    use kp_ledger::tx::Body;
    use kp_store::{ProofCertificates, Store};

    /// Botswana's authority enrols `member` as a trader, with `nonce`.
    pub(crate) fn enrol(nonce: u64, member: &str) -> DecodedTx {
        let authority = key_named("authority BW");
        let body = Body::EnrolMember {
            member: key_named(member).public(),
            role: Role::Trader,
            name: member.to_owned(),
            licence: format!("LIC-{member}"),
            zone: None,
        };
        signed(&authority, nonce, body)
    }

    /// A fresh ledger of the test chain in `dir`.
    fn test_store(dir: &tempfile::TempDir) -> Store {
        let path = dir.path().join("ledger.redb");
        Store::open(&path, &test_genesis(), Arc::new(ProofCertificates)).expect("open")
    }

    /// A mempool over `store`'s committed state, on the test chain.
    fn mempool_over(store: &Store, limits: MempoolLimits) -> Mempool {
        Mempool::new(store.snapshot().expect("snapshot"), test_chain(), limits).expect("mempool")
    }

    fn authority() -> PublicKey {
        key_named("authority BW").public()
    }

    fn rejection_code(result: Result<Admitted, AdmitError>) -> &'static str {
        match result {
            Err(AdmitError::Rejected(r)) => r.code(),
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[test]
    fn admits_in_nonce_order_over_what_waits_and_within_bounds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = test_store(&dir);
        let limits = MempoolLimits {
            txs_max: 2,
            bytes_max: 1 << 20,
            per_signer_max: 10,
            client_txs_max: 2,
            client_bytes_max: 1 << 20,
        };
        let mut mempool = mempool_over(&store, limits);

        assert_eq!(
            mempool
                .admit(enrol(1, "a"), START_TIME, Source::Client)
                .expect("admitted"),
            Admitted::New
        );
        // Nonce 2 passes while 1 has not reached a block.
        assert_eq!(
            mempool
                .admit(enrol(2, "b"), START_TIME, Source::Client)
                .expect("admitted"),
            Admitted::New
        );
        assert_eq!(
            mempool
                .admit(enrol(1, "a"), START_TIME, Source::Client)
                .expect("same bytes"),
            Admitted::AlreadyPending
        );
        assert_eq!(mempool.pending_nonce(&authority()).expect("read"), 2);
        assert!(matches!(
            mempool.admit(enrol(3, "c"), START_TIME, Source::Client),
            Err(AdmitError::Full { txs: 2, .. })
        ));

        // One signer's share is bounded too, whatever room is left.
        let mut shared_fairly = mempool_over(
            &store,
            MempoolLimits {
                per_signer_max: 1,
                ..MempoolLimits::default()
            },
        );
        shared_fairly
            .admit(enrol(1, "a"), START_TIME, Source::Client)
            .expect("admitted");
        assert!(matches!(
            shared_fairly.admit(enrol(2, "b"), START_TIME, Source::Client),
            Err(AdmitError::SignerFull { pending: 1, .. })
        ));

        let mut roomy = mempool_over(&store, MempoolLimits::default());
        roomy
            .admit(enrol(1, "a"), START_TIME, Source::Client)
            .expect("admitted");
        assert_eq!(
            rejection_code(roomy.admit(enrol(1, "other"), START_TIME, Source::Client)),
            "replay"
        );
        assert_eq!(
            rejection_code(roomy.admit(enrol(3, "c"), START_TIME, Source::Client)),
            "nonce_gap"
        );
        assert_eq!(roomy.len(), 1);
    }

    #[test]
    fn clients_fill_their_share_and_peers_the_rest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = test_store(&dir);
        let limits = MempoolLimits {
            txs_max: 3,
            client_txs_max: 1,
            ..MempoolLimits::default()
        };
        let mut mempool = mempool_over(&store, limits);
        assert_eq!(mempool.client_room(), 1);
        mempool
            .admit(enrol(1, "a"), START_TIME, Source::Client)
            .expect("admitted");
        assert_eq!(mempool.client_room(), 0);
        assert!(matches!(
            mempool.admit(enrol(2, "b"), START_TIME, Source::Client),
            Err(AdmitError::Full { txs: 1, .. })
        ));
        // What a peer relays still finds room, up to the whole limit.
        for (nonce, member) in [(2, "b"), (3, "c")] {
            mempool
                .admit(enrol(nonce, member), START_TIME, Source::Peer)
                .expect("admitted from a peer");
        }
        assert!(matches!(
            mempool.admit(enrol(4, "d"), START_TIME, Source::Peer),
            Err(AdmitError::Full { txs: 3, .. })
        ));
        assert_eq!(mempool.len(), 3);

        // The byte mark counts for clients too.
        let mut by_bytes = mempool_over(
            &store,
            MempoolLimits {
                client_bytes_max: 1,
                ..MempoolLimits::default()
            },
        );
        assert!(matches!(
            by_bytes.admit(enrol(1, "a"), START_TIME, Source::Client),
            Err(AdmitError::Full { txs: 0, .. })
        ));
        by_bytes
            .admit(enrol(1, "a"), START_TIME, Source::Peer)
            .expect("admitted from a peer");
        assert_eq!(by_bytes.client_room(), 0);
    }

    #[test]
    fn rebase_keeps_what_still_waits_and_drops_what_settled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = test_store(&dir);
        let mut mempool = mempool_over(&store, MempoolLimits::default());
        for (nonce, name) in [(1, "a"), (2, "b"), (3, "c")] {
            mempool
                .admit(enrol(nonce, name), START_TIME, Source::Client)
                .expect("admitted");
        }
        // A block takes the first two.
        let snapshot = store.snapshot().expect("snapshot");
        let tip = snapshot.tip().expect("tip");
        let proposer = SecretKey::from_seed([1; 32]).public();
        let built = build_block(
            &snapshot,
            &tip,
            &test_chain(),
            START_TIME,
            proposer,
            mempool.batch(2),
            NONE_CHECKED,
        )
        .expect("built");
        assert!(built.rejected.is_empty());
        store.commit(&built.applied, &[]).expect("commit");
        let settled: HashSet<TxId> = built.applied.txs.iter().map(|t| t.id).collect();

        let dropped = mempool
            .rebase(store.snapshot().expect("snapshot"), &settled, START_TIME)
            .expect("rebase");
        assert!(dropped.is_empty());
        assert_eq!(mempool.len(), 1);
        assert!(mempool.contains(&enrol(3, "c").id));
        assert_eq!(mempool.pending_nonce(&authority()).expect("read"), 3);
        // What is committed is refused as a replay, not taken twice.
        assert_eq!(
            rejection_code(mempool.admit(enrol(2, "b"), START_TIME, Source::Client)),
            "replay"
        );

        // Settled by nobody, a transaction that no longer passes is dropped
        // with its reason: here nonce 3 committed through another path.
        let rival = enrol(3, "rival");
        let snapshot = store.snapshot().expect("snapshot");
        let tip = snapshot.tip().expect("tip");
        let built = build_block(
            &snapshot,
            &tip,
            &test_chain(),
            START_TIME,
            proposer,
            vec![rival],
            NONE_CHECKED,
        )
        .expect("built");
        store.commit(&built.applied, &[]).expect("commit");
        let dropped = mempool
            .rebase(
                store.snapshot().expect("snapshot"),
                &HashSet::new(),
                START_TIME,
            )
            .expect("rebase");
        let codes: Vec<&str> = dropped.iter().map(|(_, r)| r.code()).collect();
        assert_eq!(codes, ["replay"]);
        assert!(mempool.is_empty());
    }
}
