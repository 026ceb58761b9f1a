//! Custody between holders within one Participant: the holder offers, the
//! named recipient accepts, the offerer may cancel. A parcel under an open
//! offer cannot move otherwise. Trade across borders goes under a certificate.

use kp_crypto::PublicKey;

use super::{movable_parcel, required, transfer_id, ApplyError, TxCtx};
use crate::model::{ParcelId, ParcelStatus, Transfer, TransferId, TransferStatus};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead};

pub(super) fn offer<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    parcel_id: &ParcelId,
    to: &PublicKey,
    price_cents: Option<u64>,
) -> Result<(), ApplyError> {
    let holder = ctx.member()?.clone();
    let mut parcel = movable_parcel(state, parcel_id, &holder.key)?;
    if *to == holder.key {
        return Err(Rejection::SelfTransfer.into());
    }
    match state.member(to)? {
        Some(r) if !r.revoked && r.participant == holder.participant => {}
        _ => return Err(Rejection::RecipientNotDomestic(*to).into()),
    }
    let id = transfer_id(&ctx.id);
    parcel.status = ParcelStatus::Offered { transfer: id };
    state.put_parcel(parcel);
    state.put_transfer(Transfer {
        id,
        parcel: *parcel_id,
        from: holder.key,
        to: *to,
        price_cents,
        status: TransferStatus::Open,
        offered_height: ctx.block.height,
    });
    ctx.touch(*parcel_id);
    ctx.create(id);
    Ok(())
}

fn open_transfer<S: StateRead + ?Sized>(
    state: &Overlay<S>,
    id: &TransferId,
) -> Result<Transfer, ApplyError> {
    let transfer = required(state.transfer(id), || Rejection::UnknownTransfer(*id))?;
    if transfer.status != TransferStatus::Open {
        return Err(Rejection::TransferClosed(*id).into());
    }
    Ok(transfer)
}

pub(super) fn accept<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &TransferId,
) -> Result<(), ApplyError> {
    let recipient = ctx.member()?.clone();
    let mut transfer = open_transfer(state, id)?;
    if transfer.to != recipient.key {
        return Err(Rejection::NotRecipient(*id).into());
    }
    let mut parcel = required(state.parcel(&transfer.parcel), || {
        Rejection::UnknownParcel(transfer.parcel)
    })?;
    assert_eq!(
        parcel.status,
        ParcelStatus::Offered { transfer: *id },
        "an open offer holds its parcel"
    );
    assert_eq!(
        parcel.holder, transfer.from,
        "only the holder can have offered"
    );
    if parcel.flag.is_some() {
        return Err(Rejection::ParcelFlagged(parcel.id).into());
    }
    parcel.holder = recipient.key;
    parcel.status = ParcelStatus::Live;
    transfer.status = TransferStatus::Accepted;
    ctx.touch(parcel.id);
    state.put_parcel(parcel);
    state.put_transfer(transfer);
    Ok(())
}

pub(super) fn cancel<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &TransferId,
) -> Result<(), ApplyError> {
    let offerer = ctx.member()?.clone();
    let mut transfer = open_transfer(state, id)?;
    if transfer.from != offerer.key {
        return Err(Rejection::NotOfferer(*id).into());
    }
    let mut parcel = required(state.parcel(&transfer.parcel), || {
        Rejection::UnknownParcel(transfer.parcel)
    })?;
    assert_eq!(
        parcel.status,
        ParcelStatus::Offered { transfer: *id },
        "an open offer holds its parcel"
    );
    parcel.status = ParcelStatus::Live;
    transfer.status = TransferStatus::Cancelled;
    ctx.touch(parcel.id);
    state.put_parcel(parcel);
    state.put_transfer(transfer);
    Ok(())
}
