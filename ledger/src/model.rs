//! The scheme's nouns, as `docs/domain.md` names them: Participants and their
//! authorities, members, parcels, transfers, certificates and receipts.

use std::fmt;
use std::str::FromStr;

use borsh::{BorshDeserialize, BorshSerialize};
use kp_crypto::{hash_domain, Hash32, PublicKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub type TxId = Hash32;
pub type ParcelId = Hash32;
pub type TransferId = Hash32;
pub type BlockHash = Hash32;
pub type ProposalId = Hash32;
/// The validators that decide a block, each with one vote, in key order
/// (see [`validator_set`](crate::rules::validator_set)).
pub type ValidatorSet = Vec<(ParticipantCode, PublicKey)>;

/// A Participant's ISO 3166-1 alpha-2 code (`EU` for the European Union).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(value_type = String, pattern = "^[A-Z]{2}$")
)]
pub struct ParticipantCode(pub [u8; 2]);

impl ParticipantCode {
    pub fn as_str(&self) -> &str {
        // Only ASCII upper-case letters are ever stored (see `from_str` and
        // `is_well_formed`), so this cannot fail for a value the ledger keeps.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    pub fn is_well_formed(&self) -> bool {
        self.0.iter().all(u8::is_ascii_uppercase)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a two-letter Participant code")]
pub struct CodeParseError(pub String);

impl FromStr for ParticipantCode {
    type Err = CodeParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let upper = s.trim().to_ascii_uppercase();
        match upper.as_bytes() {
            [a, b] if a.is_ascii_uppercase() && b.is_ascii_uppercase() => {
                Ok(ParticipantCode([*a, *b]))
            }
            _ => Err(CodeParseError(s.to_owned())),
        }
    }
}

impl fmt::Display for ParticipantCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ParticipantCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ParticipantCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ParticipantCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A Harmonized System code as six digits (`710210` for 7102.10). Any code
/// can be written in a transaction; the rules accept only rough diamonds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, BorshSerialize, BorshDeserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::ToSchema),
    schema(
        value_type = String,
        pattern = "^[0-9]{4}\\.[0-9]{2}$",
        description = "A Harmonized System code written `7102.10`: any code in a transaction; the rules accept only rough diamonds (7102.10, 7102.21, 7102.31)."
    )
)]
pub struct HsCode(pub u32);

impl HsCode {
    /// Unsorted rough diamonds.
    pub const UNSORTED: HsCode = HsCode(710_210);
    /// Industrial rough diamonds, unworked or simply sawn, cleaved or bruted.
    pub const INDUSTRIAL: HsCode = HsCode(710_221);
    /// Non-industrial rough diamonds, likewise.
    pub const NON_INDUSTRIAL: HsCode = HsCode(710_231);

    /// The codes within the scheme: 7102.10, 7102.21, 7102.31. Worked stones
    /// (7102.29, 7102.39) and synthetics (7104) are not rough diamonds.
    pub fn is_rough(&self) -> bool {
        matches!(
            *self,
            Self::UNSORTED | Self::INDUSTRIAL | Self::NON_INDUSTRIAL
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not an HS code such as 7102.10")]
pub struct HsParseError(pub String);

impl FromStr for HsCode {
    type Err = HsParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s.trim().chars().filter(|c| *c != '.').collect();
        if !(4..=6).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(HsParseError(s.to_owned()));
        }
        let padded = format!("{digits:0<6}");
        padded
            .parse()
            .map(HsCode)
            .map_err(|_| HsParseError(s.to_owned()))
    }
}

impl fmt::Display for HsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl fmt::Debug for HsCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for HsCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for HsCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <String as Deserialize>::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// What an authority licenses a member to do.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Role {
    Miner,
    Trader,
    Sorter,
    Exporter,
    Importer,
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "miner" => Ok(Role::Miner),
            "trader" => Ok(Role::Trader),
            "sorter" => Ok(Role::Sorter),
            "exporter" => Ok(Role::Exporter),
            "importer" => Ok(Role::Importer),
            other => Err(format!(
                "`{other}` is not a role (miner, trader, sorter, exporter or importer)"
            )),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Role::Miner => "miner",
            Role::Trader => "trader",
            Role::Sorter => "sorter",
            Role::Exporter => "exporter",
            Role::Importer => "importer",
        };
        f.write_str(name)
    }
}

/// A Participant's standing in the scheme.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ParticipantStatus {
    Active,
    Suspended,
    /// Partly suspended: may export only diamonds from these compliant zones.
    Restricted {
        zones: Vec<String>,
    },
}

impl ParticipantStatus {
    /// Active or restricted: it may trade (a restricted one only from its zones).
    pub fn in_good_standing(&self) -> bool {
        !matches!(self, ParticipantStatus::Suspended)
    }

    /// Fully active: only such a Participant votes on the Participant set
    /// and counts its validator. A restricted one is partly suspended.
    pub fn is_active(&self) -> bool {
        matches!(self, ParticipantStatus::Active)
    }
}

impl fmt::Display for ParticipantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParticipantStatus::Active => f.write_str("active"),
            ParticipantStatus::Suspended => f.write_str("suspended"),
            ParticipantStatus::Restricted { zones } => {
                write!(f, "restricted to compliant zones: {}", zones.join(", "))
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Participant {
    pub code: ParticipantCode,
    pub name: String,
    /// Enrols members, issues and receives certificates, flags parcels.
    pub authority: PublicKey,
    /// Votes in consensus for this Participant while it is active. `None`:
    /// it governs with its authority key but runs no validator. In JSON,
    /// `null` or absent.
    #[serde(default)]
    pub validator: Option<PublicKey>,
    #[serde(flatten)]
    pub status: ParticipantStatus,
}

/// A change to the Participant set, as proposed and approved on the ledger.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ParticipantChange {
    /// A new Participant, active from the block that applies the change.
    Admit {
        code: ParticipantCode,
        name: String,
        authority: PublicKey,
        #[serde(default)]
        validator: Option<PublicKey>,
    },
    /// No `zones`: suspended. Some: partly suspended, exporting only from
    /// these compliant zones.
    Suspend {
        code: ParticipantCode,
        #[serde(default)]
        zones: Vec<String>,
    },
    /// Back to active.
    Reinstate { code: ParticipantCode },
}

impl ParticipantChange {
    /// The Participant the change is about.
    pub fn code(&self) -> ParticipantCode {
        match self {
            ParticipantChange::Admit { code, .. }
            | ParticipantChange::Suspend { code, .. }
            | ParticipantChange::Reinstate { code } => *code,
        }
    }
}

impl fmt::Display for ParticipantChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParticipantChange::Admit {
                code,
                name,
                validator,
                ..
            } => {
                let runs = if validator.is_some() {
                    "with a validator"
                } else {
                    "without a validator"
                };
                write!(f, "admit {code} ({name}), {runs}")
            }
            ParticipantChange::Suspend { code, zones } if zones.is_empty() => {
                write!(f, "suspend {code}")
            }
            ParticipantChange::Suspend { code, zones } => write!(
                f,
                "suspend {code} except its compliant zones {}",
                zones.join(", ")
            ),
            ParticipantChange::Reinstate { code } => write!(f, "reinstate {code}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ProposalStatus {
    /// Waiting for approvals.
    Open,
    /// Applied at `height`, when `approvals` of the `active` Participants
    /// of that moment had approved it.
    Executed {
        height: u64,
        approvals: u32,
        active: u32,
    },
}

/// A proposed change to the Participant set and who has approved it. Kept
/// for the record once executed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
pub struct Proposal {
    pub id: ProposalId,
    pub change: ParticipantChange,
    pub proposer: ParticipantCode,
    /// Every Participant that approved, each once, the proposer first. Only
    /// those active at the time of counting count.
    pub approvals: Vec<ParticipantCode>,
    pub proposed_height: u64,
    pub status: ProposalStatus,
}

/// An industry member licensed by a Participant's authority.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Member {
    pub key: PublicKey,
    pub participant: ParticipantCode,
    pub role: Role,
    pub name: String,
    pub licence: String,
    pub zone: Option<String>,
    /// Once revoked a member can do nothing; the record stays for the audit.
    pub revoked: bool,
    pub enrolled_height: u64,
}

/// One country of origin's share of a parcel's mass.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OriginShare {
    pub participant: ParticipantCode,
    pub milli_carats: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ParcelStatus {
    /// Held and free to move.
    Live,
    /// Under an open transfer offer.
    Offered { transfer: TransferId },
    /// Shipped under a certificate, not yet received.
    InTransit { certificate: String },
    /// Received with figures that differ from the certificate: frozen.
    Frozen { certificate: String },
    /// Split or merged into other parcels; never moves again.
    Consumed { by: TxId },
}

const HISTORY_CONTEXT: &str = "kp-ledger 2026 parcel history v1";

/// A parcel's events as a hash chain over their transaction ids, oldest
/// first. The record carries it so that a proof of the record also proves
/// which events its history holds: none can be left out or added.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    BorshSerialize,
    BorshDeserialize,
    Serialize,
    Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct History {
    /// How many transactions the chain holds.
    pub events: u32,
    /// The chain's last link; all zeros before the first event.
    pub head: Hash32,
}

impl History {
    /// The history with `tx` appended.
    pub fn then(&self, tx: &TxId) -> History {
        History {
            events: self.events + 1,
            head: hash_domain(HISTORY_CONTEXT, &[&self.head.0, &tx.0]),
        }
    }

    /// The history of these transactions, in order.
    pub fn of<'a>(txs: impl IntoIterator<Item = &'a TxId>) -> History {
        txs.into_iter()
            .fold(History::default(), |history, tx| history.then(tx))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Parcel {
    pub id: ParcelId,
    /// Sorted by Participant code; more than one entry means mixed origin.
    /// The shares add up to `milli_carats`.
    pub origins: Vec<OriginShare>,
    /// The compliant zones or sub-national areas of origin named at
    /// registration, sorted, each once: kept through splits, united by
    /// merges, so that a restricted Participant's exports stay checkable.
    pub zones: Vec<String>,
    /// The mine the diamonds came from: kept through splits, and through
    /// merges when every input came from the same mine; `None` otherwise.
    pub mine: Option<String>,
    pub milli_carats: u64,
    pub stones: u32,
    pub value_cents: u64,
    pub hs_code: HsCode,
    pub holder: PublicKey,
    pub status: ParcelStatus,
    /// Set by an authority; a flagged parcel cannot move.
    pub flag: Option<String>,
    /// The parcels it was split or merged from (empty at the mine).
    pub parents: Vec<ParcelId>,
    pub created_by: TxId,
    pub created_height: u64,
    /// Every transaction in the parcel's own history, chained: what a
    /// provenance bundle must show in full for the record to check.
    pub history: History,
}

impl Parcel {
    pub fn is_mixed_origin(&self) -> bool {
        self.origins.len() > 1
    }
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum TransferStatus {
    Open,
    Accepted,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub id: TransferId,
    pub parcel: ParcelId,
    pub from: PublicKey,
    pub to: PublicKey,
    pub price_cents: Option<u64>,
    pub status: TransferStatus,
    pub offered_height: u64,
}

/// What the importing authority confirmed.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    pub milli_carats: u64,
    pub parcel_count: u32,
    pub received_on: u32,
    pub height: u64,
    /// False when the figures differ from the certificate (a discrepancy).
    pub matches: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum CertificateStatus {
    InTransit,
    Received,
    Discrepancy,
}

/// A KP certificate with every Annex I field, computed from the parcels it covers.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certificate {
    /// Unique, prefixed with the issuer's code.
    pub number: String,
    pub issuer: ParticipantCode,
    pub destination: ParticipantCode,
    pub exporter: PublicKey,
    pub importer: PublicKey,
    /// Countries of origin with their carats; more than one means mixed origin.
    pub origins: Vec<OriginShare>,
    pub milli_carats: u64,
    pub value_cents: u64,
    pub parcels: Vec<ParcelId>,
    pub hs_codes: Vec<HsCode>,
    pub issued_on: u32,
    pub expires_on: u32,
    pub issued_height: u64,
    pub status: CertificateStatus,
    pub receipt: Option<Receipt>,
}

impl Certificate {
    pub const TITLE: &'static str = "Kimberley Process Certificate";
    pub const STATEMENT: &'static str = "The rough diamonds in this shipment have been handled \
        in accordance with the provisions of the Kimberley Process Certification Scheme for \
        rough diamonds";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_parse() {
        assert_eq!("bw".parse::<ParticipantCode>().unwrap().as_str(), "BW");
        assert!("B".parse::<ParticipantCode>().is_err());
        assert!("B1".parse::<ParticipantCode>().is_err());
        assert_eq!("7102.10".parse::<HsCode>(), Ok(HsCode::UNSORTED));
        assert_eq!("710231".parse::<HsCode>(), Ok(HsCode::NON_INDUSTRIAL));
        assert_eq!("7104".parse::<HsCode>().unwrap().to_string(), "7104.00");
        assert!(!"7102.29".parse::<HsCode>().unwrap().is_rough());
        assert!(!"7104".parse::<HsCode>().unwrap().is_rough());
        assert!("71".parse::<HsCode>().is_err());
        assert_eq!("Sorter".parse::<Role>(), Ok(Role::Sorter));
        assert!("king".parse::<Role>().is_err());
    }
}
