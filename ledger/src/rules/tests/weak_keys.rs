//! Keys anyone can sign for never enter the ledger. Under ZIP-215 a key of
//! small order (the identity, say) verifies the signature "R = identity,
//! s = 0" on every message; had an authority enrolled one, anyone could
//! have moved that member's parcels.

use kp_crypto::Signature;

use super::*;
use crate::block::{check_signatures, NONE_CHECKED};
use crate::model::{Member, ParticipantChange};
use crate::state::StateDelta;
use crate::testkit::{key_named, test_chain};
use crate::tx::{DecodedTx, TxPayload};

/// The identity point: a key of order 1.
fn identity_key() -> PublicKey {
    let mut bytes = [0u8; 32];
    bytes[0] = 1;
    PublicKey(bytes)
}

/// Keys that must never enter: the identity, a point of order 8, the
/// identity with its sign bit set (a non-canonical encoding ZIP-215
/// decodes), and bytes that are no point at all.
fn weak_keys() -> Vec<PublicKey> {
    let order_8: PublicKey = "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"
        .parse()
        .expect("hex");
    let mut signed_identity = identity_key();
    signed_identity.0[31] = 0x80;
    let mut off_curve = [0u8; 32];
    off_curve[0] = 2;
    vec![
        identity_key(),
        order_8,
        signed_identity,
        PublicKey(off_curve),
    ]
}

/// `body` "signed" by `key` with no private key: R = identity, s = 0.
fn forged(key: PublicKey, nonce: u64, body: Body) -> DecodedTx {
    let mut signature = [0u8; 64];
    signature[0] = 1;
    let tx = crate::tx::Transaction {
        payload: TxPayload {
            signer: key,
            nonce,
            genesis: test_chain().genesis,
            body,
        },
        signature: Signature(signature),
    };
    DecodedTx::decode(tx.to_bytes()).expect("decodes")
}

fn enrolment(member: PublicKey) -> Body {
    Body::EnrolMember {
        member,
        role: Role::Trader,
        name: "Nobody's Trading".into(),
        licence: "BW-DL-0000".into(),
        zone: None,
    }
}

#[test]
fn a_key_of_small_order_or_off_the_curve_is_never_enrolled() {
    let mut c = chain();
    let bw = c.w.authority("BW");
    for key in weak_keys() {
        assert_eq!(
            rejected(c.w.apply(&bw, enrolment(key))),
            "weak_key",
            "{key}"
        );
        assert_eq!(c.w.state.member(&key).unwrap(), None);
    }
    let honest = c.w.key("honest trader");
    c.w.ok(&bw, enrolment(honest));
}

fn identity_member() -> Member {
    Member {
        key: identity_key(),
        participant: code("BW"),
        role: Role::Trader,
        name: "Nobody's Trading".into(),
        licence: "BW-DL-0000".into(),
        zone: None,
        revoked: false,
        enrolled_height: 1,
    }
}

#[test]
fn the_forgery_a_weak_key_allows_is_refused_because_the_key_never_got_in() {
    // What a weak key lets anyone do once it is a member: here written
    // into the state directly, as no transaction can write it now. The
    // miner offers a parcel to that "member"; anyone accepts it in its name
    // and passes it on.
    let mut exposed = chain();
    let mut delta = StateDelta::default();
    delta.members.insert(identity_key(), identity_member());
    exposed.w.state.apply(delta);
    let parcel = exposed.w.register(&exposed.miner, "BW", 1_000);
    let transfer = exposed.w.offer(&exposed.miner, parcel, &identity_key());
    let onward = Body::OfferTransfer {
        parcel,
        to: exposed.trader,
        price_cents: None,
    };
    let forgeries = vec![
        forged(identity_key(), 1, Body::AcceptTransfer { transfer }),
        forged(identity_key(), 2, onward),
    ];
    // The signatures hold under ZIP-215, without any private key.
    assert_eq!(check_signatures(&forgeries, NONE_CHECKED), [true, true]);
    let (block, refused) = exposed.w.commit_block(forgeries.clone());
    assert!(refused.is_empty(), "{refused:?}");
    assert_eq!(block.txs.len(), 2);

    // Through the rules the key never gets in: the enrolment is refused,
    // no parcel can be offered to it, and the same forgeries come from
    // nobody.
    let mut c = chain();
    let bw = c.w.authority("BW");
    assert_eq!(
        rejected(c.w.apply(&bw, enrolment(identity_key()))),
        "weak_key"
    );
    let parcel = c.w.register(&c.miner, "BW", 1_000);
    let to_weak_key = Body::OfferTransfer {
        parcel,
        to: identity_key(),
        price_cents: None,
    };
    assert_eq!(
        rejected(c.w.apply(&c.miner.clone(), to_weak_key)),
        "recipient_not_domestic"
    );
    let (block, refused) = c.w.commit_block(forgeries);
    assert!(block.txs.is_empty());
    let codes: Vec<&str> = refused.iter().map(|(_, r)| r.code()).collect();
    assert_eq!(codes, ["unknown_signer", "unknown_signer"]);
    assert_eq!(c.w.parcel(&parcel).holder, c.miner);
}

#[test]
fn a_participant_is_not_admitted_with_a_weak_authority_or_validator_key() {
    for key in weak_keys() {
        for as_validator in [false, true] {
            let mut w = World::new();
            let (authority, validator) = if as_validator {
                (key_named("authority AO").public(), Some(key))
            } else {
                (key, Some(key_named("validator AO").public()))
            };
            let change = ParticipantChange::Admit {
                code: code("AO"),
                name: "Angola".into(),
                authority,
                validator,
            };
            let bw = w.authority("BW");
            assert_eq!(
                rejected(w.apply(&bw, Body::ProposeParticipantChange { change })),
                "weak_key",
                "{key} as validator: {as_validator}"
            );
        }
    }
}

#[test]
fn a_proposal_holding_a_weak_key_never_applies() {
    // A proposal recorded before keys were checked: each approval checks
    // the change again, so the key still cannot get in.
    let mut w = World::new();
    let id = kp_crypto::Hash32([9; 32]);
    let mut delta = StateDelta::default();
    delta.proposals.insert(
        id,
        crate::model::Proposal {
            id,
            change: ParticipantChange::Admit {
                code: code("AO"),
                name: "Angola".into(),
                authority: identity_key(),
                validator: None,
            },
            proposer: code("BW"),
            approvals: vec![code("BW"), code("EU")],
            proposed_height: 1,
            status: crate::model::ProposalStatus::Open,
        },
    );
    w.state.apply(delta);
    let za = w.authority("ZA");
    assert_eq!(
        rejected(w.apply(&za, Body::ApproveParticipantChange { proposal: id })),
        "weak_key"
    );
    assert_eq!(w.state.participant(code("AO")).unwrap(), None);
}
