//! Why the ledger refuses a transaction. Every variant has a stable code
//! (`Rejection::code`) that the API, `kp` and users' scripts rely on; the
//! message is one line for humans. `docs/errors.md` lists them all.

use kp_crypto::{Hash32, PublicKey, WeakKeyError};

use crate::model::{HsCode, ParcelId, ParticipantCode, ProposalId, Role, TransferId};
use crate::tx::DecodeError;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum Rejection {
    // Envelope.
    #[error("transaction is {0} bytes; the limit is {max}", max = crate::tx::TX_SIZE_BYTES_MAX)]
    Oversize(usize),
    #[error("bytes are not a transaction: {0}")]
    Malformed(String),
    #[error(
        "transaction is signed for the chain of genesis {got}; this is chain `{chain_id}` of \
         genesis {expected}: sign it again for this chain (`kp status` shows its genesis hash)"
    )]
    WrongChain {
        chain_id: String,
        expected: Hash32,
        got: Hash32,
    },
    #[error("signature does not verify for signer {0}")]
    BadSignature(PublicKey),
    #[error("signer {0} is neither an enrolled member nor a Participant's authority")]
    UnknownSigner(PublicKey),
    #[error("member {0} has been revoked and can do nothing")]
    MemberRevoked(PublicKey),
    #[error("nonce {got} was already used by this signer (next is {expected})")]
    Replay { expected: u64, got: u64 },
    #[error("nonce {got} skips ahead; this signer's next nonce is {expected}")]
    NonceGap { expected: u64, got: u64 },
    #[error("{field} is {len} bytes long; the limit is {max}")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} must not be empty")]
    FieldEmpty { field: &'static str },
    #[error("a transaction may name at most {max} parcels")]
    TooManyParcels { max: usize },
    #[error("key {key} cannot stand for a party: {reason}")]
    WeakKey {
        key: PublicKey,
        reason: WeakKeyError,
    },

    // Authorities and members.
    #[error("only a Participant's authority may do this")]
    NotAuthority,
    #[error("{0} is already enrolled")]
    MemberExists(PublicKey),
    #[error("{0} is not an enrolled member")]
    UnknownMember(PublicKey),
    #[error("member {member} belongs to {member_of}, not to {authority_of}")]
    OtherParticipantsMember {
        member: PublicKey,
        member_of: ParticipantCode,
        authority_of: ParticipantCode,
    },
    #[error("member {member} is enrolled as {actual}, but this needs a {needed}")]
    WrongRole {
        member: PublicKey,
        needed: Role,
        actual: Role,
    },

    // Participants.
    #[error("{0} is not a Participant of the scheme")]
    UnknownParticipant(ParticipantCode),
    #[error("{0} is suspended from the scheme")]
    ParticipantSuspended(ParticipantCode),

    // Parcels.
    #[error("{what} must be greater than zero")]
    NotPositive { what: &'static str },
    #[error("{what} exceeds the limit of {max}")]
    TooLarge { what: &'static str, max: u64 },
    #[error("HS code {0} is not rough diamonds (only 7102.10, 7102.21, 7102.31)")]
    HsCodeNotRough(HsCode),
    #[error("a miner of {member_of} cannot register a parcel of {origin} origin")]
    OriginMismatch {
        member_of: ParticipantCode,
        origin: ParticipantCode,
    },
    #[error("{participant} may export only from its compliant zones ({allowed}); zone `{zone}` is not one")]
    ZoneNotAllowed {
        participant: ParticipantCode,
        zone: String,
        allowed: String,
    },
    #[error("{0} is restricted to compliant zones: a zone of origin is required")]
    ZoneRequired(ParticipantCode),
    #[error(
        "{participant} is restricted to compliant zones and miner {miner} is enrolled for none: \
         only a miner its authority enrolled for a compliant zone registers"
    )]
    MinerZoneRequired {
        participant: ParticipantCode,
        miner: PublicKey,
    },
    #[error(
        "miner {miner} is enrolled for {}, so it cannot register from zone `{declared}`: \
         the zone of origin is the one its authority enrolled it for",
        .enrolled.as_deref().map_or("no zone".to_owned(), |zone| format!("zone `{zone}`"))
    )]
    ZoneMismatch {
        miner: PublicKey,
        enrolled: Option<String>,
        declared: String,
    },
    #[error("no parcel {0}")]
    UnknownParcel(ParcelId),
    #[error("parcel {0} is held by another member")]
    NotHolder(ParcelId),
    #[error("parcel {0} is under an open transfer offer")]
    ParcelOffered(ParcelId),
    #[error("parcel {parcel} is in transit under certificate {certificate}")]
    ParcelInTransit {
        parcel: ParcelId,
        certificate: String,
    },
    #[error("parcel {parcel} is frozen by a receipt discrepancy on certificate {certificate}")]
    ParcelFrozen {
        parcel: ParcelId,
        certificate: String,
    },
    #[error("parcel {0} is flagged by an authority and cannot move")]
    ParcelFlagged(ParcelId),
    #[error("parcel {0} was already split or merged (double spend)")]
    ParcelConsumed(ParcelId),
    #[error("parcel {0} is named twice")]
    DuplicateParcel(ParcelId),
    #[error("carats do not add up: outputs {outputs} mct, inputs {inputs} mct")]
    MassMismatch { inputs: u64, outputs: u64 },
    #[error("a split needs at least 2 outputs and a merge at least 2 inputs")]
    TooFewParts,
    #[error("parcel has {stones} stones, too few for {outputs} outputs")]
    TooFewStones { stones: u32, outputs: usize },
    #[error("HS code {requested} cannot be given to part of a {held} parcel")]
    HsReclassification { held: HsCode, requested: HsCode },
    #[error("parcels of different HS codes ({0} and {1}) cannot be merged")]
    HsCodeMismatch(HsCode, HsCode),
    #[error("parcel {0} is not flagged")]
    NotFlagged(ParcelId),
    #[error("parcel {0} is already flagged")]
    AlreadyFlagged(ParcelId),

    // Transfers.
    #[error("no transfer {0}")]
    UnknownTransfer(TransferId),
    #[error("transfer {0} is not open")]
    TransferClosed(TransferId),
    #[error("only the named recipient may accept transfer {0}")]
    NotRecipient(TransferId),
    #[error("only the member who offered may cancel transfer {0}")]
    NotOfferer(TransferId),
    #[error("recipient {0} is not an active member of the holder's Participant; trade across borders goes under a certificate")]
    RecipientNotDomestic(PublicKey),
    #[error("a member cannot transfer a parcel to itself")]
    SelfTransfer,

    // Certificates and receipts.
    #[error("certificate number `{number}` must start with the issuer's code {issuer}")]
    CertificateNumberPrefix {
        number: String,
        issuer: ParticipantCode,
    },
    #[error("certificate number `{0}` is already used")]
    CertificateReused(String),
    #[error("a certificate cannot be addressed to its own issuer {0}")]
    DestinationIsIssuer(ParticipantCode),
    #[error("expiry {expires} is not after the date of issue {issued}")]
    ExpiryNotAfterIssue { issued: String, expires: String },
    #[error("declared HS codes {declared} do not match the parcels' {actual}")]
    HsDeclarationMismatch { declared: String, actual: String },
    #[error("no certificate `{0}`")]
    UnknownCertificate(String),
    #[error(
        "certificate `{number}` is addressed to {destination}; only its authority may receive it"
    )]
    NotDestinationAuthority {
        number: String,
        destination: ParticipantCode,
    },
    #[error("certificate `{0}` was already received (certificate reuse)")]
    AlreadyReceived(String),
    #[error("certificate `{number}` expired on {expired}")]
    CertificateExpired { number: String, expired: String },

    // Governance of the Participant set.
    #[error("only an active Participant's authority proposes or approves changes to the Participant set; {code} is {standing}")]
    ParticipantNotActive {
        code: ParticipantCode,
        standing: String,
    },
    #[error("a Participant code is two capital letters, not the bytes {0:?}")]
    ParticipantCodeMalformed([u8; 2]),
    #[error("{0} is already a Participant")]
    ParticipantExists(ParticipantCode),
    #[error("key {0} is already in use by a Participant (authority or validator) or a member")]
    KeyInUse(PublicKey),
    #[error("{code} is already {standing}: the change would change nothing")]
    ChangeMoot {
        code: ParticipantCode,
        standing: String,
    },
    #[error("the change would leave no active Participant with a validator, and no block could be made after it")]
    NoValidatorsLeft,
    #[error("no proposal {0}")]
    UnknownProposal(ProposalId),
    #[error("proposal {0} was already executed")]
    ProposalExecuted(ProposalId),
    #[error("{participant} has already approved proposal {proposal}")]
    AlreadyApproved {
        proposal: ProposalId,
        participant: ParticipantCode,
    },
}

impl Rejection {
    /// The stable machine-readable code. Never change one; add new ones.
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            Oversize(_) => "oversize_transaction",
            Malformed(_) => "malformed_transaction",
            WrongChain { .. } => "wrong_chain",
            BadSignature(_) => "bad_signature",
            UnknownSigner(_) => "unknown_signer",
            MemberRevoked(_) => "member_revoked",
            Replay { .. } => "replay",
            NonceGap { .. } => "nonce_gap",
            FieldTooLong { .. } => "field_too_long",
            FieldEmpty { .. } => "field_empty",
            TooManyParcels { .. } => "too_many_parcels",
            WeakKey { .. } => "weak_key",
            NotAuthority => "not_authority",
            MemberExists(_) => "member_exists",
            UnknownMember(_) => "unknown_member",
            OtherParticipantsMember { .. } => "other_participants_member",
            WrongRole { .. } => "wrong_role",
            UnknownParticipant(_) => "unknown_participant",
            ParticipantSuspended(_) => "participant_suspended",
            NotPositive { .. } => "not_positive",
            TooLarge { .. } => "too_large",
            HsCodeNotRough(_) => "hs_code_not_rough",
            OriginMismatch { .. } => "origin_mismatch",
            ZoneNotAllowed { .. } => "zone_not_allowed",
            ZoneRequired(_) => "zone_required",
            MinerZoneRequired { .. } => "zone_required",
            ZoneMismatch { .. } => "zone_mismatch",
            UnknownParcel(_) => "unknown_parcel",
            NotHolder(_) => "not_holder",
            ParcelOffered(_) => "parcel_offered",
            ParcelInTransit { .. } => "parcel_in_transit",
            ParcelFrozen { .. } => "parcel_frozen",
            ParcelFlagged(_) => "parcel_flagged",
            ParcelConsumed(_) => "parcel_consumed",
            DuplicateParcel(_) => "duplicate_parcel",
            MassMismatch { .. } => "mass_mismatch",
            TooFewParts => "too_few_parts",
            TooFewStones { .. } => "too_few_stones",
            HsReclassification { .. } => "hs_reclassification",
            HsCodeMismatch(..) => "hs_code_mismatch",
            NotFlagged(_) => "not_flagged",
            AlreadyFlagged(_) => "already_flagged",
            UnknownTransfer(_) => "unknown_transfer",
            TransferClosed(_) => "transfer_closed",
            NotRecipient(_) => "not_recipient",
            NotOfferer(_) => "not_offerer",
            RecipientNotDomestic(_) => "recipient_not_domestic",
            SelfTransfer => "self_transfer",
            CertificateNumberPrefix { .. } => "certificate_number_prefix",
            CertificateReused(_) => "certificate_reused",
            DestinationIsIssuer(_) => "destination_is_issuer",
            ExpiryNotAfterIssue { .. } => "expiry_not_after_issue",
            HsDeclarationMismatch { .. } => "hs_declaration_mismatch",
            UnknownCertificate(_) => "unknown_certificate",
            NotDestinationAuthority { .. } => "not_destination_authority",
            AlreadyReceived(_) => "already_received",
            CertificateExpired { .. } => "certificate_expired",
            ParticipantNotActive { .. } => "participant_not_active",
            ParticipantCodeMalformed(_) => "participant_code_malformed",
            ParticipantExists(_) => "participant_exists",
            KeyInUse(_) => "key_in_use",
            ChangeMoot { .. } => "change_moot",
            NoValidatorsLeft => "no_validators_left",
            UnknownProposal(_) => "unknown_proposal",
            ProposalExecuted(_) => "proposal_executed",
            AlreadyApproved { .. } => "already_approved",
        }
    }

    /// Every code of [`Rejection::code`], in its order, for those that list
    /// what a refusal may say (the node's API contract); the error-codes
    /// test keeps the two the same.
    pub const CODES: &'static [&'static str] = &[
        "oversize_transaction",
        "malformed_transaction",
        "wrong_chain",
        "bad_signature",
        "unknown_signer",
        "member_revoked",
        "replay",
        "nonce_gap",
        "field_too_long",
        "field_empty",
        "too_many_parcels",
        "weak_key",
        "not_authority",
        "member_exists",
        "unknown_member",
        "other_participants_member",
        "wrong_role",
        "unknown_participant",
        "participant_suspended",
        "not_positive",
        "too_large",
        "hs_code_not_rough",
        "origin_mismatch",
        "zone_not_allowed",
        "zone_required",
        "zone_mismatch",
        "unknown_parcel",
        "not_holder",
        "parcel_offered",
        "parcel_in_transit",
        "parcel_frozen",
        "parcel_flagged",
        "parcel_consumed",
        "duplicate_parcel",
        "mass_mismatch",
        "too_few_parts",
        "too_few_stones",
        "hs_reclassification",
        "hs_code_mismatch",
        "not_flagged",
        "already_flagged",
        "unknown_transfer",
        "transfer_closed",
        "not_recipient",
        "not_offerer",
        "recipient_not_domestic",
        "self_transfer",
        "certificate_number_prefix",
        "certificate_reused",
        "destination_is_issuer",
        "expiry_not_after_issue",
        "hs_declaration_mismatch",
        "unknown_certificate",
        "not_destination_authority",
        "already_received",
        "certificate_expired",
        "participant_not_active",
        "participant_code_malformed",
        "participant_exists",
        "key_in_use",
        "change_moot",
        "no_validators_left",
        "unknown_proposal",
        "proposal_executed",
        "already_approved",
    ];
}

impl From<DecodeError> for Rejection {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Oversize(n) => Rejection::Oversize(n),
            DecodeError::Malformed(m) => Rejection::Malformed(m),
        }
    }
}
