//! Why transactions accepted here were dropped from the mempool without
//! reaching a block, so that `GET /v1/transactions/{id}` can say `rejected`
//! and why. (Named for what happened to them, apart from
//! `kp_ledger::rejection`, the rules' reasons it records.) Bounded: the
//! oldest reasons are forgotten first (committed transactions need no
//! such memory, the ledger keeps them).

use std::collections::{HashMap, VecDeque};

use kp_ledger::model::TxId;
use kp_ledger::Rejection;
use kp_wire::api::ApiError;

pub const DROPPED_KEPT_MAX: usize = 100_000;

pub struct DroppedTxs {
    kept_max: usize,
    /// Oldest first, for forgetting in order.
    order: VecDeque<TxId>,
    reasons: HashMap<TxId, ApiError>,
}

impl DroppedTxs {
    pub fn new(kept_max: usize) -> Self {
        DroppedTxs {
            kept_max,
            order: VecDeque::new(),
            reasons: HashMap::new(),
        }
    }

    pub fn record(&mut self, id: TxId, rejection: &Rejection) {
        let reason = ApiError::from(rejection);
        if self.reasons.insert(id, reason).is_none() {
            self.order.push_back(id);
        }
        while self.order.len() > self.kept_max {
            if let Some(oldest) = self.order.pop_front() {
                self.reasons.remove(&oldest);
            }
        }
    }

    pub fn get(&self, id: &TxId) -> Option<&ApiError> {
        self.reasons.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kp_crypto::Hash32;

    #[test]
    fn forgets_the_oldest_past_the_bound() {
        let mut log = DroppedTxs::new(2);
        for i in 1..=3u8 {
            log.record(Hash32([i; 32]), &Rejection::NotAuthority);
        }
        assert!(log.get(&Hash32([1; 32])).is_none());
        assert_eq!(
            log.get(&Hash32([3; 32])).map(|e| e.code.as_str()),
            Some("not_authority")
        );
        // Recording one again neither duplicates nor evicts.
        log.record(Hash32([3; 32]), &Rejection::TooFewParts);
        assert!(log.get(&Hash32([2; 32])).is_some());
        assert_eq!(
            log.get(&Hash32([3; 32])).map(|e| e.code.as_str()),
            Some("too_few_parts")
        );
    }
}
