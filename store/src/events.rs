//! Committed events as the node's event stream carries them: each
//! transaction of a block, in block order, with what it touched and one line
//! saying what it did; then the block itself.

use kp_crypto::Hash32;
use kp_ledger::block::BlockHeader;
use kp_ledger::model::{ParcelId, TransferId};
use kp_ledger::state::{StateRead, StorageFault};
use kp_ledger::summary::describe;
use kp_ledger::trace::Event;
use kp_ledger::tx::Body;
use kp_wire::api::{BlockEventView, TxEventView};

use crate::error::StoreError;
use crate::snapshot::Snapshot;
use crate::tables::{self, TxRecord};

/// What the stream sends for one height: transactions from some index on,
/// then the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeightEvents {
    pub txs: Vec<TxEventView>,
    pub block: BlockEventView,
}

impl Snapshot {
    /// What the event stream sends for `height`: the block's transactions
    /// from `first_index` on, in block order, then the block; `None` while
    /// no block is stored at that height.
    pub fn block_events(
        &self,
        height: u64,
        first_index: u32,
    ) -> Result<Option<HeightEvents>, StoreError> {
        let Some(header) = self.record::<u64, BlockHeader>(tables::BLOCKS, height)? else {
            return Ok(None);
        };
        let stored = self.block_txs(height)?;
        let count = u32::try_from(stored.len())
            .map_err(|_| StoreError::Corrupt(format!("block {height} is over-long")))?;
        let mut txs = Vec::new();
        for (index, tx) in (0u32..).zip(stored).skip(first_index as usize) {
            let event = TxRecord {
                bytes: tx.bytes,
                height,
                index,
                time: tx.time,
                kind: tx.kind,
                created: tx.created,
            }
            .event()?;
            txs.push(tx_event(self, event)?);
        }
        Ok(Some(HeightEvents {
            txs,
            block: BlockEventView {
                height,
                hash: header.hash(),
                time: header.time,
                txs: count,
            },
        }))
    }
}

/// The parcels, transfers and certificates a transaction touched or
/// created.
#[derive(Debug, Default, PartialEq, Eq)]
struct Touched {
    parcels: Vec<ParcelId>,
    transfers: Vec<TransferId>,
    certificates: Vec<String>,
}

/// `event` with its kind, what it touched and its summary. `state` is any
/// state at or after the event's block: what it is asked (a transfer's
/// parcel, a certificate's parcels) never changes once written.
pub fn tx_event(state: &impl StateRead, event: Event) -> Result<TxEventView, StorageFault> {
    let touched = touched(state, &event.body, &event.created)?;
    Ok(TxEventView {
        kind: event.body.kind().to_owned(),
        summary: describe(&event.body, &event.created),
        parcels: touched.parcels,
        transfers: touched.transfers,
        certificates: touched.certificates,
        event,
    })
}

fn touched(
    state: &impl StateRead,
    body: &Body,
    created: &[Hash32],
) -> Result<Touched, StorageFault> {
    let mut out = Touched::default();
    match body {
        Body::EnrolMember { .. }
        | Body::RevokeMember { .. }
        | Body::ProposeParticipantChange { .. }
        | Body::ApproveParticipantChange { .. } => {}
        Body::RegisterParcel { .. } => out.parcels.extend(created),
        Body::OfferTransfer { parcel, .. } => {
            out.parcels.push(*parcel);
            out.transfers.extend(created);
        }
        Body::AcceptTransfer { transfer } | Body::CancelTransfer { transfer } => {
            out.transfers.push(*transfer);
            // A committed acceptance or cancellation names a transfer on
            // the ledger; were it missing, the event still goes out.
            if let Some(record) = state.transfer(transfer)? {
                out.parcels.push(record.parcel);
            }
        }
        Body::SplitParcel { parcel, .. } => {
            out.parcels.push(*parcel);
            out.parcels.extend(created);
        }
        Body::MergeParcels { parcels } => {
            out.parcels.extend(parcels);
            out.parcels.extend(created);
        }
        Body::IssueCertificate {
            number, parcels, ..
        } => {
            out.parcels.extend(parcels);
            out.certificates.push(number.clone());
        }
        Body::ReceiveCertificate { number, .. } => {
            if let Some(certificate) = state.certificate(number)? {
                out.parcels.extend(certificate.parcels);
            }
            out.certificates.push(number.clone());
        }
        Body::FlagParcel { parcel, .. } | Body::ClearFlag { parcel } => out.parcels.push(*parcel),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use kp_crypto::PublicKey;
    use kp_ledger::mem_state::MemState;
    use kp_ledger::model::{Transfer, TransferStatus};

    use super::*;

    fn event(body: Body, created: Vec<Hash32>) -> Event {
        Event {
            tx: Hash32([9; 32]),
            height: 4,
            index: 1,
            time: 86_400,
            signer: PublicKey([8; 32]),
            body,
            created,
        }
    }

    #[test]
    fn events_name_what_they_touched_and_say_what_they_did() {
        let (a, b, merged) = (Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32]));
        let state = MemState::default();
        let merge = tx_event(
            &state,
            event(
                Body::MergeParcels {
                    parcels: vec![a, b],
                },
                vec![merged],
            ),
        )
        .unwrap();
        assert_eq!(merge.kind, "merge_parcels");
        assert_eq!(merge.parcels, vec![a, b, merged]);
        assert!(merge.transfers.is_empty() && merge.certificates.is_empty());
        assert_eq!(
            merge.summary,
            "parcels 010101010101, 020202020202 merged -> parcel 030303030303"
        );

        // An acceptance names the transfer; the ledger knows its parcel.
        let transfer = Hash32([5; 32]);
        let mut state = MemState::default();
        state.records.transfers.insert(
            transfer,
            Transfer {
                id: transfer,
                parcel: a,
                from: PublicKey([6; 32]),
                to: PublicKey([7; 32]),
                price_cents: None,
                status: TransferStatus::Accepted,
                offered_height: 3,
            },
        );
        let accept = tx_event(&state, event(Body::AcceptTransfer { transfer }, vec![])).unwrap();
        assert_eq!(
            (accept.parcels, accept.transfers),
            (vec![a], vec![transfer])
        );
        let json = serde_json::to_value(&merge).unwrap();
        assert_eq!(
            (json["height"].as_u64(), json["index"].as_u64()),
            (Some(4), Some(1))
        );
        assert_eq!(serde_json::from_value::<TxEventView>(json).unwrap(), merge);
    }
}
