//! Governance of the Participant set: admitting a Participant, suspending
//! one (wholly, or but for listed compliant zones) and reinstating one.
//!
//! An active Participant's authority proposes a change, which counts as its
//! approval; other active Participants' authorities approve it. Every
//! approval counts again the approvals of the Participants active at that
//! moment, and when they are more than two thirds of the active
//! Participants the change applies in that same transaction. Only fully
//! active Participants vote: suspended and restricted (partly suspended)
//! ones do not, and their validators do not count ([`validator_set`]).
//!
//! A change that would change nothing (admitting a code or key already in
//! use, suspending a Participant as it already is, reinstating an active
//! one) is refused when proposed, and again at every approval: a proposal
//! that has become moot gathers no approvals and stays open, unchanged,
//! until the Participant set makes it meaningful again.

use std::collections::BTreeSet;

use kp_crypto::PublicKey;
use serde::{Deserialize, Serialize};

use super::{check_entering_key, check_text, proposal_id, required, ApplyError, TxCtx};
use crate::model::{
    Participant, ParticipantChange, ParticipantCode, ParticipantStatus, Proposal, ProposalId,
    ProposalStatus, ValidatorSet,
};
use crate::rejection::Rejection;
use crate::state::{Overlay, StateRead, StorageFault};

/// Compliant zones one Participant may be restricted to: a few sub-prefectures
/// in practice; a bound keeps the record small.
pub const COMPLIANT_ZONES_MAX: usize = 64;

/// A proposal's support: its approvals counted against the Participants
/// active now. (Not `Tally`: that is a statistics figure, `stats::Tally`.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Support {
    /// Approvals by Participants that are active now.
    pub approvals: u32,
    /// Participants that are active now.
    pub active: u32,
}

impl Support {
    /// More than two thirds of the active Participants approve.
    pub fn passes(&self) -> bool {
        3 * u64::from(self.approvals) > 2 * u64::from(self.active)
    }

    /// The fewest approvals that pass with this many active Participants.
    pub fn needed(&self) -> u32 {
        self.active * 2 / 3 + 1
    }
}

/// Counts the approvals of `proposal` by Participants active in `state`.
pub fn tally<S: StateRead + ?Sized>(
    state: &S,
    proposal: &Proposal,
) -> Result<Support, StorageFault> {
    let active: BTreeSet<ParticipantCode> = state
        .participants()?
        .into_iter()
        .filter(|p| p.status.is_active())
        .map(|p| p.code)
        .collect();
    let approvals = proposal
        .approvals
        .iter()
        .filter(|code| active.contains(code))
        .count();
    // Both are at most the number of Participants, a few dozen.
    Ok(Support {
        approvals: u32::try_from(approvals).unwrap_or(u32::MAX),
        active: u32::try_from(active.len()).unwrap_or(u32::MAX),
    })
}

/// The validators that decide the height after `state`: every active
/// Participant that runs one, each with equal voting power, ordered by key
/// bytes so that every node lists them alike.
pub fn validator_set<S: StateRead + ?Sized>(state: &S) -> Result<ValidatorSet, StorageFault> {
    Ok(validators_among(&state.participants()?))
}

/// The validator set these Participants make (see [`validator_set`]); a
/// genesis file's own Participants make the first.
pub fn validators_among(participants: &[Participant]) -> ValidatorSet {
    let mut set: ValidatorSet = participants
        .iter()
        .filter(|p| p.status.is_active())
        .filter_map(|p| p.validator.map(|key| (p.code, key)))
        .collect();
    set.sort_by_key(|(_, key)| *key);
    set
}

/// Where a proposal stands in a state: its approvals counted against the
/// Participants active there, and, for an open one, why its change cannot
/// apply there, if so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalStanding {
    pub tally: Support,
    /// The refusal an approval would meet now: the proposal has become moot.
    pub blocked: Option<Rejection>,
}

/// Where `proposal` stands in `state`.
pub fn proposal_standing<S: StateRead + ?Sized>(
    state: &S,
    proposal: &Proposal,
) -> Result<ProposalStanding, StorageFault> {
    let blocked = match proposal.status {
        ProposalStatus::Executed { .. } => None,
        ProposalStatus::Open => match check_change(state, &proposal.change) {
            Ok(()) => None,
            Err(ApplyError::Rejected(r)) => Some(r),
            Err(ApplyError::Storage(fault)) => return Err(fault),
        },
    };
    Ok(ProposalStanding {
        tally: tally(state, proposal)?,
        blocked,
    })
}

/// The signer, if it is the authority of an active Participant.
fn voter(ctx: &TxCtx) -> Result<Participant, ApplyError> {
    let authority = ctx.authority()?;
    if !authority.status.is_active() {
        return Err(Rejection::ParticipantNotActive {
            code: authority.code,
            standing: authority.status.to_string(),
        }
        .into());
    }
    Ok(authority.clone())
}

/// The change with its text fields checked and trimmed, and its zones each
/// once: what the proposal records.
fn well_formed(change: &ParticipantChange) -> Result<ParticipantChange, Rejection> {
    match change {
        ParticipantChange::Admit {
            code,
            name,
            authority,
            validator,
        } => {
            if !code.is_well_formed() {
                return Err(Rejection::ParticipantCodeMalformed(code.0));
            }
            check_text("Participant name", name, true)?;
            Ok(ParticipantChange::Admit {
                code: *code,
                name: name.trim().to_owned(),
                authority: *authority,
                validator: *validator,
            })
        }
        ParticipantChange::Suspend { code, zones } => {
            if zones.len() > COMPLIANT_ZONES_MAX {
                return Err(Rejection::TooLarge {
                    what: "the number of compliant zones",
                    max: COMPLIANT_ZONES_MAX as u64,
                });
            }
            let mut kept: Vec<String> = Vec::with_capacity(zones.len());
            for zone in zones {
                check_text("zone", zone, true)?;
                let zone = zone.trim();
                // Zones compare without regard to case (see `check_zones`).
                if !kept.iter().any(|k| k.eq_ignore_ascii_case(zone)) {
                    kept.push(zone.to_owned());
                }
            }
            Ok(ParticipantChange::Suspend {
                code: *code,
                zones: kept,
            })
        }
        ParticipantChange::Reinstate { code } => Ok(ParticipantChange::Reinstate { code: *code }),
    }
}

/// The standing a suspension gives: no zones, suspended; else restricted.
fn suspended_standing(zones: &[String]) -> ParticipantStatus {
    if zones.is_empty() {
        ParticipantStatus::Suspended
    } else {
        ParticipantStatus::Restricted {
            zones: zones.to_vec(),
        }
    }
}

/// Whether `status` already is what a suspension with `zones` makes it.
/// Zones compare as sets, without regard to ASCII case, as `check_zones`
/// compares them.
fn has_standing(status: &ParticipantStatus, zones: &[String]) -> bool {
    let folded = |zones: &[String]| -> BTreeSet<String> {
        zones
            .iter()
            .map(|z| z.trim().to_ascii_lowercase())
            .collect()
    };
    match status {
        ParticipantStatus::Active => false,
        ParticipantStatus::Suspended => zones.is_empty(),
        ParticipantStatus::Restricted { zones: current } => {
            !zones.is_empty() && folded(current) == folded(zones)
        }
    }
}

/// Refuses a change that would change nothing in `state`, that would
/// leave no validator to make blocks, or that would admit a key anyone
/// can sign for. Checked when proposed and again right before the change
/// applies, so no key enters but through this check.
fn check_change<S: StateRead + ?Sized>(
    state: &S,
    change: &ParticipantChange,
) -> Result<(), ApplyError> {
    match change {
        ParticipantChange::Admit {
            code,
            authority,
            validator,
            ..
        } => {
            if state.participant(*code)?.is_some() {
                return Err(Rejection::ParticipantExists(*code).into());
            }
            if Some(*authority) == *validator {
                return Err(Rejection::KeyInUse(*authority).into());
            }
            // A key is one party: one Participant's authority or validator,
            // or one member, never two of these.
            let keys: Vec<PublicKey> = std::iter::once(*authority).chain(*validator).collect();
            let participants = state.participants()?;
            for key in keys {
                check_entering_key(&key)?;
                let taken_by_participant = participants
                    .iter()
                    .any(|p| p.authority == key || p.validator == Some(key));
                if taken_by_participant || state.member(&key)?.is_some() {
                    return Err(Rejection::KeyInUse(key).into());
                }
            }
            Ok(())
        }
        ParticipantChange::Suspend { code, zones } => {
            let participant = required(state.participant(*code), || {
                Rejection::UnknownParticipant(*code)
            })?;
            if has_standing(&participant.status, zones) {
                return Err(Rejection::ChangeMoot {
                    code: *code,
                    standing: participant.status.to_string(),
                }
                .into());
            }
            let validators = validator_set(state)?;
            if validators.iter().all(|(holder, _)| holder == code) {
                return Err(Rejection::NoValidatorsLeft.into());
            }
            Ok(())
        }
        ParticipantChange::Reinstate { code } => {
            let participant = required(state.participant(*code), || {
                Rejection::UnknownParticipant(*code)
            })?;
            if participant.status.is_active() {
                return Err(Rejection::ChangeMoot {
                    code: *code,
                    standing: participant.status.to_string(),
                }
                .into());
            }
            Ok(())
        }
    }
}

/// Writes the change: the new Participant, or the new standing.
fn execute<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    change: &ParticipantChange,
) -> Result<(), ApplyError> {
    let participant = match change {
        ParticipantChange::Admit {
            code,
            name,
            authority,
            validator,
        } => Participant {
            code: *code,
            name: name.clone(),
            authority: *authority,
            validator: *validator,
            status: ParticipantStatus::Active,
        },
        ParticipantChange::Suspend { code, zones } => {
            let mut p = required(state.participant(*code), || {
                Rejection::UnknownParticipant(*code)
            })?;
            p.status = suspended_standing(zones);
            p
        }
        ParticipantChange::Reinstate { code } => {
            let mut p = required(state.participant(*code), || {
                Rejection::UnknownParticipant(*code)
            })?;
            p.status = ParticipantStatus::Active;
            p
        }
    };
    state.put_participant(participant);
    Ok(())
}

/// Counts the approvals now; when they pass, applies the change and marks
/// the proposal executed. Writes the proposal either way.
fn count_and_decide<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &TxCtx,
    mut proposal: Proposal,
) -> Result<(), ApplyError> {
    let now = tally(state, &proposal)?;
    if now.passes() {
        execute(state, &proposal.change)?;
        proposal.status = ProposalStatus::Executed {
            height: ctx.block.height,
            approvals: now.approvals,
            active: now.active,
        };
    }
    state.put_proposal(proposal);
    Ok(())
}

pub(super) fn propose<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    change: &ParticipantChange,
) -> Result<(), ApplyError> {
    let proposer = voter(ctx)?;
    let change = well_formed(change)?;
    check_change(state, &change)?;
    let id = proposal_id(&ctx.id);
    ctx.create(id);
    let proposal = Proposal {
        id,
        change,
        proposer: proposer.code,
        approvals: vec![proposer.code],
        proposed_height: ctx.block.height,
        status: ProposalStatus::Open,
    };
    count_and_decide(state, ctx, proposal)
}

pub(super) fn approve<S: StateRead + ?Sized>(
    state: &mut Overlay<S>,
    ctx: &mut TxCtx,
    id: &ProposalId,
) -> Result<(), ApplyError> {
    let approver = voter(ctx)?;
    let mut proposal = required(state.proposal(id), || Rejection::UnknownProposal(*id))?;
    if proposal.status != ProposalStatus::Open {
        return Err(Rejection::ProposalExecuted(*id).into());
    }
    let first_time = !proposal.approvals.contains(&approver.code);
    if first_time {
        proposal.approvals.push(approver.code);
    } else if !tally(state, &proposal)?.passes() {
        // A second approval adds nothing. It is let through only to apply a
        // proposal that passes now because Participants that had not
        // approved it were suspended since; else nobody could apply it.
        return Err(Rejection::AlreadyApproved {
            proposal: *id,
            participant: approver.code,
        }
        .into());
    }
    check_change(state, &proposal.change)?;
    count_and_decide(state, ctx, proposal)
}
