//! Authorities license industry: only a Participant's authority key enrols or
//! revokes its own members. A revoked member keeps its record for the audit
//! and can do nothing.

use kp_crypto::PublicKey;

use super::{check_entering_key, check_text, required, ApplyError, TxCtx};
use crate::model::{Member, Role};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead};

pub(super) fn enrol<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    member: &PublicKey,
    role: Role,
    name: &str,
    licence: &str,
    zone: Option<&str>,
) -> Result<(), ApplyError> {
    let authority = ctx.authority()?.clone();
    check_entering_key(member)?;
    check_text("member name", name, true)?;
    check_text("licence", licence, true)?;
    if let Some(zone) = zone {
        check_text("zone", zone, true)?;
    }
    // A key is one party: never two members, never a member and an authority.
    if state.member(member)?.is_some() || state.participant_by_authority(member)?.is_some() {
        return Err(Rejection::MemberExists(*member).into());
    }
    state.put_member(Member {
        key: *member,
        participant: authority.code,
        role,
        name: name.trim().to_owned(),
        licence: licence.trim().to_owned(),
        zone: zone.map(|z| z.trim().to_owned()),
        revoked: false,
        enrolled_height: ctx.block.height,
    });
    Ok(())
}

pub(super) fn revoke<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    member: &PublicKey,
) -> Result<(), ApplyError> {
    let authority = ctx.authority()?.clone();
    let mut record = required(state.member(member), || Rejection::UnknownMember(*member))?;
    if record.participant != authority.code {
        return Err(Rejection::OtherParticipantsMember {
            member: *member,
            member_of: record.participant,
            authority_of: authority.code,
        }
        .into());
    }
    if record.revoked {
        return Err(Rejection::MemberRevoked(*member).into());
    }
    record.revoked = true;
    state.put_member(record);
    Ok(())
}
