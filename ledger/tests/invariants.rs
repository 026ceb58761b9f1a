//! Random sequences of valid and invalid transactions, packed into blocks,
//! keep the ledger's invariants:
//! - every live parcel has exactly one holder, an enrolled member, and an
//!   open offer and its parcel point at each other;
//! - the carats of live, offered, in-transit and frozen parcels equal the
//!   carats registered at the mines;
//! - nothing is consumed twice, and a consumed parcel never comes back;
//! - a change to the Participant set applies only with the approvals of
//!   more than two thirds of the active Participants, each once;
//! - no parcel is registered, exported or received by a Participant that
//!   was suspended throughout the block;
//! - applying the same blocks from scratch gives the same state and hash.

// A test: a failed step should stop it loudly (the workspace bans
// unwrap and panic in code that runs in a node or `kp`).
#![allow(clippy::panic, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};

use kp_crypto::{Hash32, PublicKey};
use kp_ledger::block::{apply_block, Block, NONE_CHECKED};
use kp_ledger::mem_state::MemState;
use kp_ledger::model::{
    HsCode, ParcelId, ParcelStatus, Participant, ParticipantChange, ParticipantCode, ProposalId,
    ProposalStatus, Role, TransferId, TransferStatus, TxId,
};
use kp_ledger::rules::validator_set;
use kp_ledger::state::StateRead;
use kp_ledger::testkit::{code, test_chain, World, START_TIME};
use kp_ledger::tx::{Body, DecodedTx, SplitOutput};
use kp_ledger::units::{day_of, SECONDS_PER_DAY};
use proptest::prelude::*;

/// What a step tries to do. Indexes pick among the actors, parcels,
/// transfers and certificates known so far (modulo their number), so many
/// steps are wrong on purpose: the wrong holder, a consumed parcel, a replay.
#[derive(Debug, Clone)]
enum Step {
    Register {
        actor: usize,
        milli_carats: u64,
    },
    Offer {
        actor: usize,
        parcel: usize,
        to: usize,
    },
    Accept {
        actor: usize,
        transfer: usize,
    },
    Cancel {
        actor: usize,
        transfer: usize,
    },
    Split {
        actor: usize,
        parcel: usize,
        cut_permille: u64,
    },
    Merge {
        actor: usize,
        a: usize,
        b: usize,
    },
    Issue {
        actor: usize,
        parcel: usize,
        importer: usize,
    },
    Receive {
        certificate: usize,
        short_milli_carats: u64,
    },
    Flag {
        parcel: usize,
        clear: bool,
    },
    Replay {
        earlier: usize,
    },
    Forge {
        actor: usize,
    },
    Revoke {
        actor: usize,
    },
    /// An authority proposes to suspend or reinstate a Participant, or
    /// approves a known proposal.
    Govern {
        authority: usize,
        target: usize,
        action: usize,
    },
    EndBlock {
        days_later: u64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let i = || 0usize..64;
    prop_oneof![
        3 => (i(), 1u64..50_000).prop_map(|(actor, milli_carats)| Step::Register { actor, milli_carats }),
        4 => (i(), i(), i()).prop_map(|(actor, parcel, to)| Step::Offer { actor, parcel, to }),
        4 => (i(), i()).prop_map(|(actor, transfer)| Step::Accept { actor, transfer }),
        1 => (i(), i()).prop_map(|(actor, transfer)| Step::Cancel { actor, transfer }),
        3 => (i(), i(), 0u64..1_100).prop_map(|(actor, parcel, cut_permille)| Step::Split { actor, parcel, cut_permille }),
        2 => (i(), i(), i()).prop_map(|(actor, a, b)| Step::Merge { actor, a, b }),
        2 => (i(), i(), i()).prop_map(|(actor, parcel, importer)| Step::Issue { actor, parcel, importer }),
        2 => (i(), prop_oneof![3 => Just(0u64), 1 => 1u64..100]).prop_map(|(certificate, short_milli_carats)| Step::Receive { certificate, short_milli_carats }),
        1 => (i(), any::<bool>()).prop_map(|(parcel, clear)| Step::Flag { parcel, clear }),
        1 => i().prop_map(|earlier| Step::Replay { earlier }),
        1 => i().prop_map(|actor| Step::Forge { actor }),
        1 => i().prop_map(|actor| Step::Revoke { actor }),
        4 => (i(), i(), i()).prop_map(|(authority, target, action)| Step::Govern { authority, target, action }),
        5 => (0u64..20).prop_map(|days_later| Step::EndBlock { days_later }),
    ]
}

struct Sim {
    w: World,
    /// Members in two Participants: (key, Participant code).
    actors: Vec<(PublicKey, &'static str)>,
    parcels: Vec<ParcelId>,
    transfers: Vec<TransferId>,
    certificates: Vec<String>,
    proposals: Vec<ProposalId>,
    included: Vec<DecodedTx>,
    pending: Vec<DecodedTx>,
    blocks: Vec<Block>,
    registered_milli_carats: u64,
    consumed: BTreeMap<ParcelId, TxId>,
}

fn pick<T: Clone>(items: &[T], i: usize) -> Option<T> {
    (!items.is_empty()).then(|| items[i % items.len()].clone())
}

impl Sim {
    fn new() -> Self {
        let mut w = World::new();
        let mut actors = Vec::new();
        for (c, role, n) in [
            ("BW", Role::Miner, 2),
            ("BW", Role::Trader, 2),
            ("BW", Role::Exporter, 2),
            ("BW", Role::Importer, 1),
            ("ZA", Role::Miner, 1),
            ("ZA", Role::Exporter, 1),
            ("ZA", Role::Importer, 1),
        ] {
            for k in 0..n {
                let key = w.enrol(c, &format!("{c} {role} {k}"), role, None);
                actors.push((key, c));
            }
        }
        Sim {
            w,
            actors,
            parcels: Vec::new(),
            transfers: Vec::new(),
            certificates: Vec::new(),
            proposals: Vec::new(),
            included: Vec::new(),
            pending: Vec::new(),
            blocks: Vec::new(),
            registered_milli_carats: 0,
            consumed: BTreeMap::new(),
        }
    }

    /// Signs with the nonce that follows the signer's ledger nonce and its
    /// earlier transactions in this block.
    fn queue(&mut self, signer: PublicKey, body: Body) {
        let earlier = self
            .pending
            .iter()
            .filter(|t| *t.signer() == signer)
            .count() as u64;
        let nonce = self.w.state.nonce(&signer).unwrap_or(0) + 1 + earlier;
        self.pending
            .push(self.w.sign_with_nonce(&signer, nonce, body));
    }

    fn actor(&self, i: usize) -> (PublicKey, &'static str) {
        self.actors[i % self.actors.len()]
    }

    /// Mostly an actor of `participant` with `role` (any role when `None`);
    /// one pick in five is anyone at all, to make wrong cases too.
    fn actor_of(&self, i: usize, participant: &str, role: Option<Role>) -> PublicKey {
        let fitting: Vec<PublicKey> = self
            .actors
            .iter()
            .filter(|(key, c)| {
                *c == participant
                    && role.is_none_or(|r| {
                        self.w
                            .state
                            .member(key)
                            .ok()
                            .flatten()
                            .is_some_and(|m| m.role == r)
                    })
            })
            .map(|(key, _)| *key)
            .collect();
        match pick(&fitting, i / 5) {
            Some(key) if !i.is_multiple_of(5) => key,
            _ => self.actor(i).0,
        }
    }

    fn participant_of(&self, key: &PublicKey) -> &'static str {
        self.actors
            .iter()
            .find(|(k, _)| k == key)
            .map_or("BW", |(_, c)| *c)
    }

    fn run(&mut self, step: Step) {
        match step {
            Step::Register {
                actor,
                milli_carats,
            } => {
                let c = if actor.is_multiple_of(3) { "ZA" } else { "BW" };
                let key = self.actor_of(actor, c, Some(Role::Miner));
                self.queue(key, World::register_body(c, milli_carats));
            }
            Step::Offer { actor, parcel, to } => {
                let Some(parcel) = pick(&self.parcels, parcel) else {
                    return;
                };
                let holder = self.w.parcel(&parcel).holder;
                let signer = if actor.is_multiple_of(4) {
                    self.actor(actor).0
                } else {
                    holder
                };
                let to = self.actor_of(to, self.participant_of(&holder), None);
                self.queue(
                    signer,
                    Body::OfferTransfer {
                        parcel,
                        to,
                        price_cents: Some(1),
                    },
                );
            }
            Step::Accept { actor, transfer } | Step::Cancel { actor, transfer } => {
                let Some(id) = pick(&self.transfers, transfer) else {
                    return;
                };
                let Ok(Some(t)) = self.w.state.transfer(&id) else {
                    return;
                };
                let accept = matches!(step, Step::Accept { .. });
                let right = if accept { t.to } else { t.from };
                let signer = if actor.is_multiple_of(5) {
                    self.actor(actor).0
                } else {
                    right
                };
                let body = if accept {
                    Body::AcceptTransfer { transfer: id }
                } else {
                    Body::CancelTransfer { transfer: id }
                };
                self.queue(signer, body);
            }
            Step::Split {
                actor,
                parcel,
                cut_permille,
            } => {
                let Some(parcel) = pick(&self.parcels, parcel) else {
                    return;
                };
                let p = self.w.parcel(&parcel);
                let first = p.milli_carats * cut_permille / 1_000;
                // A cut past 100% makes the outputs overshoot: a mass mismatch.
                let second = if cut_permille > 1_000 {
                    p.milli_carats
                } else {
                    p.milli_carats - first
                };
                let signer = if actor.is_multiple_of(6) {
                    self.actor(actor).0
                } else {
                    p.holder
                };
                let outputs = vec![
                    SplitOutput {
                        milli_carats: first,
                        hs_code: None,
                    },
                    SplitOutput {
                        milli_carats: second,
                        hs_code: None,
                    },
                ];
                self.queue(signer, Body::SplitParcel { parcel, outputs });
            }
            Step::Merge { actor, a, b } => {
                let (Some(a), Some(b)) = (pick(&self.parcels, a), pick(&self.parcels, b)) else {
                    return;
                };
                let holder = self.w.parcel(&a).holder;
                let signer = if actor.is_multiple_of(6) {
                    self.actor(actor).0
                } else {
                    holder
                };
                self.queue(
                    signer,
                    Body::MergeParcels {
                        parcels: vec![a, b],
                    },
                );
            }
            Step::Issue {
                actor,
                parcel,
                importer,
            } => {
                let Some(parcel) = pick(&self.parcels, parcel) else {
                    return;
                };
                let p = self.w.parcel(&parcel);
                let Ok(Some(holder)) = self.w.state.member(&p.holder) else {
                    return;
                };
                let issuer = holder.participant.to_string();
                let destination = if issuer == "BW" { "ZA" } else { "BW" };
                let importer = self.actor_of(importer, destination, Some(Role::Importer));
                let number = format!(
                    "{issuer}-{}-{actor}",
                    self.certificates.len() + self.pending.len()
                );
                let authority = self.w.authority(&issuer);
                self.certificates.push(number.clone());
                self.queue(
                    authority,
                    Body::IssueCertificate {
                        number,
                        exporter: p.holder,
                        importer,
                        destination: code(destination),
                        parcels: vec![parcel],
                        hs_codes: vec![HsCode::UNSORTED],
                        expires_on: day_of(self.w.time) + 15,
                        value_cents: None,
                    },
                );
            }
            Step::Receive {
                certificate,
                short_milli_carats,
            } => {
                let Some(number) = pick(&self.certificates, certificate) else {
                    return;
                };
                let Ok(Some(cert)) = self.w.state.certificate(&number) else {
                    return;
                };
                let authority = self.w.authority(cert.destination.as_str());
                self.queue(
                    authority,
                    Body::ReceiveCertificate {
                        number,
                        milli_carats: cert.milli_carats.saturating_sub(short_milli_carats),
                        parcel_count: cert.parcels.len() as u32,
                    },
                );
            }
            Step::Flag { parcel, clear } => {
                let Some(parcel) = pick(&self.parcels, parcel) else {
                    return;
                };
                let body = if clear {
                    Body::ClearFlag { parcel }
                } else {
                    Body::FlagParcel {
                        parcel,
                        reason: "review".into(),
                    }
                };
                let authority = self.w.authority("BW");
                self.queue(authority, body);
            }
            Step::Replay { earlier } => {
                if let Some(tx) = pick(&self.included, earlier) {
                    self.pending.push(tx);
                }
            }
            Step::Forge { actor } => {
                let (key, c) = self.actor(actor);
                self.queue(key, World::register_body(c, 1_000));
                if let Some(last) = self.pending.last_mut() {
                    last.tx.signature.0[10] ^= 0x40;
                }
            }
            Step::Revoke { actor } => {
                // Rarely, and never the first actors, so trade goes on.
                let i = actor % self.actors.len();
                if i >= 4 && actor.is_multiple_of(8) {
                    let (key, c) = self.actors[i];
                    let authority = self.w.authority(c);
                    self.queue(authority, Body::RevokeMember { member: key });
                }
            }
            Step::Govern {
                authority,
                target,
                action,
            } => {
                // Mostly the active Participants' authorities; now and then
                // a restricted (CF) or suspended (VE) one, to be refused.
                let voters = ["BW", "EU", "ZA", "IN", "BW", "EU", "ZA", "IN", "CF", "VE"];
                let voter = voters[authority % voters.len()];
                let code = code(["ZA", "IN"][target % 2]);
                // Approvals go mostly to the latest proposal, so that some
                // gather enough to apply.
                let recent = self.proposals.iter().rev().nth(target % 2).copied();
                let body = match (action % 5, recent) {
                    (0, _) => Body::ProposeParticipantChange {
                        change: ParticipantChange::Suspend {
                            code,
                            zones: vec![],
                        },
                    },
                    (1, _) => Body::ProposeParticipantChange {
                        change: ParticipantChange::Reinstate { code },
                    },
                    (_, Some(proposal)) => Body::ApproveParticipantChange { proposal },
                    (_, None) => return,
                };
                let authority = self.w.authority(voter);
                self.queue(authority, body);
            }
            Step::EndBlock { days_later } => self.end_block(days_later),
        }
    }

    fn end_block(&mut self, days_later: u64) {
        let txs = std::mem::take(&mut self.pending);
        let before = self.w.state.records.participants.clone();
        let (applied, _rejected) = self.w.commit_block(txs.clone());
        // A Participant whose standing this block did not change had the
        // standing it had before it all through the block.
        let suspended_throughout = |code: &ParticipantCode| {
            !applied.delta.participants.contains_key(code)
                && before
                    .get(code)
                    .is_some_and(|p: &Participant| !p.status.in_good_standing())
        };
        let by_id: BTreeMap<TxId, &DecodedTx> = txs.iter().map(|t| (t.id, t)).collect();
        for applied_tx in &applied.txs {
            let tx = by_id[&applied_tx.id];
            match tx.body() {
                Body::RegisterParcel {
                    milli_carats,
                    origin,
                    ..
                } => {
                    assert!(
                        !suspended_throughout(origin),
                        "registered in suspended {origin}"
                    );
                    self.registered_milli_carats += milli_carats;
                    self.parcels.extend(&applied_tx.created);
                }
                Body::IssueCertificate {
                    destination,
                    number,
                    ..
                } => {
                    let issuer = self.w.state.certificate(number).unwrap().unwrap().issuer;
                    assert!(
                        !suspended_throughout(&issuer),
                        "{issuer} suspended, exported"
                    );
                    assert!(
                        !suspended_throughout(destination),
                        "{destination} suspended, imported"
                    );
                }
                Body::ReceiveCertificate { number, .. } => {
                    let destination = self
                        .w
                        .state
                        .certificate(number)
                        .unwrap()
                        .unwrap()
                        .destination;
                    assert!(
                        !suspended_throughout(&destination),
                        "{destination} suspended, received"
                    );
                }
                Body::ProposeParticipantChange { .. } => self.proposals.extend(&applied_tx.created),
                Body::SplitParcel { .. } | Body::MergeParcels { .. } => {
                    self.parcels.extend(&applied_tx.created)
                }
                Body::OfferTransfer { .. } => self.transfers.extend(&applied_tx.created),
                _ => {}
            }
            self.included.push(tx.clone());
        }
        self.blocks.push(applied.block);
        self.w.time += days_later * SECONDS_PER_DAY + 1;
        self.check_invariants();
    }

    fn check_invariants(&mut self) {
        let records = &self.w.state.records;
        let mut held = 0u64;
        for p in records.parcels.values() {
            assert_eq!(
                p.origins.iter().map(|o| o.milli_carats).sum::<u64>(),
                p.milli_carats
            );
            match &p.status {
                ParcelStatus::Consumed { by } => {
                    if let Some(first) = self.consumed.insert(p.id, *by) {
                        assert_eq!(first, *by, "parcel {} consumed twice", p.id);
                    }
                    continue;
                }
                ParcelStatus::Offered { transfer } => {
                    let t = &records.transfers[transfer];
                    assert_eq!((t.parcel, &t.status), (p.id, &TransferStatus::Open));
                }
                _ => {}
            }
            assert!(
                !self.consumed.contains_key(&p.id),
                "a consumed parcel came back"
            );
            assert!(
                records.members.contains_key(&p.holder),
                "holder is an enrolled member"
            );
            held += p.milli_carats;
        }
        assert_eq!(
            held, self.registered_milli_carats,
            "carats held equal carats registered"
        );
        for t in records
            .transfers
            .values()
            .filter(|t| t.status == TransferStatus::Open)
        {
            assert_eq!(
                records.parcels[&t.parcel].status,
                ParcelStatus::Offered { transfer: t.id }
            );
        }
        for p in records.proposals.values() {
            let distinct: BTreeSet<_> = p.approvals.iter().collect();
            assert_eq!(distinct.len(), p.approvals.len(), "each approves once");
            assert_eq!(p.approvals.first(), Some(&p.proposer));
            if let ProposalStatus::Executed {
                approvals, active, ..
            } = p.status
            {
                assert!(3 * approvals > 2 * active, "applied without two thirds");
            }
        }
        for (code, _) in validator_set(&self.w.state).unwrap() {
            assert!(records.participants[&code].status.is_active());
        }
    }
}

fn replay(blocks: &[Block]) -> (MemState, Hash32) {
    let fresh = World::new();
    let mut state = MemState::default();
    state.apply(fresh.genesis.initial_delta());
    let mut tip = fresh.genesis.tip();
    // The members the simulation enrolled before its first block.
    let mut sim_setup = Sim::new();
    state = std::mem::take(&mut sim_setup.w.state);
    tip.height = sim_setup.w.tip.height;
    for block in blocks {
        let applied = match apply_block(&state, &tip, &test_chain(), block.clone(), NONE_CHECKED) {
            Ok(a) => a,
            Err(e) => panic!("a committed block must replay: {e}"),
        };
        state.apply(applied.delta.clone());
        tip = applied.tip();
    }
    (state, tip.state_hash)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_transactions_keep_the_invariants(steps in prop::collection::vec(step(), 1..160)) {
        let mut sim = Sim::new();
        sim.w.time = START_TIME;
        for s in steps {
            sim.run(s);
        }
        sim.end_block(0);
        let (replayed, hash) = replay(&sim.blocks);
        prop_assert_eq!(hash, sim.w.tip.state_hash);
        prop_assert_eq!(&replayed.records, &sim.w.state.records);
        let distinct: BTreeSet<TxId> = sim.included.iter().map(|t| t.id).collect();
        prop_assert_eq!(distinct.len(), sim.included.len(), "no transaction is applied twice");
    }
}
