//! Admission: where a transaction submitted to this node's API enters the
//! mempool. Submissions queue for one worker, which takes whatever has
//! queued up as one round (one batch verification of their signatures, one
//! mempool lock, one wake-up of the proposer) and hands what it admits to
//! the gossip. The HTTP layer reaches it through an [`AdmissionHandle`],
//! which stops taking submissions when the node stops.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kp_ledger::block::{check_signatures, NONE_CHECKED};
use kp_ledger::rejection::Rejection;
use kp_ledger::tx::DecodedTx;
use tokio::sync::{mpsc, oneshot};
use tracing::debug;

use crate::lock::lock;
use crate::mempool::{AdmitError, Admitted, MempoolHandle, Source};

/// API submissions waiting for the admission worker; past this, a
/// submission waits for room.
const SUBMISSIONS_QUEUED_MAX: usize = 4096;
/// Submissions one round of the worker takes together.
const SUBMISSIONS_PER_ROUND_MAX: usize = 512;

/// Decodes `bytes` and checks the signature: what every transaction goes
/// through once, from the API or from a peer, before the mempool.
pub fn checked_tx(bytes: Vec<u8>) -> Result<DecodedTx, Rejection> {
    let tx = DecodedTx::decode(bytes)?;
    let message = tx.tx.payload.signing_message();
    if tx.signer().verify(&message, &tx.tx.signature).is_err() {
        return Err(Rejection::BadSignature(*tx.signer()));
    }
    Ok(tx)
}

/// A transaction submitted to the API (decoded, signature not checked yet)
/// and where its outcome goes.
pub struct Submission {
    pub tx: DecodedTx,
    pub outcome: oneshot::Sender<Result<Admitted, AdmitError>>,
}

/// The node is stopping: it takes no more submissions.
#[derive(Debug, thiserror::Error)]
#[error("the node is shutting down")]
pub struct Closed;

/// Submits to the admission worker. Clones share one queue.
#[derive(Clone)]
pub struct AdmissionHandle {
    inner: Arc<Inner>,
}

struct Inner {
    /// Cleared at shutdown: submissions are then refused.
    accepting: AtomicBool,
    /// On their way to the worker; taken away at shutdown, which ends the
    /// worker.
    submissions: Mutex<Option<mpsc::Sender<Submission>>>,
}

impl AdmissionHandle {
    /// The handle, and the queue its worker ([`admit_submissions`]) reads.
    pub fn new() -> (Self, mpsc::Receiver<Submission>) {
        let (submissions, queue) = mpsc::channel(SUBMISSIONS_QUEUED_MAX);
        let handle = AdmissionHandle {
            inner: Arc::new(Inner {
                accepting: AtomicBool::new(true),
                submissions: Mutex::new(Some(submissions)),
            }),
        };
        (handle, queue)
    }

    pub fn is_accepting(&self) -> bool {
        self.inner.accepting.load(Ordering::SeqCst)
    }

    /// Queues `tx` for the worker and waits for its outcome.
    pub async fn submit(&self, tx: DecodedTx) -> Result<Result<Admitted, AdmitError>, Closed> {
        let (outcome, admitted) = oneshot::channel();
        let submissions = lock(&self.inner.submissions).clone().ok_or(Closed)?;
        submissions
            .send(Submission { tx, outcome })
            .await
            .map_err(|_| Closed)?;
        admitted.await.map_err(|_| Closed)
    }

    /// Refuses submissions from now on; the worker ends once those queued
    /// are answered.
    pub fn close(&self) {
        self.inner.accepting.store(false, Ordering::SeqCst);
        lock(&self.inner.submissions).take();
    }
}

/// Admits API submissions as they come, taking whatever has queued up as
/// one round: one batch verification of their signatures, one mempool
/// lock, one wake-up of the proposer, instead of one of each per
/// transaction and a thread hop for every request. What it admits new goes
/// to `outbox`, the gossip's (none for a chain of one). Runs until every
/// sender is gone.
pub fn admit_submissions(
    mempool: &MempoolHandle,
    outbox: Option<&mpsc::Sender<Vec<u8>>>,
    mut queue: mpsc::Receiver<Submission>,
) {
    while let Some(first) = queue.blocking_recv() {
        let mut round = vec![first];
        while round.len() < SUBMISSIONS_PER_ROUND_MAX {
            match queue.try_recv() {
                Ok(next) => round.push(next),
                Err(_) => break,
            }
        }
        let (txs, outcomes): (Vec<DecodedTx>, Vec<_>) =
            round.into_iter().map(|s| (s.tx, s.outcome)).unzip();
        let bytes: Vec<Vec<u8>> = txs.iter().map(|tx| tx.bytes.clone()).collect();
        let answers = admit_round(mempool, txs);
        for ((bytes, outcome), answer) in bytes.into_iter().zip(outcomes).zip(answers) {
            if matches!(answer, Ok(Admitted::New)) {
                spread(outbox, bytes);
            }
            // A client that gave up waiting has nobody to tell.
            let _ = outcome.send(answer);
        }
    }
}

/// Answers a round of client submissions, each as it would be answered
/// with room: a bad signature as `bad_signature`, one already waiting as
/// waiting; only a new, signed one meets the room check (`mempool_full`,
/// which the mempool makes after the waiting ones and before any rule).
/// The signatures are checked in one batch, outside the lock.
fn admit_round(mempool: &MempoolHandle, txs: Vec<DecodedTx>) -> Vec<Result<Admitted, AdmitError>> {
    let signatures = check_signatures(&txs, NONE_CHECKED);
    let checked = txs
        .into_iter()
        .zip(signatures)
        .map(|(tx, signature_ok)| match signature_ok {
            true => Ok(tx),
            false => Err(Rejection::BadSignature(*tx.signer())),
        });
    mempool.admit(checked, Source::Client)
}

/// Hands a transaction admitted here to the gossip, to be sent in the next
/// batch.
fn spread(outbox: Option<&mpsc::Sender<Vec<u8>>>, bytes: Vec<u8>) {
    if let Some(outbox) = outbox {
        if outbox.try_send(bytes).is_err() {
            debug!("gossip outbox full: a transaction waits here only");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::mempool::enrol;
    use crate::mempool::MempoolLimits;
    use crate::testing::test_node;

    /// Long enough for any admission on a loaded machine; a test that
    /// waits this long has failed.
    const PATIENCE: Duration = Duration::from_secs(30);

    fn code(answer: &Result<Admitted, AdmitError>) -> &'static str {
        match answer {
            Ok(Admitted::AlreadyPending) => "already_pending",
            Ok(Admitted::New) => "new",
            Err(AdmitError::Rejected(r)) => r.code(),
            Err(AdmitError::Full { .. }) => "mempool_full",
            Err(AdmitError::SignerFull { .. }) => "mempool_signer_full",
            Err(AdmitError::Storage(_)) => "storage",
        }
    }

    fn badly_signed(nonce: u64, member: &str) -> DecodedTx {
        let mut tx = enrol(nonce, member).tx;
        tx.signature.0[0] ^= 1;
        DecodedTx::decode(tx.to_bytes()).expect("decodes")
    }

    #[test]
    fn a_full_mempool_answers_waiting_and_badly_signed_submissions_as_it_would_with_room() {
        let limits = MempoolLimits {
            client_txs_max: 1,
            ..MempoolLimits::default()
        };
        let node = test_node("validator BW", limits);
        let waiting = enrol(1, "a");
        let first = node.mempool.admit([Ok(waiting.clone())], Source::Client);
        assert_eq!(code(&first[0]), "new");

        let answers = admit_round(
            &node.mempool,
            vec![waiting, badly_signed(2, "b"), enrol(2, "c")],
        );
        let answers: Vec<&str> = answers.iter().map(code).collect();
        assert_eq!(
            answers,
            ["already_pending", "bad_signature", "mempool_full"]
        );
        assert_eq!(node.mempool.len(), 1);
    }

    #[tokio::test]
    async fn a_submission_is_admitted_and_gossiped_and_a_refused_one_says_why() {
        let node = test_node("validator BW", MempoolLimits::default());
        let (admission, queue) = AdmissionHandle::new();
        let (outbox, mut gossiped) = mpsc::channel(8);
        let mempool = node.mempool.clone();
        let worker = tokio::task::spawn_blocking(move || {
            admit_submissions(&mempool, Some(&outbox), queue);
        });

        let tx = enrol(1, "a");
        let answer = tokio::time::timeout(PATIENCE, admission.submit(tx.clone()))
            .await
            .expect("answered in time")
            .expect("open");
        assert_eq!(code(&answer), "new");
        assert!(node.mempool.contains(&tx.id));
        assert_eq!(gossiped.try_recv().ok(), Some(tx.bytes.clone()));

        for (refused, expected) in [
            (badly_signed(2, "b"), "bad_signature"),
            (enrol(3, "c"), "nonce_gap"),
            (enrol(1, "other"), "replay"),
        ] {
            let answer = tokio::time::timeout(PATIENCE, admission.submit(refused))
                .await
                .expect("answered in time")
                .expect("open");
            assert_eq!(code(&answer), expected);
        }
        // Already waiting is no news to the peers; the refused never go.
        let again = admission.submit(tx).await.expect("open");
        assert_eq!(code(&again), "already_pending");
        assert!(gossiped.try_recv().is_err());
        assert_eq!(node.mempool.len(), 1);

        admission.close();
        tokio::time::timeout(PATIENCE, worker)
            .await
            .expect("the worker ends once closed")
            .expect("no panic");
    }

    #[tokio::test]
    async fn a_closed_admission_refuses_submissions_and_its_worker_ends() {
        let node = test_node("validator BW", MempoolLimits::default());
        let (admission, queue) = AdmissionHandle::new();
        let mempool = node.mempool.clone();
        let worker = tokio::task::spawn_blocking(move || admit_submissions(&mempool, None, queue));
        assert!(admission.is_accepting());

        admission.close();
        assert!(!admission.is_accepting());
        let refused = tokio::time::timeout(PATIENCE, admission.submit(enrol(1, "a")))
            .await
            .expect("answered in time");
        assert!(matches!(refused, Err(Closed)));
        tokio::time::timeout(PATIENCE, worker)
            .await
            .expect("the worker ends once closed")
            .expect("no panic");
        assert!(node.mempool.is_empty());
    }
}
