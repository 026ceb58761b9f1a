//! An authority stops a parcel held in its territory (suspicious origin, an
//! investigation); a flagged parcel cannot move until the flag is cleared.

use super::{check_text, required, ApplyError, TxCtx};
use crate::model::{Parcel, ParcelId};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead};

/// The parcel, if it is held by a member of the signing authority's Participant.
fn parcel_in_territory<S: StateRead + ?Sized>(
    state: &Overlay<S>,
    ctx: &TxCtx,
    id: &ParcelId,
) -> Result<Parcel, ApplyError> {
    let authority = ctx.authority()?;
    let parcel = required(state.parcel(id), || Rejection::UnknownParcel(*id))?;
    let holder = required(state.member(&parcel.holder), || {
        Rejection::UnknownMember(parcel.holder)
    })?;
    if holder.participant != authority.code {
        return Err(Rejection::OtherParticipantsMember {
            member: holder.key,
            member_of: holder.participant,
            authority_of: authority.code,
        }
        .into());
    }
    Ok(parcel)
}

pub(super) fn flag<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &ParcelId,
    reason: &str,
) -> Result<(), ApplyError> {
    check_text("reason", reason, true)?;
    let mut parcel = parcel_in_territory(state, ctx, id)?;
    if parcel.flag.is_some() {
        return Err(Rejection::AlreadyFlagged(*id).into());
    }
    parcel.flag = Some(reason.trim().to_owned());
    state.put_parcel(parcel);
    ctx.touch(*id);
    Ok(())
}

pub(super) fn clear<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &ParcelId,
) -> Result<(), ApplyError> {
    let mut parcel = parcel_in_territory(state, ctx, id)?;
    if parcel.flag.is_none() {
        return Err(Rejection::NotFlagged(*id).into());
    }
    parcel.flag = None;
    state.put_parcel(parcel);
    ctx.touch(*id);
    Ok(())
}
