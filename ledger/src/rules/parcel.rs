//! Parcels: registered at the mine by an enrolled miner of the origin
//! Participant, from the zone its authority enrolled it for, then split and
//! merged by their holders. Splitting, sorting
//! and merging change no mass: the outputs' milli-carats add up to the
//! inputs' exactly, each origin keeps its carats, and every output keeps its
//! whole ancestry. Value is not conserved by nature, so it is apportioned.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    apportion, check_text, movable_parcel, parcel_id, participant_in_good_standing, ApplyError,
    TxCtx,
};
use crate::model::{
    History, HsCode, Member, OriginShare, Parcel, ParcelId, ParcelStatus, ParticipantCode,
    ParticipantStatus, Role,
};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead};
use crate::tx::{SplitOutput, PARCELS_PER_TX_MAX};

/// A billion carats, several years of the world's production: no parcel is
/// larger, which also keeps every sum of parcels far from overflow.
pub const MILLI_CARATS_MAX: u64 = 1_000_000_000_000;
/// US$ 100 billion.
pub const VALUE_CENTS_MAX: u64 = 10_000_000_000_000;

/// What a parcel a transaction creates (registered, split off or merged)
/// may hold at most: every parcel on the ledger is within these limits, so
/// no sum over the parcels of one transaction comes near overflow.
fn check_parcel_limits(parcel: &Parcel) -> Result<(), Rejection> {
    for (what, value, max) in [
        ("carats", parcel.milli_carats, MILLI_CARATS_MAX),
        ("value", parcel.value_cents, VALUE_CENTS_MAX),
    ] {
        if value > max {
            return Err(Rejection::TooLarge { what, max });
        }
    }
    Ok(())
}

/// Writes a parcel the transaction creates, within the limits of a parcel,
/// and records that the transaction created it.
fn create_parcel<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    parcel: Parcel,
) -> Result<(), Rejection> {
    check_parcel_limits(&parcel)?;
    let id = parcel.id;
    state.put_parcel(parcel);
    ctx.touch(id);
    ctx.create(id);
    Ok(())
}

/// What some parcels hold together: each origin's carats (in code order),
/// the carats, stones and recorded value. Every sum is checked: a sum past
/// a u64 is refused as too large, never wrapped.
pub(super) struct Totals {
    pub origins: Vec<OriginShare>,
    pub milli_carats: u64,
    pub stones: u64,
    pub value_cents: u64,
}

pub(super) fn totals(parcels: &[Parcel]) -> Result<Totals, Rejection> {
    let overflow = |what| Rejection::TooLarge {
        what,
        max: u64::MAX,
    };
    let mut origins: BTreeMap<ParticipantCode, u64> = BTreeMap::new();
    let (mut milli_carats, mut stones, mut value_cents) = (0u64, 0u64, 0u64);
    for p in parcels {
        for o in &p.origins {
            let share = origins.entry(o.participant).or_default();
            *share = share
                .checked_add(o.milli_carats)
                .ok_or(overflow("an origin's carats together"))?;
        }
        milli_carats = milli_carats
            .checked_add(p.milli_carats)
            .ok_or(overflow("the parcels' carats together"))?;
        stones = stones
            .checked_add(u64::from(p.stones))
            .ok_or(overflow("the parcels' stones together"))?;
        value_cents = value_cents
            .checked_add(p.value_cents)
            .ok_or(overflow("the parcels' value together"))?;
    }
    let origins: Vec<OriginShare> = origins
        .into_iter()
        .map(|(participant, milli_carats)| OriginShare {
            participant,
            milli_carats,
        })
        .collect();
    assert_eq!(
        origins
            .iter()
            .try_fold(0u64, |sum, o| sum.checked_add(o.milli_carats)),
        Some(milli_carats),
        "origin shares add up to the parcels' carats"
    );
    Ok(Totals {
        origins,
        milli_carats,
        stones,
        value_cents,
    })
}

/// A declared quantity: at least 1, at most `max`.
pub(super) fn check_quantity(what: &'static str, value: u64, max: u64) -> Result<(), Rejection> {
    if value == 0 {
        return Err(Rejection::NotPositive { what });
    }
    if value > max {
        return Err(Rejection::TooLarge { what, max });
    }
    Ok(())
}

pub(super) struct Registration<'a> {
    pub origin: ParticipantCode,
    pub zone: Option<&'a str>,
    pub mine: &'a str,
    pub milli_carats: u64,
    pub stones: u32,
    pub value_cents: u64,
    pub hs_code: HsCode,
}

/// Zones of origin allowed by the Participant's status: any for an active
/// one; for a restricted one, at least one zone, and each one of its
/// compliant zones.
pub(crate) fn check_zones(
    code: ParticipantCode,
    status: &ParticipantStatus,
    zones: &[String],
) -> Result<(), Rejection> {
    let ParticipantStatus::Restricted { zones: allowed } = status else {
        return Ok(());
    };
    if zones.is_empty() {
        return Err(Rejection::ZoneRequired(code));
    }
    let is_allowed = |zone: &String| {
        allowed
            .iter()
            .any(|a| a.trim().eq_ignore_ascii_case(zone.trim()))
    };
    match zones.iter().find(|zone| !is_allowed(zone)) {
        None => Ok(()),
        Some(zone) => Err(Rejection::ZoneNotAllowed {
            participant: code,
            zone: zone.clone(),
            allowed: allowed.join(", "),
        }),
    }
}

/// The zone a registration is from: the one the miner's authority enrolled
/// it for, whatever the registration says. It may name that zone, as a
/// check, and no other: a zone a miner names for itself is no evidence of
/// where its diamonds were mined, and would let a miner of any zone pass
/// its parcels off as from a compliant one. A miner enrolled for no zone
/// registers from none.
fn zone_of_origin(miner: &Member, declared: Option<&str>) -> Result<Vec<String>, Rejection> {
    let enrolled = miner.zone.as_deref().map(str::trim);
    if let Some(declared) = declared {
        check_text("zone", declared, true)?;
        let declared = declared.trim();
        if !enrolled.is_some_and(|zone| zone.eq_ignore_ascii_case(declared)) {
            return Err(Rejection::ZoneMismatch {
                miner: miner.key,
                enrolled: enrolled.map(str::to_owned),
                declared: declared.to_owned(),
            });
        }
    }
    Ok(enrolled.map(str::to_owned).into_iter().collect())
}

pub(super) fn register<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    r: Registration,
) -> Result<(), ApplyError> {
    let miner = ctx.member()?.clone();
    if miner.role != Role::Miner {
        return Err(Rejection::WrongRole {
            member: miner.key,
            needed: Role::Miner,
            actual: miner.role,
        }
        .into());
    }
    if r.origin != miner.participant {
        return Err(Rejection::OriginMismatch {
            member_of: miner.participant,
            origin: r.origin,
        }
        .into());
    }
    let participant = participant_in_good_standing(state, r.origin)?;
    check_text("mine", r.mine, true)?;
    for (what, value, max) in [
        ("carats", r.milli_carats, MILLI_CARATS_MAX),
        ("stones", u64::from(r.stones), u64::from(u32::MAX)),
        ("value", r.value_cents, VALUE_CENTS_MAX),
    ] {
        check_quantity(what, value, max)?;
    }
    if !r.hs_code.is_rough() {
        return Err(Rejection::HsCodeNotRough(r.hs_code).into());
    }
    let zones = zone_of_origin(&miner, r.zone)?;
    if zones.is_empty() && matches!(participant.status, ParticipantStatus::Restricted { .. }) {
        return Err(Rejection::MinerZoneRequired {
            participant: r.origin,
            miner: miner.key,
        }
        .into());
    }
    check_zones(r.origin, &participant.status, &zones)?;

    let parcel = Parcel {
        id: parcel_id(&ctx.id, 0),
        origins: vec![OriginShare {
            participant: r.origin,
            milli_carats: r.milli_carats,
        }],
        zones,
        mine: Some(r.mine.trim().to_owned()),
        milli_carats: r.milli_carats,
        stones: r.stones,
        value_cents: r.value_cents,
        hs_code: r.hs_code,
        holder: miner.key,
        status: ParcelStatus::Live,
        flag: None,
        parents: Vec::new(),
        created_by: ctx.id,
        created_height: ctx.block.height,
        history: History::default(),
    };
    Ok(create_parcel(state, ctx, parcel)?)
}

pub(super) fn split<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &ParcelId,
    outputs: &[SplitOutput],
) -> Result<(), ApplyError> {
    let holder = ctx.member()?.key;
    let mut input = movable_parcel(state, id, &holder)?;
    if outputs.len() < 2 {
        return Err(Rejection::TooFewParts.into());
    }
    if outputs.len() > PARCELS_PER_TX_MAX {
        return Err(Rejection::TooManyParcels {
            max: PARCELS_PER_TX_MAX,
        }
        .into());
    }
    let masses: Vec<u64> = outputs.iter().map(|o| o.milli_carats).collect();
    if masses.contains(&0) {
        return Err(Rejection::NotPositive {
            what: "each output's carats",
        }
        .into());
    }
    let total = masses
        .iter()
        .try_fold(0u64, |sum, m| sum.checked_add(*m))
        .unwrap_or(u64::MAX);
    if total != input.milli_carats {
        return Err(Rejection::MassMismatch {
            inputs: input.milli_carats,
            outputs: total,
        }
        .into());
    }
    if (input.stones as usize) < outputs.len() {
        return Err(Rejection::TooFewStones {
            stones: input.stones,
            outputs: outputs.len(),
        }
        .into());
    }
    let mut hs_codes = Vec::with_capacity(outputs.len());
    for output in outputs {
        hs_codes.push(reclassified(input.hs_code, output.hs_code)?);
    }

    let origins = split_origins(&input.origins, &masses);
    let values = apportion(input.value_cents, &masses);
    // Every output has at least one stone; the rest follow the mass.
    let extra_stones = apportion(u64::from(input.stones) - outputs.len() as u64, &masses);
    ctx.touch(input.id);
    for (index, mass) in masses.iter().enumerate() {
        let part = Parcel {
            id: parcel_id(&ctx.id, index as u32),
            origins: origins[index].clone(),
            zones: input.zones.clone(),
            mine: input.mine.clone(),
            milli_carats: *mass,
            stones: 1 + extra_stones[index] as u32,
            value_cents: values[index],
            hs_code: hs_codes[index],
            holder,
            status: ParcelStatus::Live,
            flag: None,
            parents: vec![input.id],
            created_by: ctx.id,
            created_height: ctx.block.height,
            history: History::default(),
        };
        create_parcel(state, ctx, part)?;
    }
    input.status = ParcelStatus::Consumed { by: ctx.id };
    state.put_parcel(input);
    Ok(())
}

/// A sorter may classify parts of an unsorted parcel as industrial or
/// non-industrial; a sorted parcel's parts keep its code.
fn reclassified(held: HsCode, requested: Option<HsCode>) -> Result<HsCode, Rejection> {
    match requested {
        None => Ok(held),
        Some(code) if !code.is_rough() => Err(Rejection::HsCodeNotRough(code)),
        Some(code) if code == held || held == HsCode::UNSORTED => Ok(code),
        Some(code) => Err(Rejection::HsReclassification {
            held,
            requested: code,
        }),
    }
}

/// Shares each origin's carats among the outputs in proportion to their
/// mass, exactly: every output's shares add up to its mass and every
/// origin's shares add up to what the input held of it.
pub(super) fn split_origins(origins: &[OriginShare], masses: &[u64]) -> Vec<Vec<OriginShare>> {
    let mut remaining: Vec<u64> = origins.iter().map(|o| o.milli_carats).collect();
    let mut result = Vec::with_capacity(masses.len());
    for mass in masses {
        // Proportional to what is left, so no share can exceed what is left.
        let shares = apportion(*mass, &remaining);
        let mut output = Vec::new();
        for (i, share) in shares.iter().enumerate() {
            assert!(
                *share <= remaining[i],
                "an origin cannot give more than it has left"
            );
            remaining[i] -= share;
            if *share > 0 {
                output.push(OriginShare {
                    participant: origins[i].participant,
                    milli_carats: *share,
                });
            }
        }
        result.push(output);
    }
    assert!(
        remaining.iter().all(|r| *r == 0),
        "every origin's carats are shared out"
    );
    result
}

pub(super) fn merge<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    ids: &[ParcelId],
) -> Result<(), ApplyError> {
    let holder = ctx.member()?.key;
    if ids.len() < 2 {
        return Err(Rejection::TooFewParts.into());
    }
    if ids.len() > PARCELS_PER_TX_MAX {
        return Err(Rejection::TooManyParcels {
            max: PARCELS_PER_TX_MAX,
        }
        .into());
    }
    let mut inputs: Vec<Parcel> = Vec::with_capacity(ids.len());
    for id in ids {
        if inputs.iter().any(|p| p.id == *id) {
            return Err(Rejection::DuplicateParcel(*id).into());
        }
        let parcel = movable_parcel(state, id, &holder)?;
        if let Some(first) = inputs.first() {
            if parcel.hs_code != first.hs_code {
                return Err(Rejection::HsCodeMismatch(first.hs_code, parcel.hs_code).into());
            }
        }
        inputs.push(parcel);
    }

    let together = totals(&inputs)?;
    let stones = u32::try_from(together.stones).map_err(|_| Rejection::TooLarge {
        what: "stones",
        max: u64::from(u32::MAX),
    })?;
    // The mine is named only when every input came from it.
    let first_mine = &inputs[0].mine;
    let mine = inputs
        .iter()
        .all(|p| &p.mine == first_mine)
        .then(|| first_mine.clone())
        .flatten();
    let merged = Parcel {
        id: parcel_id(&ctx.id, 0),
        origins: together.origins,
        zones: inputs
            .iter()
            .flat_map(|p| p.zones.iter().cloned())
            .collect::<BTreeSet<String>>()
            .into_iter()
            .collect(),
        mine,
        milli_carats: together.milli_carats,
        stones,
        value_cents: together.value_cents,
        hs_code: inputs[0].hs_code,
        holder,
        status: ParcelStatus::Live,
        flag: None,
        parents: ids.to_vec(),
        created_by: ctx.id,
        created_height: ctx.block.height,
        history: History::default(),
    };
    for mut input in inputs {
        ctx.touch(input.id);
        input.status = ParcelStatus::Consumed { by: ctx.id };
        state.put_parcel(input);
    }
    Ok(create_parcel(state, ctx, merged)?)
}
