//! The Kimberley Process rules: a pure function of (state, block context,
//! transaction) to the writes it makes, or the reason it is refused. No
//! clock, no I/O, no randomness: the block's agreed time is the only time.
//!
//! One file per part of `docs/domain.md`: `member` (authorities licensing
//! industry), `parcel` (registration at the mine, split and merge),
//! `transfer` (custody between holders), `certificate` (export certificates
//! and receipts), `flag` (authorities stopping a parcel), `governance`
//! (admitting, suspending and reinstating Participants).

mod certificate;
mod flag;
mod governance;
mod member;
mod parcel;
mod transfer;

#[cfg(test)]
mod tests;

pub(crate) use certificate::shipment_values;
pub use governance::{
    proposal_standing, tally, validator_set, validators_among, ProposalStanding, Support,
    COMPLIANT_ZONES_MAX,
};
pub use parcel::{MILLI_CARATS_MAX, VALUE_CENTS_MAX};

use kp_crypto::{hash_domain, Hash32, PublicKey};

use crate::chain::ChainIdentity;
use crate::model::{
    Member, Parcel, ParcelId, ParcelStatus, Participant, ParticipantCode, ProposalId, TransferId,
    TxId,
};
use crate::rejection::Rejection;
use crate::state::{Overlay, Read, StateDelta, StateRead, StorageFault};
use crate::tx::{Body, DecodedTx, TEXT_BYTES_MAX};

/// What the rules know of the block a transaction is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    pub chain: ChainIdentity,
    pub height: u64,
    /// UTC seconds agreed by consensus.
    pub time: u64,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApplyError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Storage(#[from] StorageFault),
}

/// The writes of one accepted transaction, and what its history touches.
#[derive(Debug, Clone, Default)]
pub struct TxEffects {
    pub delta: StateDelta,
    pub parcels: Vec<ParcelId>,
    pub created: Vec<Hash32>,
}

/// Who signed: an authority speaks for its Participant, a member for itself.
#[derive(Debug, Clone)]
pub(crate) enum Signer {
    Authority(Participant),
    Member(Member),
}

/// What a rule sees of the transaction it judges.
pub(crate) struct TxCtx<'a> {
    pub block: &'a BlockContext,
    pub id: TxId,
    pub signer: Signer,
    pub parcels: Vec<ParcelId>,
    pub created: Vec<Hash32>,
}

impl TxCtx<'_> {
    pub fn authority(&self) -> Result<&Participant, ApplyError> {
        match &self.signer {
            Signer::Authority(p) => Ok(p),
            Signer::Member(_) => Err(Rejection::NotAuthority.into()),
        }
    }

    pub fn member(&self) -> Result<&Member, ApplyError> {
        match &self.signer {
            Signer::Member(m) => Ok(m),
            // An authority holds no parcels and trades nothing itself.
            Signer::Authority(p) => Err(Rejection::UnknownMember(p.authority).into()),
        }
    }

    pub fn touch(&mut self, parcel: ParcelId) {
        if !self.parcels.contains(&parcel) {
            self.parcels.push(parcel);
        }
    }

    pub fn create(&mut self, id: Hash32) {
        self.created.push(id);
    }
}

const PARCEL_ID_CONTEXT: &str = "kp-ledger 2026 parcel id v1";
const TRANSFER_ID_CONTEXT: &str = "kp-ledger 2026 transfer id v1";
const PROPOSAL_ID_CONTEXT: &str = "kp-ledger 2026 proposal id v1";

/// The id of the `index`-th parcel a transaction creates.
pub fn parcel_id(tx: &TxId, index: u32) -> ParcelId {
    hash_domain(PARCEL_ID_CONTEXT, &[&tx.0, &index.to_le_bytes()])
}

/// The id of the transfer an offer creates.
pub fn transfer_id(tx: &TxId) -> TransferId {
    hash_domain(TRANSFER_ID_CONTEXT, &[&tx.0])
}

/// The id of the proposal a transaction makes.
pub fn proposal_id(tx: &TxId) -> ProposalId {
    hash_domain(PROPOSAL_ID_CONTEXT, &[&tx.0])
}

/// Applies one transaction whose signature has been checked. On success the
/// returned delta holds every write; on rejection nothing was written.
pub fn apply_tx<S: StateRead + ?Sized>(
    state: &S,
    block: &BlockContext,
    tx: &DecodedTx,
) -> Result<TxEffects, ApplyError> {
    let payload = &tx.tx.payload;
    if payload.genesis != block.chain.genesis {
        return Err(Rejection::WrongChain {
            chain_id: block.chain.chain_id.clone(),
            expected: block.chain.genesis,
            got: payload.genesis,
        }
        .into());
    }
    let signer = resolve_signer(state, &payload.signer)?;
    let expected = state.nonce(&payload.signer)? + 1;
    if payload.nonce < expected {
        return Err(Rejection::Replay {
            expected,
            got: payload.nonce,
        }
        .into());
    }
    if payload.nonce > expected {
        return Err(Rejection::NonceGap {
            expected,
            got: payload.nonce,
        }
        .into());
    }

    let mut overlay = Overlay::new(state);
    overlay.put_nonce(payload.signer, payload.nonce);
    let mut ctx = TxCtx {
        block,
        id: tx.id,
        signer,
        parcels: Vec::new(),
        created: Vec::new(),
    };
    match &payload.body {
        Body::EnrolMember {
            member,
            role,
            name,
            licence,
            zone,
        } => member::enrol(
            &mut overlay,
            &mut ctx,
            member,
            *role,
            name,
            licence,
            zone.as_deref(),
        ),
        Body::RevokeMember { member } => member::revoke(&mut overlay, &mut ctx, member),
        Body::RegisterParcel {
            origin,
            zone,
            mine,
            milli_carats,
            stones,
            value_cents,
            hs_code,
        } => parcel::register(
            &mut overlay,
            &mut ctx,
            parcel::Registration {
                origin: *origin,
                zone: zone.as_deref(),
                mine,
                milli_carats: *milli_carats,
                stones: *stones,
                value_cents: *value_cents,
                hs_code: *hs_code,
            },
        ),
        Body::SplitParcel { parcel, outputs } => {
            parcel::split(&mut overlay, &mut ctx, parcel, outputs)
        }
        Body::MergeParcels { parcels } => parcel::merge(&mut overlay, &mut ctx, parcels),
        Body::OfferTransfer {
            parcel,
            to,
            price_cents,
        } => transfer::offer(&mut overlay, &mut ctx, parcel, to, *price_cents),
        Body::AcceptTransfer { transfer } => transfer::accept(&mut overlay, &mut ctx, transfer),
        Body::CancelTransfer { transfer } => transfer::cancel(&mut overlay, &mut ctx, transfer),
        Body::IssueCertificate {
            number,
            exporter,
            importer,
            destination,
            parcels,
            hs_codes,
            expires_on,
            value_cents,
        } => certificate::issue(
            &mut overlay,
            &mut ctx,
            certificate::Issue {
                number,
                exporter,
                importer,
                destination: *destination,
                parcels,
                hs_codes,
                expires_on: *expires_on,
                value_cents: *value_cents,
            },
        ),
        Body::ReceiveCertificate {
            number,
            milli_carats,
            parcel_count,
        } => certificate::receive(&mut overlay, &mut ctx, number, *milli_carats, *parcel_count),
        Body::FlagParcel { parcel, reason } => flag::flag(&mut overlay, &mut ctx, parcel, reason),
        Body::ClearFlag { parcel } => flag::clear(&mut overlay, &mut ctx, parcel),
        Body::ProposeParticipantChange { change } => {
            governance::propose(&mut overlay, &mut ctx, change)
        }
        Body::ApproveParticipantChange { proposal } => {
            governance::approve(&mut overlay, &mut ctx, proposal)
        }
    }?;
    // Every parcel the transaction is part of records it in its history,
    // whether or not the rule changed anything else in the record.
    for id in &ctx.parcels {
        let mut record = required(overlay.parcel(id), || Rejection::UnknownParcel(*id))?;
        record.history = record.history.then(&tx.id);
        overlay.put_parcel(record);
    }
    Ok(TxEffects {
        delta: overlay.into_delta(),
        parcels: ctx.parcels,
        created: ctx.created,
    })
}

fn resolve_signer<S: StateRead + ?Sized>(state: &S, key: &PublicKey) -> Result<Signer, ApplyError> {
    if let Some(code) = state.participant_by_authority(key)? {
        let participant = required(state.participant(code), || {
            Rejection::UnknownParticipant(code)
        })?;
        return Ok(Signer::Authority(participant));
    }
    match state.member(key)? {
        Some(m) if m.revoked => Err(Rejection::MemberRevoked(*key).into()),
        Some(m) => Ok(Signer::Member(m)),
        None => Err(Rejection::UnknownSigner(*key).into()),
    }
}

/// A record that must exist, or the rejection that says it does not.
pub(crate) fn required<T>(
    read: Read<T>,
    missing: impl FnOnce() -> Rejection,
) -> Result<T, ApplyError> {
    read?.ok_or_else(|| missing().into())
}

pub(crate) fn participant_in_good_standing<S: StateRead + ?Sized>(
    state: &S,
    code: ParticipantCode,
) -> Result<Participant, ApplyError> {
    let p = required(state.participant(code), || {
        Rejection::UnknownParticipant(code)
    })?;
    if !p.status.in_good_standing() {
        return Err(Rejection::ParticipantSuspended(code).into());
    }
    Ok(p)
}

/// The check every key entering the ledger passes where it enters: a
/// member's at enrolment, a Participant's authority and validator keys at
/// admission, and any later change of a key. Only the holder of its private
/// key may be able to sign for it (see [`PublicKey::check_strong`]: under
/// ZIP-215 anyone signs for a key of small order).
pub(crate) fn check_entering_key(key: &PublicKey) -> Result<(), Rejection> {
    key.check_strong()
        .map_err(|reason| Rejection::WeakKey { key: *key, reason })
}

/// A text field within bounds, optionally required to be non-empty.
pub(crate) fn check_text(field: &'static str, text: &str, required: bool) -> Result<(), Rejection> {
    if required && text.trim().is_empty() {
        return Err(Rejection::FieldEmpty { field });
    }
    if text.len() > TEXT_BYTES_MAX {
        return Err(Rejection::FieldTooLong {
            field,
            len: text.len(),
            max: TEXT_BYTES_MAX,
        });
    }
    Ok(())
}

/// A parcel that `holder` may move now: it exists, they hold it, it is live
/// and not flagged. Shared by every rule that moves or consumes a parcel.
pub(crate) fn movable_parcel<S: StateRead + ?Sized>(
    state: &S,
    id: &ParcelId,
    holder: &PublicKey,
) -> Result<Parcel, ApplyError> {
    let parcel = required(state.parcel(id), || Rejection::UnknownParcel(*id))?;
    match &parcel.status {
        ParcelStatus::Consumed { .. } => return Err(Rejection::ParcelConsumed(*id).into()),
        _ if parcel.holder != *holder => return Err(Rejection::NotHolder(*id).into()),
        ParcelStatus::Live => {}
        ParcelStatus::Offered { .. } => return Err(Rejection::ParcelOffered(*id).into()),
        ParcelStatus::InTransit { certificate } => {
            return Err(Rejection::ParcelInTransit {
                parcel: *id,
                certificate: certificate.clone(),
            }
            .into())
        }
        ParcelStatus::Frozen { certificate } => {
            return Err(Rejection::ParcelFrozen {
                parcel: *id,
                certificate: certificate.clone(),
            }
            .into())
        }
    }
    if parcel.flag.is_some() {
        return Err(Rejection::ParcelFlagged(*id).into());
    }
    Ok(parcel)
}

/// Splits `total` into parts proportional to `weights` that add up to
/// `total` exactly (largest remainder; ties go to the earlier part).
pub(crate) fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let weight_sum: u128 = weights.iter().map(|w| u128::from(*w)).sum();
    if weight_sum == 0 {
        let mut parts = vec![0; weights.len()];
        if let Some(first) = parts.first_mut() {
            *first = total;
        }
        return parts;
    }
    let mut parts = Vec::with_capacity(weights.len());
    let mut remainders = Vec::with_capacity(weights.len());
    for (i, w) in weights.iter().enumerate() {
        let exact = u128::from(total) * u128::from(*w);
        parts.push((exact / weight_sum) as u64);
        remainders.push((exact % weight_sum, i));
    }
    let short = total - parts.iter().sum::<u64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in remainders.into_iter().take(short as usize) {
        parts[i] += 1;
    }
    debug_assert_eq!(parts.iter().sum::<u64>(), total);
    parts
}
