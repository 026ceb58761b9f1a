//! Transactions: a signed envelope around one body.
//!
//! Wire form: borsh of [`Transaction`]. The signature covers the
//! domain-separated borsh bytes of the [`TxPayload`]; the id is the
//! domain-separated blake3 of the whole received bytes. Both are computed on
//! the bytes as received, never on a re-encoding (borsh is canonical and
//! rejects trailing bytes, so one value has one byte string).

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, Hash32, PublicKey, SecretKey, Signature};
use serde::{Deserialize, Serialize};

use crate::canonical::canonical_bytes;
use crate::model::{
    HsCode, ParcelId, ParticipantChange, ParticipantCode, ProposalId, Role, TransferId, TxId,
};

/// No transaction may be larger; bounds what a node buffers per submission.
pub const TX_SIZE_BYTES_MAX: usize = 16 * 1024;
/// Bounds on variable-length fields, so that no record grows without limit.
pub const TEXT_BYTES_MAX: usize = 256;
pub const PARCELS_PER_TX_MAX: usize = 256;

const TX_ID_CONTEXT: &str = "kp-ledger 2026 transaction v1";
const SIGNING_CONTEXT: &str = "kp-ledger 2026 signing v1";

/// One output of a split.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SplitOutput {
    pub milli_carats: u64,
    /// A sorter may classify an unsorted (7102.10) parcel's outputs as
    /// industrial or non-industrial; `None` keeps the input's code.
    pub hs_code: Option<HsCode>,
}

/// What a transaction asks the ledger to do.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Body {
    /// By a Participant's authority: license a member.
    EnrolMember {
        member: PublicKey,
        role: Role,
        name: String,
        licence: String,
        zone: Option<String>,
    },
    /// By the member's own authority.
    RevokeMember {
        member: PublicKey,
    },
    /// By an enrolled miner of the origin Participant.
    RegisterParcel {
        origin: ParticipantCode,
        zone: Option<String>,
        mine: String,
        milli_carats: u64,
        stones: u32,
        value_cents: u64,
        hs_code: HsCode,
    },
    /// By the holder, to a member of the same Participant.
    OfferTransfer {
        parcel: ParcelId,
        to: PublicKey,
        price_cents: Option<u64>,
    },
    /// By the named recipient.
    AcceptTransfer {
        transfer: TransferId,
    },
    /// By the one who offered.
    CancelTransfer {
        transfer: TransferId,
    },
    /// By the holder: outputs' carats add up to the parcel's exactly.
    SplitParcel {
        parcel: ParcelId,
        outputs: Vec<SplitOutput>,
    },
    /// By the holder of every input.
    MergeParcels {
        parcels: Vec<ParcelId>,
    },
    /// By the exporting Participant's authority.
    IssueCertificate {
        number: String,
        exporter: PublicKey,
        importer: PublicKey,
        destination: ParticipantCode,
        parcels: Vec<ParcelId>,
        hs_codes: Vec<HsCode>,
        expires_on: u32,
        /// The shipment's value as the exporting authority declares it
        /// (Annex I field 9); `None`: the parcels' recorded value.
        #[serde(default)]
        value_cents: Option<u64>,
    },
    /// By the destination's authority: the figures it found on arrival.
    ReceiveCertificate {
        number: String,
        milli_carats: u64,
        parcel_count: u32,
    },
    /// By the authority of the Participant where the parcel is held.
    FlagParcel {
        parcel: ParcelId,
        reason: String,
    },
    ClearFlag {
        parcel: ParcelId,
    },
    // Governance of the Participant set. New bodies go last: a body's borsh
    // tag is its place in this list, and signed bytes must keep their meaning.
    /// By an active Participant's authority; counts as its approval.
    ProposeParticipantChange {
        change: ParticipantChange,
    },
    /// By an active Participant's authority, once per proposal.
    ApproveParticipantChange {
        proposal: ProposalId,
    },
}

impl Body {
    /// The stable name of the body's kind, as used in JSON and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Body::EnrolMember { .. } => "enrol_member",
            Body::RevokeMember { .. } => "revoke_member",
            Body::RegisterParcel { .. } => "register_parcel",
            Body::OfferTransfer { .. } => "offer_transfer",
            Body::AcceptTransfer { .. } => "accept_transfer",
            Body::CancelTransfer { .. } => "cancel_transfer",
            Body::SplitParcel { .. } => "split_parcel",
            Body::MergeParcels { .. } => "merge_parcels",
            Body::IssueCertificate { .. } => "issue_certificate",
            Body::ReceiveCertificate { .. } => "receive_certificate",
            Body::FlagParcel { .. } => "flag_parcel",
            Body::ClearFlag { .. } => "clear_flag",
            Body::ProposeParticipantChange { .. } => "propose_participant_change",
            Body::ApproveParticipantChange { .. } => "approve_participant_change",
        }
    }

    /// Whether it is a governance decision: only these change the
    /// Participant set, and so the validator set.
    pub fn is_governance(&self) -> bool {
        matches!(
            self,
            Body::ProposeParticipantChange { .. } | Body::ApproveParticipantChange { .. }
        )
    }
}

/// What the signer signs.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct TxPayload {
    pub signer: PublicKey,
    /// One more than the signer's last nonce on the ledger.
    pub nonce: u64,
    /// The hash of the genesis of the chain it is signed for. Not the chain
    /// id: every `kpnode dev` chain is `kp-dev`, and a chain started again
    /// from a new genesis may keep its name, so a name would let one
    /// signature count on every chain that shares it. The genesis hash
    /// fixes the chain id and the founding Participants both, so no
    /// transaction is valid on two chains; the chain id itself adds
    /// nothing a signature needs.
    pub genesis: Hash32,
    pub body: Body,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct Transaction {
    pub payload: TxPayload,
    pub signature: Signature,
}

/// Why bytes are not a transaction at all (before any rule is asked).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("transaction is {0} bytes; the limit is {TX_SIZE_BYTES_MAX}")]
    Oversize(usize),
    #[error("bytes are not a transaction: {0}")]
    Malformed(String),
}

/// A transaction decoded from bytes, with its id and the exact bytes that
/// were signed, ready for signature checking.
#[derive(Clone, Debug)]
pub struct DecodedTx {
    pub id: TxId,
    pub tx: Transaction,
    pub bytes: Vec<u8>,
}

impl TxPayload {
    /// The message an ed25519 signature covers: a context string, then the
    /// payload's canonical bytes.
    pub fn signing_message(&self) -> Vec<u8> {
        let mut msg = SIGNING_CONTEXT.as_bytes().to_vec();
        msg.push(0);
        msg.extend(canonical_bytes(self));
        msg
    }

    pub fn sign(self, key: &SecretKey) -> Transaction {
        let signature = key.sign(&self.signing_message());
        Transaction {
            payload: self,
            signature,
        }
    }
}

impl Transaction {
    /// `body` signed by `key` with `nonce` for the chain of genesis
    /// `genesis` (a node's `genesis_hash`): valid there and on no other
    /// chain.
    pub fn signed(key: &SecretKey, nonce: u64, genesis: Hash32, body: Body) -> Transaction {
        TxPayload {
            signer: key.public(),
            nonce,
            genesis,
            body,
        }
        .sign(key)
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        canonical_bytes(self)
    }
}

pub fn tx_id(bytes: &[u8]) -> TxId {
    hash_domain(TX_ID_CONTEXT, &[bytes])
}

impl DecodedTx {
    pub fn decode(bytes: Vec<u8>) -> Result<Self, DecodeError> {
        if bytes.len() > TX_SIZE_BYTES_MAX {
            return Err(DecodeError::Oversize(bytes.len()));
        }
        let tx = borsh::from_slice::<Transaction>(&bytes)
            .map_err(|e| DecodeError::Malformed(e.to_string()))?;
        Ok(DecodedTx {
            id: tx_id(&bytes),
            tx,
            bytes,
        })
    }

    pub fn signer(&self) -> &PublicKey {
        &self.tx.payload.signer
    }

    pub fn body(&self) -> &Body {
        &self.tx.payload.body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Transaction {
        let key = SecretKey::from_seed([7; 32]);
        TxPayload {
            signer: key.public(),
            nonce: 1,
            genesis: Hash32([9; 32]),
            body: Body::RevokeMember {
                member: PublicKey([1; 32]),
            },
        }
        .sign(&key)
    }

    #[test]
    fn round_trip_and_id() {
        let tx = sample();
        let decoded = DecodedTx::decode(tx.to_bytes()).unwrap();
        assert_eq!(decoded.tx, tx);
        assert_eq!(decoded.id, tx_id(&tx.to_bytes()));
        assert!(decoded
            .signer()
            .verify(&tx.payload.signing_message(), &tx.signature)
            .is_ok());
    }

    #[test]
    fn bodies_keep_their_borsh_tags() {
        let tag = |body: Body| borsh::to_vec(&body).unwrap()[0];
        let id = kp_crypto::Hash32([3; 32]);
        assert_eq!(tag(Body::ClearFlag { parcel: id }), 11);
        let change = ParticipantChange::Reinstate {
            code: ParticipantCode(*b"CF"),
        };
        assert_eq!(tag(Body::ProposeParticipantChange { change }), 12);
        assert_eq!(tag(Body::ApproveParticipantChange { proposal: id }), 13);
    }

    #[test]
    fn truncated_trailing_and_oversize_bytes_are_refused() {
        let bytes = sample().to_bytes();
        assert!(matches!(
            DecodedTx::decode(bytes[..bytes.len() - 1].to_vec()),
            Err(DecodeError::Malformed(_))
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            DecodedTx::decode(longer),
            Err(DecodeError::Malformed(_))
        ));
        assert_eq!(
            DecodedTx::decode(vec![0; TX_SIZE_BYTES_MAX + 1]).unwrap_err(),
            DecodeError::Oversize(TX_SIZE_BYTES_MAX + 1)
        );
    }
}
