//! KP certificates (Annex I) and receipts (Section IV).
//!
//! Only the exporting Participant's authority issues a certificate, under a
//! number prefixed with its own code and never reused, for parcels that its
//! enrolled exporter holds, to an enrolled importer of another Participant
//! in good standing. Every Annex I figure but the value is computed from the
//! parcels, so a certificate cannot misstate them. The value is the
//! exporting authority's to declare (value is not conserved: a re-export
//! may be worth more or less than the import); undeclared, it is the
//! parcels' recorded value. The parcels are in transit until the
//! destination's authority confirms receipt, once, before expiry; a receipt
//! whose figures differ is recorded as a discrepancy and freezes the
//! parcels. A matching receipt hands the parcels to the importer at the
//! certificate's value (see [`shipment_values`]).
//! A Participant suspended meanwhile (by governance) can neither issue nor
//! receive; a restricted one exports its own diamonds only from its zones.

use std::collections::BTreeSet;

use kp_crypto::PublicKey;

use std::borrow::Borrow;

use super::parcel::{check_quantity, check_zones, totals, VALUE_CENTS_MAX};
use super::{apportion, movable_parcel, participant_in_good_standing, required, ApplyError, TxCtx};
use crate::model::{
    Certificate, CertificateStatus, HsCode, Member, Parcel, ParcelId, ParcelStatus,
    ParticipantCode, Receipt, Role,
};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead};
use crate::tx::PARCELS_PER_TX_MAX;
use crate::units::{day_of, Day};

/// Certificate numbers are short identifiers, not prose.
pub const CERTIFICATE_NUMBER_BYTES_MAX: usize = 64;

pub(super) struct Issue<'a> {
    pub number: &'a str,
    pub exporter: &'a PublicKey,
    pub importer: &'a PublicKey,
    pub destination: ParticipantCode,
    pub parcels: &'a [ParcelId],
    pub hs_codes: &'a [HsCode],
    pub expires_on: u32,
    pub value_cents: Option<u64>,
}

/// A certificate's value shared among its parcels in proportion to their
/// recorded values (by mass where those are all zero), adding up to it
/// exactly: what each parcel is worth as shipped. Undeclared, the value is
/// the recorded values' sum and each parcel keeps its own; declared, each
/// is scaled alike, so the exporter's relative valuation of the parcels
/// survives while the importer's records, statistics and any re-export
/// start from the declared import value.
pub(crate) fn shipment_values<P: Borrow<Parcel>>(value_cents: u64, parcels: &[P]) -> Vec<u64> {
    let values: Vec<u64> = parcels.iter().map(|p| p.borrow().value_cents).collect();
    if values.iter().any(|v| *v > 0) {
        return apportion(value_cents, &values);
    }
    let masses: Vec<u64> = parcels.iter().map(|p| p.borrow().milli_carats).collect();
    apportion(value_cents, &masses)
}

/// An active member of `participant` enrolled with `role`.
fn enrolled_as<S: StateRead + ?Sized>(
    state: &Overlay<S>,
    key: &PublicKey,
    participant: ParticipantCode,
    role: Role,
) -> Result<Member, ApplyError> {
    let member = required(state.member(key), || Rejection::UnknownMember(*key))?;
    if member.revoked {
        return Err(Rejection::MemberRevoked(*key).into());
    }
    if member.participant != participant {
        return Err(Rejection::OtherParticipantsMember {
            member: *key,
            member_of: member.participant,
            authority_of: participant,
        }
        .into());
    }
    if member.role != role {
        return Err(Rejection::WrongRole {
            member: *key,
            needed: role,
            actual: member.role,
        }
        .into());
    }
    Ok(member)
}

fn check_number(number: &str, issuer: ParticipantCode) -> Result<(), Rejection> {
    if number.len() > CERTIFICATE_NUMBER_BYTES_MAX {
        return Err(Rejection::FieldTooLong {
            field: "certificate number",
            len: number.len(),
            max: CERTIFICATE_NUMBER_BYTES_MAX,
        });
    }
    let well_formed = number.len() > 2
        && number.starts_with(issuer.as_str())
        && number
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'/');
    if !well_formed {
        return Err(Rejection::CertificateNumberPrefix {
            number: number.to_owned(),
            issuer,
        });
    }
    Ok(())
}

fn list(codes: &BTreeSet<HsCode>) -> String {
    codes
        .iter()
        .map(HsCode::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn issue<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    c: Issue,
) -> Result<(), ApplyError> {
    let issuer = ctx.authority()?.clone();
    if !issuer.status.in_good_standing() {
        return Err(Rejection::ParticipantSuspended(issuer.code).into());
    }
    check_number(c.number, issuer.code)?;
    if state.certificate(c.number)?.is_some() {
        return Err(Rejection::CertificateReused(c.number.to_owned()).into());
    }
    if c.destination == issuer.code {
        return Err(Rejection::DestinationIsIssuer(issuer.code).into());
    }
    participant_in_good_standing(state, c.destination)?;
    enrolled_as(state, c.exporter, issuer.code, Role::Exporter)?;
    enrolled_as(state, c.importer, c.destination, Role::Importer)?;
    let issued_on = day_of(ctx.block.time);
    if c.expires_on <= issued_on {
        return Err(Rejection::ExpiryNotAfterIssue {
            issued: Day(issued_on).to_string(),
            expires: Day(c.expires_on).to_string(),
        }
        .into());
    }
    if c.parcels.is_empty() {
        return Err(Rejection::NotPositive {
            what: "the number of parcels",
        }
        .into());
    }
    if c.parcels.len() > PARCELS_PER_TX_MAX {
        return Err(Rejection::TooManyParcels {
            max: PARCELS_PER_TX_MAX,
        }
        .into());
    }
    if let Some(code) = c.hs_codes.iter().find(|code| !code.is_rough()) {
        return Err(Rejection::HsCodeNotRough(*code).into());
    }
    if let Some(declared) = c.value_cents {
        check_quantity("value", declared, VALUE_CENTS_MAX)?;
    }

    let mut parcels = Vec::with_capacity(c.parcels.len());
    for id in c.parcels {
        if parcels.iter().any(|p: &crate::model::Parcel| p.id == *id) {
            return Err(Rejection::DuplicateParcel(*id).into());
        }
        let parcel = movable_parcel(state, id, c.exporter)?;
        // A restricted Participant exports its own diamonds only from its
        // compliant zones, whatever the status was at registration.
        if parcel.origins.iter().any(|o| o.participant == issuer.code) {
            check_zones(issuer.code, &issuer.status, &parcel.zones)?;
        }
        parcels.push(parcel);
    }
    let declared: BTreeSet<HsCode> = c.hs_codes.iter().copied().collect();
    let actual: BTreeSet<HsCode> = parcels.iter().map(|p| p.hs_code).collect();
    if declared != actual {
        return Err(Rejection::HsDeclarationMismatch {
            declared: list(&declared),
            actual: list(&actual),
        }
        .into());
    }

    let shipped = totals(&parcels)?;
    for parcel in &mut parcels {
        parcel.status = ParcelStatus::InTransit {
            certificate: c.number.to_owned(),
        };
        ctx.touch(parcel.id);
    }
    for parcel in parcels {
        state.put_parcel(parcel);
    }
    state.put_certificate(Certificate {
        number: c.number.to_owned(),
        issuer: issuer.code,
        destination: c.destination,
        exporter: *c.exporter,
        importer: *c.importer,
        origins: shipped.origins,
        milli_carats: shipped.milli_carats,
        value_cents: c.value_cents.unwrap_or(shipped.value_cents),
        parcels: c.parcels.to_vec(),
        hs_codes: declared.into_iter().collect(),
        issued_on,
        expires_on: c.expires_on,
        issued_height: ctx.block.height,
        status: CertificateStatus::InTransit,
        receipt: None,
    });
    Ok(())
}

pub(super) fn receive<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    number: &str,
    milli_carats: u64,
    parcel_count: u32,
) -> Result<(), ApplyError> {
    let authority = ctx.authority()?.clone();
    // Receipt is the import: a suspended Participant imports nothing.
    if !authority.status.in_good_standing() {
        return Err(Rejection::ParticipantSuspended(authority.code).into());
    }
    let mut cert = required(state.certificate(number), || {
        Rejection::UnknownCertificate(number.to_owned())
    })?;
    if cert.destination != authority.code {
        return Err(Rejection::NotDestinationAuthority {
            number: number.to_owned(),
            destination: cert.destination,
        }
        .into());
    }
    if cert.status != CertificateStatus::InTransit {
        return Err(Rejection::AlreadyReceived(number.to_owned()).into());
    }
    let received_on = day_of(ctx.block.time);
    if received_on > cert.expires_on {
        return Err(Rejection::CertificateExpired {
            number: number.to_owned(),
            expired: Day(cert.expires_on).to_string(),
        }
        .into());
    }
    let matches = milli_carats == cert.milli_carats && parcel_count as usize == cert.parcels.len();
    let mut parcels = Vec::with_capacity(cert.parcels.len());
    for id in &cert.parcels {
        let parcel = required(state.parcel(id), || Rejection::UnknownParcel(*id))?;
        assert_eq!(
            parcel.status,
            ParcelStatus::InTransit {
                certificate: cert.number.clone()
            },
            "a certificate's parcels stay in transit until its receipt"
        );
        parcels.push(parcel);
    }
    let values = shipment_values(cert.value_cents, &parcels);
    for (mut parcel, value_cents) in parcels.into_iter().zip(values) {
        if matches {
            parcel.holder = cert.importer;
            parcel.status = ParcelStatus::Live;
            parcel.value_cents = value_cents;
        } else {
            parcel.status = ParcelStatus::Frozen {
                certificate: cert.number.clone(),
            };
        }
        ctx.touch(parcel.id);
        state.put_parcel(parcel);
    }
    cert.status = if matches {
        CertificateStatus::Received
    } else {
        CertificateStatus::Discrepancy
    };
    cert.receipt = Some(Receipt {
        milli_carats,
        parcel_count,
        received_on,
        height: ctx.block.height,
        matches,
    });
    state.put_certificate(cert);
    Ok(())
}
